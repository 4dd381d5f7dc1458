// The network flags of `service create`/`update` and the `network` command's own parsing:
// Docker's forms, and every bad value reported at once in one line.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import { parseNetworkFlag } from '../../cli/network-flags.js';
import { specFromFlags } from '../../cli/service-spec.js';
import { applyUpdateFlags, networkRefs } from '../../cli/service-update.js';
import { filterNetworks, networkSpecFromFlags, parseNetworkFilters } from '../../cli/network.js';

test('--network NAME or name=NAME,alias=A,alias=B; addresses and driver options refused by name', () => {
  assert.deepEqual(parseNetworkFlag('front'), { ok: true, value: { target: 'front', aliases: [] } });
  assert.deepEqual(parseNetworkFlag('name=back,alias=db,alias=database'), { ok: true, value: { target: 'back', aliases: ['db', 'database'] } });
  assert.deepEqual(parseNetworkFlag('target=back'), { ok: true, value: { target: 'back', aliases: [] } });
  const bad: [string, RegExp][] = [
    ['alias=x', /^bad --network "alias=x": a network name is required \(name=NETWORK\)$/],
    ['name=back,ip=10.0.0.5', /^bad --network "name=back,ip=10\.0\.0\.5": ip is not supported/],
    ['name=back,colour=red', /unknown key "colour" \(want name, alias\)$/],
    ['name=back,db', /"db" is not KEY=VALUE/],
  ];
  for (const [text, re] of bad) {
    const parsed = parseNetworkFlag(text);
    assert.ok(!parsed.ok, text);
    assert.match(parsed.problem, re);
  }
});

test('service create: networks, endpoint mode and exposed ports in the spec; every bad one at once', () => {
  const spec = specFromFlags({ name: 'web', runtime: 'process', image: 'sleep', network: ['front', 'name=back,alias=www'], 'endpoint-mode': 'dnsrr', expose: ['8080', '53/udp'] });
  assert.deepEqual(spec.task?.networks, [{ target: 'front', aliases: [] }, { target: 'back', aliases: ['www'] }]);
  assert.equal(spec.endpoint?.mode, baton.EndpointMode.DNSRR);
  assert.deepEqual(spec.endpoint?.expose, [{ targetPort: 8080, protocol: baton.PortProtocol.TCP }, { targetPort: 53, protocol: baton.PortProtocol.UDP }]);
  assert.throws(
    () => specFromFlags({ name: 'web', runtime: 'process', image: 'sleep', network: ['name=', 'front', 'front'], 'endpoint-mode': 'rr', expose: 'x' }),
    (err: unknown) =>
      err instanceof BatonError &&
      err.message === '4 problems: bad --network "name=": a network name is required (name=NETWORK); bad --endpoint-mode "rr" (want vip or dnsrr); bad --expose "x": must be a port number 1-65535 (got "x"); network front is given twice (a service joins a network once)',
  );
});

test('service update: --network-rm then --network-add by id; the networks named; endpoint mode', () => {
  const current: baton.ServiceSpec.$Properties = {
    annotations: { name: 'web' },
    task: { runtime: 'process', container: { command: ['sleep'] }, networks: [{ target: 'id-front', aliases: [] }, { target: 'id-back', aliases: ['a'] }] },
  };
  const flags = { service: 'web', 'network-rm': ['back', 'front'], 'network-add': ['name=back,alias=b'], 'endpoint-mode': 'dnsrr' };
  assert.deepEqual(networkRefs(flags).sort(), ['back', 'front']);
  const ids = new Map([['front', 'id-front'], ['back', 'id-back']]);
  const next = applyUpdateFlags(current, flags, ids);
  assert.deepEqual(next.task?.networks, [{ target: 'id-back', aliases: ['b'] }]);
  assert.equal(next.endpoint?.mode, baton.EndpointMode.DNSRR);
  assert.deepEqual(current.task?.networks?.length, 2, 'the current spec is left as it was');
  assert.throws(
    () => applyUpdateFlags(current, { service: 'web', 'network-rm': 'nope', 'network-add': ['back', 'gone'] }, ids),
    (err: unknown) => err instanceof BatonError && err.message === '3 problems: network nope not found; service is already attached to network back; network gone not found',
  );
});

test('network create flags: the spec, or every problem in one line; ls filters by part of a name or id', () => {
  assert.deepEqual(networkSpecFromFlags({ name: 'front', label: ['a=1', 'b'], internal: true }), { annotations: { name: 'front', labels: { a: '1', b: '' } }, driver: 'overlay', attachable: false, internal: true });
  assert.throws(
    () => networkSpecFromFlags({ name: 'bridge', driver: 'host', label: '=v' }),
    (err: unknown) =>
      err instanceof BatonError &&
      err.message === '3 problems: bad --label "=v" (want KEY=VALUE); bridge is a pre-defined network and cannot be created; network driver "host" is not supported: only overlay (a swarm-scoped network, as docker network create -d overlay) can be used by services',
  );
  const f = parseNetworkFilters(['name=ron', 'driver=overlay', 'scope=swarm']);
  const n = (name: string, id: string, labels: Record<string, string> = {}): baton.Network.$Properties => ({ meta: { id }, spec: { annotations: { name, labels }, driver: 'overlay' } });
  const passes = (net: baton.Network.$Properties, filters: ReturnType<typeof parseNetworkFilters>): boolean => filterNetworks([net], filters).length === 1;
  assert.ok(passes(n('front', 'abc'), f));
  assert.ok(!passes(n('back', 'abc'), f));
  assert.ok(passes(n('back', 'x1y2'), parseNetworkFilters(['id=1y'])));
  assert.ok(!passes(n('front', 'abc'), parseNetworkFilters(['scope=local'])));
  assert.ok(passes(n('front', 'abc', { team: 'a', tier: '' }), parseNetworkFilters(['label=team=a', 'label=tier'])));
  assert.ok(!passes(n('front', 'abc', { team: 'a' }), parseNetworkFilters(['label=team=a', 'label=tier'])), 'every label given must match, as Docker');
  // Docker's wording (moby's filters: invalidFilter, and a word without '=').
  assert.throws(() => parseNetworkFilters(['colour=red', 'x']), (err: unknown) => err instanceof BatonError && err.message === "invalid filter 'colour'; bad format of filter (expected name=value)");
});
