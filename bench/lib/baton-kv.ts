// Our side of the Raft comparison: a cluster of the example KV server
// (raft/example/kv-server.ts), one child process per member, LevelDB data on disk (sync writes).
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Agent } from 'node:http';
import { ManagedProcess, freePorts } from './proc.js';
import { errorCode, httpRequest, keepAliveAgent, parseJson } from './http.js';
import type { ReplicatedCluster, Write, WriteOutcome } from './cluster.js';
import { ProcessCluster } from './process-cluster.js';

export interface BatonKvOptions {
  /** Path of the compiled dist/raft/example/kv-server.js. */
  serverScript: string;
  /** Scratch directory for data dirs and logs. */
  root: string;
  size?: number;
  /** Extra node flags for every member (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Extra kv-server flags for every member (e.g. --tick-ms). */
  serverArgs?: string[];
  /** Reported by settings(): the defaults the server runs with. */
  describe?: Record<string, unknown>;
}

interface Member {
  id: string;
  raftPort: number;
  httpPort: number;
  dataDir: string;
  agent: Agent;
  proc: ManagedProcess | undefined;
  starts: number;
}

interface KvStatus {
  role: string;
  leader: string;
  commit: number;
  applied: number;
}

export class BatonKvCluster extends ProcessCluster<Member> implements ReplicatedCluster {
  readonly system = 'baton';
  readonly size: number;

  constructor(private readonly opts: BatonKvOptions) {
    super();
    this.size = opts.size ?? 3;
  }

  settings(): Record<string, unknown> {
    return { server: 'raft/example/kv-server.ts', storage: 'LevelDB, sync: true', ...this.opts.describe, serverArgs: this.opts.serverArgs ?? [] };
  }

  async start(): Promise<void> {
    const ports = await freePorts(this.size * 2);
    for (let i = 0; i < this.size; i++) {
      const id = String.fromCharCode(97 + i);
      const dataDir = join(this.opts.root, id);
      mkdirSync(dataDir, { recursive: true });
      this.members.push({ id, raftPort: ports[2 * i]!, httpPort: ports[2 * i + 1]!, dataDir, agent: keepAliveAgent(), proc: undefined, starts: 0 });
    }
    await Promise.all(this.members.map((_, i) => this.launch(i)));
  }



  protected async launch(i: number): Promise<void> {
    const m = this.members[i]!;
    const peers = this.members.map((p) => `${p.id}=127.0.0.1:${p.raftPort}`).join(',');
    m.starts++;
    m.proc = new ManagedProcess({
      name: `baton kv-server ${m.id}`,
      command: process.execPath,
      args: [
        ...(this.opts.nodeFlags ?? []),
        this.opts.serverScript,
        '--id', m.id,
        '--data-dir', join(m.dataDir, 'raft'),
        '--raft-listen', `127.0.0.1:${m.raftPort}`,
        '--http-listen', `127.0.0.1:${m.httpPort}`,
        '--peers', peers,
        '--bootstrap', this.members.map((p) => p.id).join(','),
        ...(this.opts.serverArgs ?? []),
      ],
      logFile: join(m.dataDir, `log-${m.starts}.txt`),
      readyLine: /^READY /,
    });
    await m.proc.ready;
  }

  private index(id: string): number | undefined {
    const i = this.members.findIndex((m) => m.id === id);
    return i < 0 ? undefined : i;
  }

  async status(member: number): Promise<KvStatus> {
    const m = this.members[member]!;
    const res = await httpRequest({ host: '127.0.0.1', port: m.httpPort }, { method: 'GET', path: '/status', agent: m.agent, timeoutMs: 2_000 });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    return JSON.parse(res.body) as KvStatus;
  }

  async leader(): Promise<number | undefined> {
    const live = this.members.map((_, i) => i).filter((i) => this.running(i));
    const statuses = await Promise.all(live.map((i) => this.status(i).catch(() => undefined)));
    const first = statuses[0]?.leader;
    if (!first || statuses.some((s) => !s || s.leader !== first)) return undefined;
    const idx = this.index(first);
    if (idx === undefined || !this.running(idx)) return undefined;
    const own = statuses[live.indexOf(idx)];
    return own?.role === 'leader' ? idx : undefined;
  }

  async caughtUp(member: number): Promise<boolean> {
    const leader = await this.leader();
    if (leader === undefined) return false;
    const l = await this.status(leader);
    const s = await this.status(member);
    return s.leader === this.members[leader]!.id && s.applied >= l.applied;
  }

  async write(member: number, w: Write, timeoutMs: number): Promise<WriteOutcome> {
    const m = this.members[member]!;
    try {
      const res = await httpRequest(
        { host: '127.0.0.1', port: m.httpPort },
        { method: 'PUT', path: `/kv/${encodeURIComponent(w.key)}`, headers: { 'x-write-id': w.id }, body: w.value, agent: m.agent, timeoutMs },
      );
      if (res.status === 200) return { ok: true };
      const body = parseJson(res.body) as { code?: string; leader?: string; error?: string } | undefined;
      if (body?.code === 'NOT_LEADER') return { ok: false, kind: 'not-leader', leader: body.leader ? this.index(body.leader) : undefined, status: res.status };
      return { ok: false, kind: 'error', status: res.status, error: body?.error ?? res.body.slice(0, 200) };
    } catch (err) {
      return { ok: false, kind: 'error', status: undefined, error: errorCode(err) };
    }
  }




}
