// Host ports for process tasks. A process shares the node's network, so "publishing" a port
// means choosing a free one on the node's address (where other nodes' meshes reach it, as
// Docker's published ports) and telling the process through its environment; the mesh then
// targets it exactly like a container's ephemeral port. The kernel picks the port (bind to 0)
// and we release it for the task to take: another program could grab it in between, which the
// task then reports as a failed bind, like any port clash. A host-mode port is given as is.
import { createServer, isIPv6 } from 'node:net';
import { createSocket } from 'node:dgram';
import type { PortBinding, TaskRunSpec } from './types.js';

export const DEFAULT_BIND_ADDRESS = '127.0.0.1';

function freeTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const port = socket.address().port;
      socket.close(() => resolve(port));
    });
  });
}

/** `host`: the node's address, where the task is expected to listen (it gets it as BATON_HOST_IP). */
export async function allocatePorts(ports: TaskRunSpec['ports'], host = DEFAULT_BIND_ADDRESS): Promise<PortBinding[]> {
  const out: PortBinding[] = [];
  for (const p of ports) {
    const hostPort = p.hostPort ?? (p.protocol === 'udp' ? await freeUdpPort(host) : await freeTcpPort(host));
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

/**
 * The ports a task binds: its published ones, then its exposed ones (other tasks of its networks
 * reach them through the service's address) unless already published.
 */
export function withExposed(spec: Pick<TaskRunSpec, 'ports' | 'expose'>): TaskRunSpec['ports'] {
  const have = new Set(spec.ports.filter((p) => p.hostPort === undefined).map((p) => `${p.targetPort}/${p.protocol}`));
  return [...spec.ports, ...(spec.expose ?? []).filter((p) => !have.has(`${p.targetPort}/${p.protocol}`))];
}
