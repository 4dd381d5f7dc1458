// `npm start`'s demo as a newcomer runs it: it comes up, answers, and Ctrl-C leaves nothing behind.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const DEMO = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/demo.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('the demo cluster starts, serves writes and reads, and stops cleanly on Ctrl-C', async () => {
  const demo = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
  demo.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((ok) => demo.once('exit', (code) => ok(code)));
  const deadline = Date.now() + 30_000;
  while (!/Ctrl-C stops/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const url = /READY (\S+)/.exec(out)?.[1];
  assert.ok(url, `demo printed its URL:\n${out}`);
  const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  assert.equal(pids.length, 3, 'three node processes');
  const dataDir = /LevelDB data in (\S+)\)/.exec(out)?.[1];
  assert.ok(dataDir && existsSync(dataDir));

  const put = await fetch(`${url}/kv/greeting`, { method: 'PUT', body: 'hello' });
  assert.equal(put.status, 200);
  const get = await fetch(`${url}/kv/greeting`);
  assert.deepEqual(await get.json(), { value: 'hello' });

  demo.kill('SIGINT');
  assert.equal(await exited, 0);
  for (const pid of pids) assert.equal(alive(pid), false, `node process ${pid} is gone`);
  assert.equal(existsSync(dataDir), false, 'demo data removed');
});
