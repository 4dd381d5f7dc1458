// `npm start`: a local demo cluster on 127.0.0.1. Until the orchestrator lands, the cluster is
// three replicas of the Raft example key-value server, each its own process with its data on
// disk, so a newcomer can write, read, kill the leader and watch the cluster carry on.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';

const SERVER = resolve(dirname(fileURLToPath(import.meta.url)), '../raft/example/kv-server.js');
const IDS = ['n1', 'n2', 'n3'];

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer().once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => ok(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

interface DemoNode {
  id: string;
  raftPort: number;
  httpPort: number;
  proc?: ChildProcess;
}

const root = mkdtempSync(join(tmpdir(), 'baton-demo-'));
const nodes: DemoNode[] = [];
for (const id of IDS) nodes.push({ id, raftPort: await freePort(), httpPort: await freePort() });
const peers = nodes.map((n) => `${n.id}=127.0.0.1:${n.raftPort}`).join(',');

function start(n: DemoNode): Promise<void> {
  const proc = spawn(
    process.execPath,
    [SERVER, '--id', n.id, '--data-dir', join(root, n.id), '--raft-listen', `127.0.0.1:${n.raftPort}`,
      '--http-listen', `127.0.0.1:${n.httpPort}`, '--peers', peers, '--bootstrap', IDS.join(',')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  n.proc = proc;
  return new Promise((ok, fail) => {
    proc.stdout.once('data', () => ok());
    proc.once('exit', (code) => fail(new Error(`${n.id} exited with ${code}`)));
  });
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    nodes.map(
      (n) =>
        new Promise<void>((ok) => {
          if (!n.proc || n.proc.exitCode !== null || n.proc.signalCode !== null) return ok();
          n.proc.once('exit', () => ok());
          n.proc.kill('SIGTERM');
        }),
    ),
  );
  rmSync(root, { recursive: true, force: true });
  console.log('demo stopped; every process it started has exited and its data is removed');
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  await Promise.all(nodes.map(start));
} catch (err) {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  await stop(1);
}

async function leader(): Promise<DemoNode | undefined> {
  for (const n of nodes) {
    try {
      const s = (await (await fetch(`http://127.0.0.1:${n.httpPort}/status`)).json()) as { role: string };
      if (s.role === 'leader') return n;
    } catch {
      // Down or starting: ask the next one.
    }
  }
  return undefined;
}

let current: DemoNode | undefined;
for (let i = 0; i < 100 && !current; i++) {
  current = await leader();
  if (!current) await new Promise((r) => setTimeout(r, 100));
}
const url = `http://127.0.0.1:${current?.httpPort ?? nodes[0]!.httpPort}`;
console.log(`
baton demo: a 3-node Raft cluster (LevelDB data in ${root})
${nodes.map((n) => `  ${n.id}  pid ${n.proc?.pid}  http://127.0.0.1:${n.httpPort}  raft 127.0.0.1:${n.raftPort}`).join('\n')}
leader: ${current?.id ?? 'none yet'}
READY ${url}

Try:
  curl -X PUT ${url}/kv/greeting -d hello     # replicated write, answered once committed
  curl ${url}/kv/greeting                     # linearizable read
  curl ${url}/status                          # role, term, commit index, peers
  kill -9 ${current?.proc?.pid ?? '<leader pid>'}                          # SIGKILL the leader; another takes over within ~1 s
Ctrl-C stops the cluster.`);

setInterval(() => {
  void leader().then((l) => {
    if (l && l !== current) {
      current = l;
      console.log(`leader is now ${l.id} (http://127.0.0.1:${l.httpPort})`);
    }
  });
}, 1000).unref();
