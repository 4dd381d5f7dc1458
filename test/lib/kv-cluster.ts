// Real multi-process clusters of the example KV server (raft/example/kv-server.ts) on
// 127.0.0.1, each node a child process with its LevelDB data on disk, for tests that kill
// processes with SIGKILL and restart them from their data.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/launcher/ports.js';
import { waitFor } from './wait.js';

export { sleep } from './wait.js';

const SERVER = resolve(dirname(fileURLToPath(import.meta.url)), '../../raft/example/kv-server.js');

export interface NodeStatus {
  id: string;
  role: string;
  leader: string;
  term: number;
  commit: number;
  applied: number;
  firstIndex: number;
  voters: string[];
  learners: string[];
}

export interface HttpResult {
  status: number;
  body: Record<string, unknown>;
}

interface Member {
  id: string;
  raftPort: number;
  httpPort: number;
  dataDir: string;
  proc: ChildProcess | undefined;
}

export class KvCluster {
  private readonly members = new Map<string, Member>();

  constructor(
    private readonly root: string,
    private readonly extraArgs: string[] = [],
  ) {}

  ids(): string[] {
    return [...this.members.keys()];
  }

  live(): string[] {
    return [...this.members.values()].filter((m) => m.proc).map((m) => m.id);
  }

  /** Reserve ports and a data dir for a node (not started). */
  async define(id: string): Promise<void> {
    const dataDir = join(this.root, id);
    mkdirSync(dataDir, { recursive: true });
    this.members.set(id, { id, raftPort: await freePort(), httpPort: await freePort(), dataDir, proc: undefined });
  }

  raftAddress(id: string): string {
    return `127.0.0.1:${this.member(id).raftPort}`;
  }

  /** Start (or restart from its data) one node; resolves once it serves HTTP. */
  async start(id: string, bootstrap: string[]): Promise<void> {
    const m = this.member(id);
    const peers = [...this.members.values()].map((p) => `${p.id}=127.0.0.1:${p.raftPort}`).join(',');
    const args = [
      SERVER,
      '--id', id,
      '--data-dir', join(m.dataDir, 'raft'),
      '--raft-listen', `127.0.0.1:${m.raftPort}`,
      '--http-listen', `127.0.0.1:${m.httpPort}`,
      '--peers', peers,
      '--bootstrap', bootstrap.join(','),
      ...this.extraArgs,
    ];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    m.proc = proc;
    proc.stderr.pipe(createWriteStream(join(m.dataDir, 'stderr.log'), { flags: 'a' }));
    await new Promise<void>((ok, fail) => {
      let out = '';
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (out.includes('READY ')) {
          proc.stdout.off('data', onData);
          ok();
        }
      };
      proc.stdout.on('data', onData);
      proc.once('exit', (code) => fail(new Error(`node ${id} exited with ${code} before it was ready (see ${m.dataDir}/stderr.log)`)));
    });
    proc.removeAllListeners('exit');
    proc.once('exit', () => {
      if (m.proc === proc) m.proc = undefined;
    });
  }

  /** Run the server once and return its exit code and stderr (for start-up failures). */
  async runExpectingExit(id: string): Promise<{ code: number | null; stderr: string }> {
    const m = this.member(id);
    const proc = spawn(process.execPath, [SERVER, '--id', id, '--data-dir', join(m.dataDir, 'raft'), '--raft-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((ok) => proc.once('exit', (c) => ok(c)));
    return { code, stderr };
  }

  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.member(id).proc;
    if (!proc) return;
    const exited = new Promise<void>((ok) => proc.once('exit', () => ok()));
    proc.kill(signal);
    await exited;
    this.member(id).proc = undefined;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.live().map((id) => this.kill(id, 'SIGKILL')));
  }

  dataDir(id: string): string {
    return join(this.member(id).dataDir, 'raft');
  }

  async request(id: string, method: string, path: string, body?: string, headers: Record<string, string> = {}, timeoutMs = 3_000): Promise<HttpResult> {
    const res = await fetch(`http://127.0.0.1:${this.member(id).httpPort}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  async status(id: string): Promise<NodeStatus> {
    return (await this.request(id, 'GET', '/status')).body as unknown as NodeStatus;
  }

  /** The id of the node that is leader and reports itself so, waiting up to timeoutMs. */
  async waitForLeader(timeoutMs = 15_000): Promise<string> {
    return waitFor(
      `a leader among ${this.live().join(',')}`,
      async () => {
        for (const id of this.live()) {
          try {
            if ((await this.status(id)).role === 'leader') return id;
          } catch {
            // Not answering yet.
          }
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  /** Wait until every live node has applied the same index (and at least `min`). */
  async waitForConvergence(timeoutMs = 20_000, min = 0): Promise<number> {
    let last = '';
    const converged = await waitFor(
      'the nodes to apply the same index',
      async () => {
        const statuses = await Promise.all(this.live().map((id) => this.status(id).catch(() => undefined)));
        const applied = statuses.map((s) => s?.applied ?? -1);
        last = applied.join(',');
        return applied.every((a) => a === applied[0] && a >= min) ? { index: applied[0]! } : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    ).catch(() => {
      throw new Error(`nodes did not converge within ${timeoutMs} ms (applied: ${last})`);
    });
    return converged.index;
  }

  private member(id: string): Member {
    const m = this.members.get(id);
    if (!m) throw new Error(`unknown node ${id}`);
    return m;
  }
}
