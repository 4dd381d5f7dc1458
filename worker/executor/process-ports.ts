// Host ports for process tasks. A process shares the node's network, so "publishing" a port
// means choosing a free one on 127.0.0.1 and telling the process through its environment; the
// mesh then targets it exactly like a container's ephemeral port. The kernel picks the port
// (bind to 0) and we release it for the task to take: another program could grab it in
// between, which the task then reports as a failed bind, like any port clash.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import type { PortBinding, TaskRunSpec } from './types.js';

const HOST = '127.0.0.1';

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, HOST, () => {
      const port = socket.address().port;
      socket.close(() => resolve(port));
    });
  });
}

export async function allocatePorts(ports: TaskRunSpec['ports']): Promise<PortBinding[]> {
  const out: PortBinding[] = [];
  for (const p of ports) {
    const hostPort = p.protocol === 'udp' ? await freeUdpPort() : await freeTcpPort();
    out.push({ targetPort: p.targetPort, hostPort, protocol: p.protocol });
  }
  return out;
}

/**
 * PORT (the first port, the convention of Heroku-style apps), BATON_PORT_<target> (the first
 * port with that target) and BATON_PORT_<target>_<TCP|UDP> (always unambiguous).
 */
export function portEnv(bound: PortBinding[]): Record<string, string> {
  const env: Record<string, string> = {};
  const first = bound[0];
  if (first) env.PORT = String(first.hostPort);
  for (const b of bound) {
    env[`BATON_PORT_${b.targetPort}`] ??= String(b.hostPort);
    env[`BATON_PORT_${b.targetPort}_${b.protocol.toUpperCase()}`] = String(b.hostPort);
  }
  return env;
}
