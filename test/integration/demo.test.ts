// `npm start`'s demo as a newcomer runs it: a 5-node cluster comes up, the demo web service
// answers through the routing mesh on every node, and Ctrl-C leaves no process, container or
// data behind. Under CI (Docker present) it runs in containers; BATON_DEMO_RUNTIME=process
// runs the same demo with the process runtime, as on a machine without Docker.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { alive } from '../lib/processes.js';

const DEMO = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/demo/main.js');

/** Every process whose command line mentions the demo's data dir (daemons and process tasks). */
function processesUsing(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(dir));
}

async function runDemo(env: Record<string, string>, expectContainers: boolean | undefined): Promise<void> {
  const demo = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
  demo.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((ok) => demo.once('exit', (code) => ok(code)));
  const deadline = Date.now() + 120_000;
  while (!/Ctrl-C stops/.test(out) && demo.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const url = /READY (\S+)/.exec(out)?.[1];
  try {
    assert.ok(url, `demo printed its URL:\n${out}`);
    if (expectContainers !== undefined) assert.match(out, expectContainers ? /as containers/ : /as processes/);
    const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 5, 'five node processes');
    const dataDir = /data and logs in (\S+)\)/.exec(out)?.[1];
    assert.ok(dataDir && existsSync(dataDir));

    // The same published port on a manager and on a worker; the answers come from all 3 replicas.
    const port = new URL(url).port;
    const answers = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`http://127.0.0.${(i % 5) + 1}:${port}/`, { headers: { connection: 'close' } });
      assert.equal(res.status, 200);
      answers.add((await res.text()).trim());
    }
    assert.equal(answers.size, 3, `three replicas answered: ${[...answers].join(' | ')}`);

    demo.kill('SIGINT');
    assert.equal(await exited, 0, out);
    for (const pid of pids) assert.equal(alive(pid), false, `node process ${pid} is gone`);
    assert.deepEqual(processesUsing(dataDir), [], 'no task process left');
    assert.equal(existsSync(dataDir), false, 'demo data removed');
    assert.match(out, /nothing left behind/);
    if (/as containers/.test(out)) {
      const clusterId = /cluster (\S+)/.exec(out)?.[1] ?? '';
      assert.ok(clusterId, 'the demo printed its cluster id');
      const left = await new Docker().listContainers({ all: true, filters: { label: [`baton.cluster=${clusterId}`] } });
      assert.deepEqual(left.map((c) => c.Names), [], 'no container of the demo left');
    }
  } finally {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  }
}

test('npm start demo with the process runtime: 5 nodes, the web service through the mesh, Ctrl-C cleans up', async () => {
  await runDemo({ BATON_DEMO_RUNTIME: 'process' }, false);
});

test('npm start demo as run here (containers when Docker answers): served through the mesh, Ctrl-C cleans up', async () => {
  // Under CI a Docker engine runs, so this is the container path; elsewhere whatever the machine has.
  await runDemo({}, process.env.CI === 'true' ? true : undefined);
});
