// Loopback ports for local clusters, tests and benchmarks.
import { createServer } from 'node:net';

/** A TCP port on `host` that was free a moment ago (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** `n` distinct free ports on `host`. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  // Bounded: the OS hands out distinct ephemeral ports, a repeat is rare.
  for (let tries = 0; ports.size < n && tries < n * 10; tries++) ports.add(await freePort(host));
  if (ports.size < n) throw new Error(`could not find ${n} distinct free ports on ${host}`);
  return [...ports];
}

/** Whether `port` can be bound on every one of `hosts` right now. */
export async function portFreeOn(hosts: string[], port: number): Promise<boolean> {
  for (const host of hosts) {
    const free = await new Promise<boolean>((ok) => {
      const s = createServer().once('error', () => ok(false));
      s.listen(port, host, () => s.close(() => ok(true)));
    });
    if (!free) return false;
  }
  return true;
}
