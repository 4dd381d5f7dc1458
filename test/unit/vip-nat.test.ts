// The VIPs' kernel path (worker/network/vip-nat.ts) without touching the kernel: the rules it
// renders, the commands it runs (a recording runner), once-only fallback when iptables is
// refused, and removal. The same rules on a real kernel: test/e2e/vip-nat-docker.test.ts.
import test from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { VipNat, localnetBridges, renderVipRules, vipChains, vipComment, vipNatWanted, type CommandResult, type VipNatRule } from '../../worker/network/vip-nat.js';

const RULE: VipNatRule = { bridge: 'bt0123456789', subnet: '10.213.4.0/22', gateway: '10.213.4.1', vip: '10.213.5.0', port: 8080, targets: ['10.213.4.2:8080', '10.213.4.3:8080', '10.213.4.4:8080'] };

interface Call {
  cmd: string;
  args: string[];
  input: string | undefined;
}

/** A runner that records every command and answers with `answer` (success by default). */
function recorder(answer: (c: Call) => CommandResult = () => ({ code: 0, stdout: '', stderr: '' })): { calls: Call[]; run: (cmd: string, args: string[], input?: string) => Promise<CommandResult> } {
  const calls: Call[] = [];
  return {
    calls,
    run: (cmd, args, input) => {
      const c = { cmd, args, input };
      calls.push(c);
      return Promise.resolve(answer(c));
    },
  };
}

/** A logger whose warnings are kept. */
function warnings(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(s) });
  return { logger, lines };
}

test('rules: one DNAT per task with shares 1/n, 1/(n-1), …, the last unconditional; one SNAT to the gateway; per node chains and comment', () => {
  const chains = vipChains('c1', 'n1');
  assert.match(chains.dnat, /^BATON-VIP-[0-9a-f]{10}$/);
  assert.ok(chains.snat.length <= 28 && chains.dnat.length <= 28, 'iptables chain names are at most 28 characters');
  assert.notEqual(vipChains('c1', 'n2').dnat, chains.dnat, 'each node has its own chains');
  assert.notEqual(vipChains('c2', 'n1').dnat, chains.dnat, 'and each cluster');
  const comment = vipComment('c1', 'n1');
  const text = renderVipRules(chains, comment, [RULE]);
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 3), ['*nat', `:${chains.dnat} - [0:0]`, `:${chains.snat} - [0:0]`], 'declaring the chains empties them (restore --noflush touches nothing else)');
  const returns = lines.filter((l) => l.includes('-j RETURN'));
  assert.deepEqual(
    returns,
    RULE.targets.map((t) => `-A ${chains.dnat} -s ${t.split(':')[0]}/32 -d 10.213.5.0/32 -i bt0123456789 -p tcp -m tcp --dport 8080 -m comment --comment "${comment}" -j RETURN`),
    "a task calling its own service's VIP is left to the mesh (no hairpin back out of its bridge port)",
  );
  assert.ok(lines.indexOf(returns.at(-1)!) < lines.findIndex((l) => l.includes('-j DNAT')), 'before any DNAT');
  const dnat = lines.filter((l) => l.includes('-j DNAT'));
  assert.equal(dnat.length, 3);
  assert.match(dnat[0]!, /--probability 0\.33333333333 /);
  assert.match(dnat[1]!, /--probability 0\.50000000000 /);
  assert.doesNotMatch(dnat[2]!, /statistic/);
  dnat.forEach((l, i) => {
    assert.ok(l.startsWith(`-A ${chains.dnat} -s 10.213.4.0/22 -d 10.213.5.0/32 -i bt0123456789 -p tcp -m tcp --dport 8080`), l);
    assert.ok(l.endsWith(`--comment "${comment}" -j DNAT --to-destination ${RULE.targets[i]}`), l);
  });
  const snat = lines.filter((l) => l.includes('-j SNAT'));
  assert.deepEqual(snat, [`-A ${chains.snat} -o bt0123456789 -p tcp -m conntrack --ctstate DNAT --ctorigdst 10.213.5.0 --ctorigdstport 8080 -m comment --comment "${comment}" -j SNAT --to-source 10.213.4.1`]);
  assert.equal(lines.at(-2), 'COMMIT');
  assert.equal(renderVipRules(chains, comment, []).split('\n').filter((l) => l.startsWith('-A')).length, 0, 'no rule: empty chains');
  assert.equal(vipComment('c 1', 'n"1'), 'baton cluster c_1 node n_1', 'nothing that would break the quoting');
});

