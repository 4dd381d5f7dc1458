// HAProxy (Debian's) as the mesh benchmark's peer: mode tcp, roundrobin over the same backends,
// a given number of threads, in the foreground as a managed child process.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess, waitFor } from './proc.js';
import { canConnect } from './wrk-backends.js';

export function haproxyVersion(): string {
  try {
    const out = execFileSync('haproxy', ['-v'], { encoding: 'utf8' });
    return /version (\S+)/.exec(out)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function haproxyConfig(port: number, backends: readonly string[], threads: number): string {
  return [
    'global',
    `  nbthread ${threads}`,
    '  maxconn 8000',
    'defaults',
    '  mode tcp',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend mesh',
    `  bind 127.0.0.1:${port}`,
    '  default_backend tasks',
    'backend tasks',
    '  balance roundrobin',
    ...backends.map((b, i) => `  server t${i} ${b}`),
    '',
  ].join('\n');
}

/** Starts haproxy in the foreground (-db) with the config above; resolves once the port accepts. */
export async function startHaproxy(dir: string, port: number, backends: readonly string[], threads: number): Promise<ManagedProcess> {
  const cfg = join(dir, `haproxy-${threads}.cfg`);
  writeFileSync(cfg, haproxyConfig(port, backends, threads));
  const proc = new ManagedProcess({ name: 'haproxy', command: 'haproxy', args: ['-db', '-f', cfg], logFile: join(dir, `haproxy-${threads}.log`) });
  await proc.ready;
  await waitFor('haproxy to listen', () => canConnect(port), { timeoutMs: 10_000, intervalMs: 50 });
  return proc;
}
