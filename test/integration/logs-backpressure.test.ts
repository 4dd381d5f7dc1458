// `service logs` from a reader slower than the task's output: the node must read the task's
// log only as fast as the client takes it, holding a bounded amount in memory, and lose
// nothing. A single node is both the manager that answers the client and the worker that
// reads the log, so its memory shows both ends of the chain.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '../../client/index.js';
import { BatonCluster } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

const LINES = 6144;
const LINE_BYTES = 16 << 10;
// Writes LINES lines of 16 KiB each (96 MiB), then marks it is done (argv[1]: the marker file) and idles.
const WRITER = `
const line = Buffer.alloc(${LINE_BYTES}, 'x'); line[line.length - 1] = 10;
let n = 0;
const more = () => {
  while (n < ${LINES}) { n++; if (!process.stdout.write(line)) return process.stdout.once('drain', more); }
  require('fs').writeFileSync(process.argv[1], ''); setInterval(() => {}, 1e6);
};
more();`;

function rssBytes(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

test('a paused service logs reader holds the node back: bounded memory, and every byte arrives after', async (t) => {
  const c = BatonCluster.forTest(t);
  const pid = (await c.init('m1')).proc.pid!;
  const done = join(c.root, 'written');
  const create = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'loud', '--', process.execPath, '-e', WRITER, done]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  await waitFor('the task wrote its 96 MiB of output', () => existsSync(done), { timeoutMs: 60_000 });

  const client = connect({ dataDir: c.dataDir('m1') });
  t.after(() => client.close());
  const lines = client.serviceLogs({ service: 'loud', follow: false })[Symbol.asyncIterator]();
  const before = rssBytes(pid);
  const first = await lines.next();
  assert.equal(first.done, false);
  let bytes = first.value?.data?.length ?? 0;
  let count = 1;
  // The reader pauses: without back-pressure the node would now read the whole log into memory.
  await sleep(3_000);
  const grown = rssBytes(pid) - before;
  t.diagnostic(`node RSS grew ${(grown / 2 ** 20).toFixed(1)} MiB while the reader paused (log: ${(LINES * LINE_BYTES) / 2 ** 20} MiB)`);
  assert.ok(grown < 40 * 2 ** 20, `the node held back instead of buffering the log: RSS grew ${grown} bytes`);

  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    bytes += next.value.data?.length ?? 0;
    count++;
  }
  assert.equal(count, LINES, 'every line arrived');
  assert.equal(bytes, LINES * LINE_BYTES, 'every byte arrived');
});
