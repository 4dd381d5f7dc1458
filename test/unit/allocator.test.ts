// Published-port allocation against a real store: the automatic range, conflicts between
// services (by protocol and publish mode), validation, updates keeping their ports, and ports
// freed by a service's removal.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { BatonError, type ErrorCode } from '../../rpc/errors.js';
import { createAction, deleteAction } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { PORT_RANGE_END, PORT_RANGE_START, allocatePorts } from '../../manager/allocator/ports.js';

const { TCP, UDP } = baton.PortProtocol;
const { INGRESS, HOST } = baton.PublishMode;

type Port = baton.PortConfig.$Properties;

function spec(name: string, ports: Port[]): baton.ServiceSpec.$Properties {
  return { annotations: { name }, task: { container: { image: 'busybox' } }, replicas: 1, endpoint: { ports } };
}

/** Allocates like the control API, then stores the service with its allocated ports. */
function create(host: LocalHost, id: string, name: string, ports: Port[]): Port[] {
  const s = spec(name, ports);
  const allocated = allocatePorts(host.store, s);
  host.apply([createAction('service', { meta: { id }, spec: s, endpoint: { ports: allocated } })]);
  return allocated;
}

function published(ports: Port[]): number[] {
  return ports.map((p) => p.publishedPort ?? 0);
}

