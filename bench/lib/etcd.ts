// The peer of our Raft: a 3-member etcd cluster (Debian's etcd-server) on 127.0.0.1, driven
// through its v3 JSON gateway (POST /v3/kv/put with base64 key and value) with the same HTTP
// client as ours. Data on disk, fsync on (etcd's default), default timeouts.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent } from 'node:http';
import { ManagedProcess, freePorts, onPath, runSync, waitFor } from './proc.js';
import { errorCode, httpRequest, keepAliveAgent, parseJson } from './http.js';
import type { ReplicatedCluster, Write, WriteOutcome } from './cluster.js';
import { ProcessCluster } from './process-cluster.js';

/** Make sure `etcd` is installed: apt-get install etcd-server etcd-client when it is missing. */
export function ensureEtcd(): void {
  if (onPath('etcd')) return;
  if (process.getuid?.() !== 0) {
    throw new Error('etcd is not installed and this is not root: run `sudo apt-get install -y etcd-server etcd-client`');
  }
  process.stderr.write('etcd not found: installing Debian\'s etcd-server and etcd-client\n');
  const install = (): number => runSync('apt-get', ['install', '-y', '-q', 'etcd-server', 'etcd-client']);
  if (install() !== 0) {
    runSync('apt-get', ['update', '-q']);
    if (install() !== 0) throw new Error('apt-get install etcd-server etcd-client failed');
  }
  if (!onPath('etcd')) throw new Error('etcd still not on PATH after apt-get install');
}

