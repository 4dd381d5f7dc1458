// The demo's node daemons: real `baton init` / `baton join` processes, each on its own
// loopback address (127.0.0.N) so every node's routing mesh can listen on the same published
// port, as it would on separate machines.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface DemoNode {
  name: string;
  ip: string;
  addr: string;
  dataDir: string;
  proc: ChildProcess;
  stdout: string;
}

export function freePort(ip: string): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer().once('error', fail);
    s.listen(0, ip, () => {
      const a = s.address();
      s.close(() => ok(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Whether `port` can be bound on every address (the demo prefers a memorable published port). */
export async function portFreeOn(ips: string[], port: number): Promise<boolean> {
  for (const ip of ips) {
    const free = await new Promise<boolean>((ok) => {
      const s = createServer().once('error', () => ok(false));
      s.listen(port, ip, () => s.close(() => ok(true)));
    });
    if (!free) return false;
  }
  return true;
}

export class DemoDaemons {
  readonly nodes: DemoNode[] = [];

  constructor(
    private readonly root: string,
    private readonly baton: string,
  ) {}

  /** Starts a daemon and resolves once it says it is up; rejects with its log's path if it dies. */
  async start(name: string, ip: string, command: string[]): Promise<DemoNode> {
    const addr = `${ip}:${await freePort(ip)}`;
    const dataDir = join(this.root, name);
    const args = [this.baton, ...command, '--data-dir', dataDir, '--listen-addr', addr, '--log-level', 'info'];
    const log = join(this.root, `${name}.log`);
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stderr.pipe(createWriteStream(log));
    const node: DemoNode = { name, ip, addr, dataDir, proc, stdout: '' };
    this.nodes.push(node);
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`${name} did not come up within 30 s (log: ${log})`)), 30_000);
      proc.stdout.on('data', (b: Buffer) => {
        node.stdout += b.toString();
        // init prints its join commands after the first line: wait for them.
        if (/initialized[\s\S]*add a manager[\s\S]*\n/.test(node.stdout) || /joined|resumed/.test(node.stdout)) {
          clearTimeout(timer);
          ok();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`${name} exited with code ${code} (log: ${log})`));
      });
    });
    proc.removeAllListeners('exit');
    return node;
  }

  /** Runs the CLI against the first manager, as a user would. */
  cli(args: string[], inherit = false): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [this.baton, ...args.slice(0, 2), '--data-dir', this.nodes[0]!.dataDir, ...args.slice(2)], {
      encoding: 'utf8',
      stdio: inherit ? ['ignore', 'inherit', 'inherit'] : 'pipe',
    });
    return { code: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** SIGTERM, then SIGKILL for any daemon still up after a grace period. */
  async stop(graceMs = 5_000): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        if (n.proc.exitCode !== null || n.proc.signalCode !== null) return;
        const exited = new Promise<void>((ok) => n.proc.once('exit', () => ok()));
        n.proc.kill('SIGTERM');
        const timer = setTimeout(() => n.proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
