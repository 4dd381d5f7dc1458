// The hand-listed service definitions must say exactly what proto/*.proto says: same methods,
// same request and response messages. A method added to a .proto and not here fails this test.
import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { baton } from '../../proto/gen/baton.js';
import { caService, controlService, dispatcherService, dispatcherSession, eventsMethod, backupMethod, nodeAgentService, serviceLogsMethod, taskLogsMethod } from '../../rpc/services.js';

const PROTO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../proto');

test('service definitions match proto/control.proto and proto/internal.proto', () => {
  const root = protobuf.loadSync([resolve(PROTO, 'control.proto'), resolve(PROTO, 'internal.proto')]).resolveAll();
  const ours: Record<string, Record<string, { path: string; requestDeserialize(b: Buffer): unknown; responseDeserialize(b: Buffer): unknown }>> = {
    'baton.Control': { ...controlService, ServiceLogs: serviceLogsMethod, Events: eventsMethod, Backup: backupMethod },
    'baton.internal.NodeAgent': { ...nodeAgentService, TaskLogs: taskLogsMethod },
    'baton.internal.CA': caService,
    'baton.internal.Dispatcher': { ...dispatcherService, Session: dispatcherSession },
  };
  // Message classes by their full name without the leading "baton.": Task, internal.SessionRequest.
  const classes = (name: string): (new () => unknown) | undefined => {
    let at: unknown = baton;
    for (const part of name.replace(/^\.?baton\./, '').split('.')) at = (at as Record<string, unknown> | undefined)?.[part];
    return at as (new () => unknown) | undefined;
  };
  for (const [name, defs] of Object.entries(ours)) {
    const service = root.lookupService(name);
    assert.deepEqual(Object.keys(defs).sort(), Object.keys(service.methods).sort(), `methods of ${name}`);
    for (const [methodName, method] of Object.entries(service.methods)) {
      const def = defs[methodName]!;
      assert.equal(def.path, `/${name}/${methodName}`);
      assert.equal((def as { responseStream?: boolean }).responseStream, method.responseStream ?? false, `${name}.${methodName} streaming`);
      const req = classes(method.resolvedRequestType?.fullName ?? '');
      const res = classes(method.resolvedResponseType?.fullName ?? '');
      assert.ok(req && def.requestDeserialize(Buffer.alloc(0)) instanceof req, `${name}.${methodName} request is ${method.requestType}`);
      assert.ok(res && def.responseDeserialize(Buffer.alloc(0)) instanceof res, `${name}.${methodName} response is ${method.responseType}`);
    }
  }
});
