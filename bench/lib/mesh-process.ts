// The routing mesh in a process of its own for the benchmark (so it has a core's worth of
// event loop to itself and can be profiled):
// `node mesh-process.js <port> <backend,...> [workers] [engine] [service-address] [allow-from,...]`
// (engine: the mesh's default when absent). With a service address the port is a service
// address's listener (applyInternal, east-west) on it, with that allow list, instead of a
// published port on 127.0.0.1.
// Prints "ready <worker pids...>" once the port is bound; exits on SIGTERM after closing the mesh.
import pino from 'pino';
import { isIP } from 'node:net';
import { baton } from '../../proto/gen/baton.js';
import { MESH_ENGINES, createRoutingMesh, meshWorkerPids } from '../../mesh/index.js';

const [portText, backendsText, workersText, engineText, vipText, allowText] = process.argv.slice(2);
const port = Number(portText);
const backends = (backendsText ?? '').split(',').filter(Boolean);
const engine = engineText === undefined || engineText === '' ? undefined : MESH_ENGINES.find((e) => e === engineText);
const vip = vipText === undefined || vipText === '' ? undefined : vipText;
if (!Number.isInteger(port) || port <= 0 || backends.length === 0 || (engineText && !engine) || (vip !== undefined && isIP(vip) === 0)) {
  process.stderr.write(`usage: mesh-process.js <port> <host:port,...> [workers] [${MESH_ENGINES.join('|')}] [service-address] [allow-from,...]\n`);
  process.exit(2);
}

const mesh = createRoutingMesh({ bindAddress: '127.0.0.1', logger: pino({ level: 'warn' }, pino.destination(2)), workers: Number(workersText ?? '1'), engine });
if (vip !== undefined) {
  const allowFrom = (allowText ?? '').split(',').filter(Boolean);
  mesh.applyInternal([{ address: vip, protocol: 'tcp', port, serviceName: 'bench', leastConnections: false, backends, allowFrom }]);
} else {
  mesh.apply([
    {
      serviceId: 'bench',
      serviceName: 'bench',
      balance: baton.BalanceMode.ROUND_ROBIN,
      ports: [{ protocol: baton.PortProtocol.TCP, publishedPort: port, targetPort: 80, backends: backends.map((addr, i) => ({ taskId: `t${i}`, addr })) }],
    },
  ]);
}
await mesh.settled();
process.stdout.write(`ready ${meshWorkerPids(mesh).join(' ')}\n`);
process.on('SIGTERM', () => {
  void mesh.close().then(() => process.exit(0));
});