test('apply: restore then jumps first in PREROUTING / POSTROUTING once; the same rules again run nothing; new ones: the counters read, then a restore; close removes jumps and chains', async () => {
  const r = recorder((c) => ({ code: c.args.includes('-C') ? 1 : 0, stdout: '', stderr: '' }));
  const nat = new VipNat({ clusterId: 'c1', nodeId: 'n1', logger: pino({ enabled: false }), run: r.run });
  const chains = vipChains('c1', 'n1');
  assert.equal(await nat.apply([RULE]), true);
  assert.deepEqual(
    r.calls.map((c) => [c.cmd, ...c.args].join(' ')),
    [
      'iptables-restore -w --noflush',
      `iptables -w -t nat -C PREROUTING -m comment --comment baton cluster c1 node n1 -j ${chains.dnat}`,
      `iptables -w -t nat -I PREROUTING 1 -m comment --comment baton cluster c1 node n1 -j ${chains.dnat}`,
      `iptables -w -t nat -C POSTROUTING -m comment --comment baton cluster c1 node n1 -j ${chains.snat}`,
      `iptables -w -t nat -I POSTROUTING 1 -m comment --comment baton cluster c1 node n1 -j ${chains.snat}`,
      `iptables -w -t filter -C INPUT -m comment --comment baton cluster c1 node n1 -j ${chains.guard}`,
      `iptables -w -t filter -I INPUT 1 -m comment --comment baton cluster c1 node n1 -j ${chains.guard}`,
    ],
  );
  assert.equal(r.calls[0]!.input, renderVipRules(chains, vipComment('c1', 'n1'), [RULE]));
  r.calls.length = 0;
  assert.equal(await nat.apply([RULE]), true);
  assert.equal(r.calls.length, 0, 'unchanged: nothing run');
  const scaledDown = { ...RULE, targets: ['10.213.4.3:8080'] };
  assert.equal(await nat.apply([scaledDown]), true);
  assert.deepEqual(r.calls.map((c) => c.cmd), ['iptables-save', 'iptables-restore']);
  assert.match(r.calls[1]!.input!, /--to-destination 10\.213\.4\.3:8080\n/);
  assert.doesNotMatch(r.calls[1]!.input!, /10\.213\.4\.2:8080/, 'a task gone is no longer a target');
  r.calls.length = 0;
  await nat.close();
  const run = r.calls.map((c) => c.args.join(' '));
  assert.ok(run.includes(`-w -t nat -D PREROUTING -m comment --comment baton cluster c1 node n1 -j ${chains.dnat}`), run.join('\n'));
  assert.ok(run.includes(`-w -t nat -D POSTROUTING -m comment --comment baton cluster c1 node n1 -j ${chains.snat}`));
  assert.ok(run.includes(`-w -t filter -D INPUT -m comment --comment baton cluster c1 node n1 -j ${chains.guard}`));
  for (const [table, chain] of [['nat', chains.dnat], ['nat', chains.snat], ['filter', chains.guard]]) {
    assert.ok(run.includes(`-w -t ${table} -F ${chain}`));
    assert.ok(run.includes(`-w -t ${table} -X ${chain}`));
  }
  r.calls.length = 0;
  assert.equal(await nat.apply([RULE]), false, 'closed: nothing installed again');
  assert.equal(r.calls.length, 0);
});