function fails(code: ErrorCode, message: string | RegExp, fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BatonError, String(e));
    assert.equal(e.code, code, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('published port 0 gets the lowest free port of 30000-32767; explicit ports are kept', () => {
  const host = new LocalHost();
  assert.deepEqual(published(create(host, 's1', 'web', [{ targetPort: 80 }, { targetPort: 443, publishedPort: 8443 }])), [30000, 8443]);
  assert.deepEqual(published(create(host, 's2', 'api', [{ targetPort: 80 }, { targetPort: 81 }])), [30001, 30002]);
  // An explicit port in the range is not handed out automatically.
  assert.deepEqual(published(create(host, 's3', 'db', [{ targetPort: 5432 }, { targetPort: 5433, publishedPort: 30003 }])), [30004, 30003]);
  // UDP has its own numbers; HOST mode with 0 is left to the runtime.
  const more = create(host, 's4', 'dns', [{ targetPort: 53, protocol: UDP }, { targetPort: 9100, publishMode: HOST }]);
  assert.deepEqual(more, [
    { protocol: UDP, targetPort: 53, publishedPort: 30000, publishMode: INGRESS },
    { protocol: TCP, targetPort: 9100, publishedPort: 0, publishMode: HOST },
  ]);
  assert.equal(PORT_RANGE_START, 30000);
  assert.equal(PORT_RANGE_END, 32767);
});

test('the same answer for the same store (the leader proposes what it computed)', () => {
  const host = new LocalHost();
  create(host, 's1', 'web', [{ targetPort: 80 }]);
  const s = spec('api', [{ targetPort: 80 }, { targetPort: 8080, publishedPort: 8080 }]);
  assert.deepEqual(allocatePorts(host.store, s), allocatePorts(host.store, s));
});

test('a published port another service uses is refused, naming the service', () => {
  const host = new LocalHost();
  create(host, 's1', 'web', [{ targetPort: 80, publishedPort: 8080 }, { targetPort: 9000, publishedPort: 9000, publishMode: HOST }]);
  fails('ALREADY_EXISTS', 'port 8080/tcp is already in use by service web', () => allocatePorts(host.store, spec('api', [{ targetPort: 80, publishedPort: 8080 }])));
  fails('ALREADY_EXISTS', 'port 8080/tcp is already in use by service web', () =>
    allocatePorts(host.store, spec('api', [{ targetPort: 80, publishedPort: 8080, publishMode: HOST }])),
  );
  fails('ALREADY_EXISTS', 'port 9000/tcp is already in use by service web', () => allocatePorts(host.store, spec('api', [{ targetPort: 80, publishedPort: 9000 }])));
  // Another protocol is another port; two HOST-mode services may share one (the scheduler separates their tasks).
  assert.deepEqual(published(allocatePorts(host.store, spec('api', [{ targetPort: 80, publishedPort: 8080, protocol: UDP }]))), [8080]);
  assert.deepEqual(published(allocatePorts(host.store, spec('api', [{ targetPort: 80, publishedPort: 9000, publishMode: HOST }]))), [9000]);
});

test('bad ports are refused with a clear message', () => {
  const host = new LocalHost();
  fails('INVALID_ARGUMENT', 'invalid target port 0: ports are 1-65535', () => allocatePorts(host.store, spec('a', [{ targetPort: 0 }])));
  fails('INVALID_ARGUMENT', 'invalid target port 70000: ports are 1-65535', () => allocatePorts(host.store, spec('a', [{ targetPort: 70000 }])));
  fails('INVALID_ARGUMENT', /^invalid published port 65536: ports are 1-65535/, () => allocatePorts(host.store, spec('a', [{ targetPort: 80, publishedPort: 65536 }])));
  fails('INVALID_ARGUMENT', /^invalid protocol 7/, () => allocatePorts(host.store, spec('a', [{ targetPort: 80, protocol: 7 as baton.PortProtocol }])));
  fails('INVALID_ARGUMENT', 'port 8080/tcp is published twice', () =>
    allocatePorts(host.store, spec('a', [{ targetPort: 80, publishedPort: 8080 }, { targetPort: 81, publishedPort: 8080 }])),
  );
  assert.deepEqual(allocatePorts(host.store, spec('a', [])), []);
  assert.deepEqual(allocatePorts(host.store, { annotations: { name: 'a' } }), []);
});

test('an update keeps the service its own ports and its earlier allocations', () => {
  const host = new LocalHost();
  create(host, 's1', 'web', [{ targetPort: 80 }, { targetPort: 443, publishedPort: 8443 }]);
  create(host, 's2', 'api', [{ targetPort: 80 }]);
  // Same spec again: no conflict with itself, same ports.
  assert.deepEqual(published(allocatePorts(host.store, spec('web', [{ targetPort: 80 }, { targetPort: 443, publishedPort: 8443 }]), 's1')), [30000, 8443]);
  // A new port is added: the old one stays, the new one gets the next free port.
  assert.deepEqual(published(allocatePorts(host.store, spec('web', [{ targetPort: 80 }, { targetPort: 8081 }]), 's1')), [30000, 30002]);
  // Another service's port is still refused on update.
  fails('ALREADY_EXISTS', 'port 30001/tcp is already in use by service api', () => allocatePorts(host.store, spec('web', [{ targetPort: 80, publishedPort: 30001 }]), 's1'));
});

test('a removed service frees its ports', () => {
  const host = new LocalHost();
  create(host, 's1', 'web', [{ targetPort: 80 }, { targetPort: 81, publishedPort: 8080 }]);
  fails('ALREADY_EXISTS', /8080\/tcp/, () => allocatePorts(host.store, spec('api', [{ targetPort: 80, publishedPort: 8080 }])));
  host.apply([deleteAction('service', { meta: { id: 's1' } })]);
  assert.deepEqual(published(allocatePorts(host.store, spec('api', [{ targetPort: 80, publishedPort: 8080 }, { targetPort: 80 }]))), [8080, 30000]);
});

test('a full range is a clear error', () => {
  const host = new LocalHost();
  const all: Port[] = [];
  for (let p = PORT_RANGE_START; p <= PORT_RANGE_END; p++) all.push({ targetPort: 80, publishedPort: p });
  create(host, 's1', 'hog', all);
  fails('FAILED_PRECONDITION', 'no free published port left in 30000-32767 for tcp', () => allocatePorts(host.store, spec('api', [{ targetPort: 80 }])));
  assert.deepEqual(published(allocatePorts(host.store, spec('api', [{ targetPort: 80, protocol: UDP }]))), [30000]);
});
