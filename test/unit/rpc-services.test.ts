// The hand-listed service definitions must say exactly what proto/*.proto says: same methods,
// same request and response messages. A method added to a .proto and not here fails this test.
import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { baton } from '../../proto/gen/baton.js';
import { caService, controlService, dispatcherService, dispatcherSession, eventsMethod, backupMethod, nodeAgentService, serviceLogsMethod, taskLogsMethod } from '../../rpc/services.js';

const PROTO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../proto/control.proto');

test('service definitions match proto/control.proto', () => {
  const root = protobuf.loadSync(PROTO);
  const ours: Record<string, Record<string, { path: string; requestDeserialize(b: Buffer): unknown; responseDeserialize(b: Buffer): unknown }>> = {
    Control: { ...controlService, ServiceLogs: serviceLogsMethod, Events: eventsMethod, Backup: backupMethod },
    NodeAgent: { ...nodeAgentService, TaskLogs: taskLogsMethod },
    CA: caService,
    Dispatcher: { ...dispatcherService, Session: dispatcherSession },
  };
  const classes = baton as unknown as Record<string, new () => unknown>;
  for (const [name, defs] of Object.entries(ours)) {
    const service = root.lookupService(`baton.${name}`);
    assert.deepEqual(Object.keys(defs).sort(), Object.keys(service.methods).sort(), `methods of ${name}`);
    for (const [methodName, method] of Object.entries(service.methods)) {
      const def = defs[methodName]!;
      assert.equal(def.path, `/baton.${name}/${methodName}`);
      assert.equal((def as { responseStream?: boolean }).responseStream, method.responseStream ?? false, `${name}.${methodName} streaming`);
      const req = classes[method.requestType];
      const res = classes[method.responseType];
      assert.ok(req && def.requestDeserialize(Buffer.alloc(0)) instanceof req, `${name}.${methodName} request is ${method.requestType}`);
      assert.ok(res && def.responseDeserialize(Buffer.alloc(0)) instanceof res, `${name}.${methodName} response is ${method.responseType}`);
    }
  }
});