test('unavailable (iptables refused): said once in the log, never tried again, nothing to remove on close', async () => {
  const r = recorder(() => ({ code: 4, stdout: '', stderr: 'iptables-restore v1.8.9 (nf_tables): Permission denied (you must be root)' }));
  const w = warnings();
  const nat = new VipNat({ clusterId: 'c1', nodeId: 'n1', logger: w.logger, run: r.run });
  assert.equal(await nat.apply([RULE]), false);
  assert.equal(nat.available, false);
  assert.equal(await nat.apply([{ ...RULE, port: 9090 }]), false);
  await nat.close();
  assert.equal(r.calls.length, 1, 'only the first restore was tried');
  const said = w.lines.filter((l) => l.includes('VIP kernel path unavailable'));
  assert.equal(said.length, 1, w.lines.join(''));
  assert.match(said[0]!, /Permission denied/);
});

test('a failure after the rules worked empties the chains (no rule may name a task gone) and the next change tries again', async () => {
  let fail = false;
  const r = recorder((c) => ({ code: (fail && c.cmd === 'iptables-restore') || c.args.includes('-C') ? 1 : 0, stdout: '', stderr: fail ? 'Another app is currently holding the xtables lock' : '' }));
  const nat = new VipNat({ clusterId: 'c1', nodeId: 'n1', logger: pino({ enabled: false }), run: r.run });
  assert.equal(await nat.apply([RULE]), true);
  fail = true;
  r.calls.length = 0;
  assert.equal(await nat.apply([{ ...RULE, targets: ['10.213.4.4:8080'] }]), false);
  const chains = vipChains('c1', 'n1');
  assert.deepEqual(
    r.calls.map((c) => [c.cmd, ...c.args].join(' ')),
    ['iptables-save -c -t nat', 'iptables-restore -w --noflush', `iptables -w -t nat -F ${chains.dnat}`, `iptables -w -t nat -F ${chains.snat}`],
  );
  assert.equal(nat.available, true, 'still the kernel path');
  fail = false;
  r.calls.length = 0;
  assert.equal(await nat.apply([{ ...RULE, targets: ['10.213.4.4:8080'] }]), true);
  assert.equal(r.calls[1]!.cmd, 'iptables-restore', 'the same rules are written again');
});

test('BATON_VIP_NAT=off turns the kernel path off; anything else keeps it', () => {
  assert.equal(vipNatWanted({ BATON_VIP_NAT: 'off' }), false);
  assert.equal(vipNatWanted({}), true);
  assert.equal(vipNatWanted({ BATON_VIP_NAT: 'on' }), true);
});

test('connections: read from the DNAT rules counters per VIP port, kept across a rewrite (which zeroes them)', async () => {
  const chains = vipChains('c1', 'n1');
  let counters = [
    `[5:300] -A ${chains.dnat} -s 10.213.4.0/22 -d 10.213.5.0/32 -i bt0 -p tcp -m tcp --dport 8080 -m statistic --mode random --probability 0.50000000000 -m comment --comment "x" -j DNAT --to-destination 10.213.4.2:8080`,
    `[7:420] -A ${chains.dnat} -s 10.213.4.0/22 -d 10.213.5.0/32 -i bt0 -p tcp -m tcp --dport 8080 -m comment --comment "x" -j DNAT --to-destination 10.213.4.3:8080`,
    `[3:180] -A ${chains.dnat} -s 10.213.4.2/32 -d 10.213.5.0/32 -i bt0 -p tcp -m tcp --dport 8080 -m comment --comment "x" -j RETURN`,
    `[9:540] -A ${chains.snat} -o bt0 -p tcp -m conntrack --ctstate DNAT --ctorigdst 10.213.5.0 --ctorigdstport 8080 -m comment --comment "x" -j SNAT --to-source 10.213.4.1`,
    `[100:1] -A BATON-VIP-ffffffffff -s 10.213.8.0/22 -d 10.213.5.0/32 -i bt1 -p tcp -m tcp --dport 8080 -m comment --comment "another node" -j DNAT --to-destination 10.213.8.2:8080`,
  ];
  const r = recorder((c) => ({ code: c.args.includes('-C') ? 1 : 0, stdout: c.cmd === 'iptables-save' ? `*nat\n${counters.join('\n')}\nCOMMIT\n` : '', stderr: '' }));
  const nat = new VipNat({ clusterId: 'c1', nodeId: 'n1', logger: pino({ enabled: false }), run: r.run });
  await nat.refresh();
  assert.equal(nat.connections().size, 0, 'nothing read before the rules are installed');
  assert.equal(await nat.apply([RULE]), true);
  await nat.refresh();
  assert.deepEqual([...nat.connections()], [['10.213.5.0:8080', 12]], "this node's DNAT rules only; the RETURN (to the mesh) and SNAT rules and other nodes' chains are not connections");
  // A rewrite: counted so far is kept, the rules start again from zero.
  assert.equal(await nat.apply([{ ...RULE, targets: ['10.213.4.3:8080'] }]), true);
  counters = [`[2:120] -A ${chains.dnat} -s 10.213.4.0/22 -d 10.213.5.0/32 -i bt0 -p tcp -m tcp --dport 8080 -m comment --comment "x" -j DNAT --to-destination 10.213.4.3:8080`];
  await nat.refresh();
  assert.deepEqual([...nat.connections()], [['10.213.5.0:8080', 14]]);
});