export function etcdVersion(): string {
  try {
    const out = execFileSync('etcd', ['--version'], { encoding: 'utf8' });
    return /etcd Version:\s*(\S+)/.exec(out)?.[1] ?? out.split('\n')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface EtcdOptions {
  root: string;
  size?: number;
  /** Extra etcd flags for every member. */
  extraArgs?: string[];
}

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  agent: Agent;
  proc: ManagedProcess | undefined;
  starts: number;
  /** etcd's member id (decimal string, as the JSON gateway prints it). */
  memberId: string | undefined;
}

interface EtcdStatus {
  header?: { member_id?: string };
  leader?: string;
  raftIndex?: string;
  raftAppliedIndex?: string;
}

export class EtcdCluster extends ProcessCluster<Member> implements ReplicatedCluster {
  readonly system = 'etcd';
  readonly size: number;
  private apiPrefix = '/v3';
  private version = 'unknown';

  constructor(private readonly opts: EtcdOptions) {
    super();
    this.size = opts.size ?? 3;
  }

  settings(): Record<string, unknown> {
    return {
      version: this.version,
      gateway: `${this.apiPrefix}/kv/put`,
      heartbeatMs: 100,
      electionTimeoutMs: 1000,
      electionRandomized: '[1000, 2000) ms (etcd raft randomizes in [election, 2*election))',
      preVote: this.version.startsWith('3.4') ? 'off (3.4 default)' : 'etcd default',
      fsync: 'on (WAL fdatasync; --unsafe-no-fsync not set)',
      extraArgs: this.opts.extraArgs ?? [],
    };
  }

  async start(): Promise<void> {
    ensureEtcd();
    this.version = etcdVersion();
    const ports = await freePorts(this.size * 2);
    for (let i = 0; i < this.size; i++) {
      const name = `etcd${i}`;
      const dataDir = join(this.opts.root, name);
      mkdirSync(dataDir, { recursive: true });
      this.members.push({ name, clientPort: ports[2 * i]!, peerPort: ports[2 * i + 1]!, dataDir, agent: keepAliveAgent(), proc: undefined, starts: 0, memberId: undefined });
    }
    await Promise.all(this.members.map((_, i) => this.launch(i)));
    await this.detectApiPrefix();
    await Promise.all(
      this.members.map((m, i) =>
        waitFor(`etcd member ${m.name} status`, async () => {
          m.memberId = (await this.status(i)).header?.member_id;
          return m.memberId !== undefined;
        }, { timeoutMs: 30_000, intervalMs: 50 }),
      ),
    );
  }



  protected async launch(i: number): Promise<void> {
    const m = this.members[i]!;
    const cluster = this.members.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',');
    m.starts++;
    // etcd reads ETCD_* variables as flags: run it with none of the caller's.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
    m.proc = new ManagedProcess({
      name: `etcd ${m.name}`,
      command: 'etcd',
      args: [
        '--name', m.name,
        '--data-dir', join(m.dataDir, 'data'),
        '--listen-client-urls', `http://127.0.0.1:${m.clientPort}`,
        '--advertise-client-urls', `http://127.0.0.1:${m.clientPort}`,
        '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
        '--initial-cluster', cluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', 'baton-bench',
        '--logger', 'zap',
        '--log-outputs', 'stderr',
        ...(this.opts.extraArgs ?? []),
      ],
      logFile: join(m.dataDir, `log-${m.starts}.txt`),
      env,
    });
    await m.proc.ready;
    // Serving once /health answers at all (it says false until there is a leader).
    await waitFor(`etcd ${m.name} client port`, async () => {
      if (!m.proc?.running) throw new Error(`etcd ${m.name} exited${m.proc?.logTail() ?? ''}`);
      const res = await httpRequest({ host: '127.0.0.1', port: m.clientPort }, { method: 'GET', path: '/health', agent: m.agent, timeoutMs: 1_000 });
      return res.status === 200 || res.status === 503;
    }, { timeoutMs: 30_000, intervalMs: 50 });
  }

  /** etcd 3.4 serves the gateway at /v3 (and /v3beta); 3.3 at /v3beta only. */
  private async detectApiPrefix(): Promise<void> {
    for (const prefix of ['/v3', '/v3beta']) {
      this.apiPrefix = prefix;
      try {
        await this.status(0);
        return;
      } catch {
        // try the next one
      }
    }
    throw new Error('etcd answers neither /v3/maintenance/status nor /v3beta/maintenance/status');
  }

  private async post(member: number, path: string, body: unknown, timeoutMs: number): Promise<{ status: number; body: string }> {
    const m = this.members[member]!;
    return httpRequest(
      { host: '127.0.0.1', port: m.clientPort },
      { method: 'POST', path: `${this.apiPrefix}${path}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), agent: m.agent, timeoutMs },
    );
  }

  async status(member: number): Promise<EtcdStatus> {
    const res = await this.post(member, '/maintenance/status', {}, 2_000);
    if (res.status !== 200) throw new Error(`status ${res.status}: ${res.body}`);
    return JSON.parse(res.body) as EtcdStatus;
  }

  async leader(): Promise<number | undefined> {
    const live = this.members.map((_, i) => i).filter((i) => this.running(i));
    const statuses = await Promise.all(live.map((i) => this.status(i).catch(() => undefined)));
    const first = statuses[0]?.leader;
    if (!first || first === '0' || statuses.some((s) => !s || s.leader !== first)) return undefined;
    const idx = this.members.findIndex((m) => m.memberId === first);
    return idx >= 0 && this.running(idx) ? idx : undefined;
  }

  async caughtUp(member: number): Promise<boolean> {
    const leader = await this.leader();
    if (leader === undefined) return false;
    const l = await this.status(leader);
    const s = await this.status(member);
    return s.leader === this.members[leader]!.memberId && Number(s.raftAppliedIndex) >= Number(l.raftAppliedIndex);
  }

  async write(member: number, w: Write, timeoutMs: number): Promise<WriteOutcome> {
    try {
      const res = await this.post(member, '/kv/put', { key: Buffer.from(w.key).toString('base64'), value: w.value.toString('base64') }, timeoutMs);
      if (res.status === 200) return { ok: true };
      const body = parseJson(res.body) as { error?: string; message?: string } | undefined;
      return { ok: false, kind: 'error', status: res.status, error: body?.error ?? body?.message ?? res.body.slice(0, 200) };
    } catch (err) {
      return { ok: false, kind: 'error', status: undefined, error: errorCode(err) };
    }
  }




}
