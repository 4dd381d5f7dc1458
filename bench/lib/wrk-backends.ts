// The backends wrk measures through the proxies: one nginx (worker_processes 1) serving a tiny
// fixed response on several ports. Node backends would be the bottleneck, not the proxy.
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ManagedProcess, waitFor } from './proc.js';

/** Whether something accepts TCP connections on host:port (default 127.0.0.1) now. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export function nginxConfig(dir: string, ports: readonly number[]): string {
  return [
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'nginx-error.log')} warn;`,
    'events { worker_connections 8000; multi_accept on; }',
    'http {',
    '  access_log off;',
    '  keepalive_requests 10000000;',
    '  keepalive_timeout 60s;',
    `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
    ...ports.map((p, i) => `  server { listen 127.0.0.1:${p}; location / { return 200 "backend ${i}\\n"; } }`),
    '}',
    '',
  ].join('\n');
}

/** One nginx process serving on each port; resolves once every port accepts. */
export async function startNginx(dir: string, ports: readonly number[]): Promise<ManagedProcess> {
  const cfg = join(dir, 'nginx.conf');
  writeFileSync(cfg, nginxConfig(dir, ports));
  const proc = new ManagedProcess({ name: 'nginx', command: 'nginx', args: ['-p', dir, '-c', cfg], logFile: join(dir, 'nginx.log') });
  await proc.ready;
  for (const p of ports) await waitFor(`nginx on port ${p}`, () => canConnect(p), { timeoutMs: 10_000, intervalMs: 50 });
  return proc;
}