// Tasks on other nodes (kube-proxy's remote endpoints): the node's address and the task's host port.
const MIXED: VipNatRule = { ...RULE, targets: ['10.213.4.2:8080'], remote: ['127.0.0.2:32768', '127.0.0.3:32771'] };

test('rules, mixed backends: one DNAT per task, local or remote, shares over all; RETURN for local tasks only; SNAT to the gateway on the bridge, MASQUERADE off it; the loopback guard for the bridge', () => {
  const chains = vipChains('c1', 'n1');
  const comment = vipComment('c1', 'n1');
  const lines = renderVipRules(chains, comment, [MIXED]).split('\n');
  const dnat = lines.filter((l) => l.includes('-j DNAT'));
  assert.deepEqual(
    dnat.map((l) => /--to-destination (\S+)$/.exec(l)?.[1]),
    ['10.213.4.2:8080', '127.0.0.2:32768', '127.0.0.3:32771'],
    'the local task first, then the tasks on other nodes',
  );
  assert.deepEqual(
    dnat.map((l) => /--probability (\S+)/.exec(l)?.[1] ?? 'always'),
    ['0.33333333333', '0.50000000000', 'always'],
    'each of the three tasks gets a third',
  );
  for (const l of dnat) assert.ok(l.startsWith(`-A ${chains.dnat} -s 10.213.4.0/22 -d 10.213.5.0/32 -i bt0123456789 -p tcp -m tcp --dport 8080`), l);
  assert.deepEqual(
    lines.filter((l) => l.includes('-j RETURN')).map((l) => /-s (\S+)/.exec(l)?.[1]),
    ['10.213.4.2/32'],
    'a local task calling its own VIP goes to the mesh; remote tasks have no address on this bridge',
  );
  const orig = '-p tcp -m conntrack --ctstate DNAT --ctorigdst 10.213.5.0 --ctorigdstport 8080';
  assert.deepEqual(lines.filter((l) => l.startsWith(`-A ${chains.snat}`)), [
    `-A ${chains.snat} -o bt0123456789 ${orig} -m comment --comment "${comment}" -j SNAT --to-source 10.213.4.1`,
    `-A ${chains.snat} ! -o bt0123456789 ${orig} -m comment --comment "${comment}" -j MASQUERADE`,
  ]);
  const filter = lines.slice(lines.indexOf('*filter'));
  assert.deepEqual(filter, [
    '*filter',
    `:${chains.guard} - [0:0]`,
    `-A ${chains.guard} -i bt0123456789 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment "${comment}" -j DROP`,
    'COMMIT',
    '',
  ], 'route_localnet is on for that bridge: anything to loopback our DNAT did not make is dropped');
  assert.deepEqual([...localnetBridges([MIXED, RULE])], ['bt0123456789']);

  // Remote tasks only, on nodes with routable addresses (separate machines): no SNAT to the
  // gateway, no RETURN, and no route_localnet nor guard.
  const routable: VipNatRule = { ...RULE, bridge: 'bt1', targets: [], remote: ['10.77.0.2:30001'] };
  const r = renderVipRules(chains, comment, [routable]).split('\n');
  assert.deepEqual(r.filter((l) => l.startsWith('-A ')), [
    `-A ${chains.dnat} -s 10.213.4.0/22 -d 10.213.5.0/32 -i bt1 -p tcp -m tcp --dport 8080 -m comment --comment "${comment}" -j DNAT --to-destination 10.77.0.2:30001`,
    `-A ${chains.snat} ! -o bt1 ${orig} -m comment --comment "${comment}" -j MASQUERADE`,
  ]);
  assert.equal(localnetBridges([routable, RULE]).size, 0);
});

test('route_localnet: set on the bridge before a rule to a loopback node is written, set back after the rules no longer need it, and at close', async () => {
  const r = recorder((c) => ({ code: c.args.includes('-C') ? 1 : 0, stdout: '', stderr: '' }));
  const nat = new VipNat({ clusterId: 'c1', nodeId: 'n1', logger: pino({ enabled: false }), run: r.run });
  const cmds = (): string[] => r.calls.map((c) => [c.cmd, ...c.args].join(' '));
  const on = 'sysctl -q -w net/ipv4/conf/bt0123456789/route_localnet=1';
  const off = 'sysctl -q -w net/ipv4/conf/bt0123456789/route_localnet=0';
  assert.equal(await nat.apply([MIXED]), true);
  assert.equal(cmds()[0], on, 'first: the DNAT to 127.0.0.x would make martians without it');
  assert.equal(cmds()[1], 'iptables-restore -w --noflush');
  assert.match(r.calls[1]!.input!, /--to-destination 127\.0\.0\.2:32768/);
  r.calls.length = 0;
  assert.equal(await nat.apply([{ ...MIXED, targets: ['10.213.4.3:8080'] }]), true);
  assert.ok(!cmds().includes(on), 'already set: not again');
  assert.ok(!cmds().includes(off));
  // The remote tasks are gone (scale-down, node down): the rules first, then the setting back.
  r.calls.length = 0;
  assert.equal(await nat.apply([RULE]), true);
  assert.deepEqual(cmds(), ['iptables-save -c -t nat', 'iptables-restore -w --noflush', off]);
  assert.doesNotMatch(r.calls[1]!.input!, /127\.0\.0\./);
  assert.doesNotMatch(r.calls[1]!.input!, /-j DROP/, 'no guard without route_localnet');
  r.calls.length = 0;
  assert.equal(await nat.apply([MIXED]), true);
  r.calls.length = 0;
  await nat.close();
  assert.equal(cmds().at(-1), off, 'the daemon stops: set back after the chains are gone');
  assert.ok(cmds().indexOf(off) > cmds().findIndex((c) => c.includes(' -X ')));
});

test('route_localnet refused: a port with a task on a loopback node stays with the mesh (all or nothing), said once; the other ports keep their rules', async () => {
  const r = recorder((c) => ({ code: c.cmd === 'sysctl' ? 255 : c.args.includes('-C') ? 1 : 0, stdout: '', stderr: c.cmd === 'sysctl' ? 'sysctl: permission denied on key "net.ipv4.conf.bt0123456789.route_localnet"' : '' }));
  const w = warnings();
  const nat = new VipNat({ clusterId: 'c1', nodeId: 'n1', logger: w.logger, run: r.run });
  const other: VipNatRule = { ...RULE, port: 9090 };
  assert.equal(await nat.apply([MIXED, other]), true);
  const restore = r.calls.find((c) => c.cmd === 'iptables-restore')!.input!;
  assert.doesNotMatch(restore, /--dport 8080/, 'the mixed port is left out entirely, not with its local task only');
  assert.equal(restore.split('\n').filter((l) => / --dport 9090 .*-j DNAT /.test(l)).length, 3, 'the other port: its three local tasks');
  assert.doesNotMatch(restore, /-j DROP/);
  assert.equal(await nat.apply([MIXED, { ...other, targets: ['10.213.4.3:8080'] }]), true);
  const said = w.lines.filter((l) => l.includes('cannot set route_localnet'));
  assert.equal(said.length, 1, w.lines.join(''));
  assert.match(said[0]!, /permission denied/);
  assert.equal(nat.available, true, 'the kernel path itself stays on');
});
