// The web view in a real browser (Debian's chromium through playwright-core), against a real
// cluster: the page draws a column per node and a card per task, and follows a scale-up live,
// without a reload. A screenshot is kept in test-artifacts/ for whoever looks at the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { BatonCluster, nodes } from '../lib/baton-cluster.js';
import { requireBrowser } from '../lib/browser.js';
import { waitFor } from '../lib/wait.js';
import { freePort } from '../../src/launcher/ports.js';

const ARTIFACTS = 'test-artifacts';

test('web view: nodes and tasks drawn, a scale-up appears live without a reload', async (t) => {
  const browser = await requireBrowser(t);
  if (!browser) return;
  t.after(() => browser.close());
  const http = `127.0.0.1:${await freePort()}`;
  const c = BatonCluster.forTest(t);
  await c.init('m1', ['--http-addr', http]);
  await c.join('w1', 'worker', 'm1');
  await c.join('w2', 'worker', 'm1');
  await waitFor('3 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 3);

  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  await page.goto(`http://${http}/`);
  await page.locator('.node').nth(2).waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('.node').count(), 3, 'a column per node');
  assert.equal(await page.locator('#status').textContent(), 'live');
  const loadedAt = await page.evaluate(() => (window as unknown as { batonView: { loadedAt: number } }).batonView.loadedAt);

  const created = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'web', '--replicas', '2', '--', 'sleep', '300']);
  assert.equal(created.code, 0, created.stderr);
  const running = page.locator('.task.running[data-service="web"]');
  await waitFor('2 running cards of web', async () => (await running.count()) === 2, { timeoutMs: 15_000 });

  assert.equal(c.cli('m1', ['service', 'scale', 'web=5']).code, 0);
  await waitFor('5 running cards of web', async () => (await running.count()) === 5, { timeoutMs: 15_000 });
  const cells = await page.locator('tr[data-service="web"] td').allTextContents();
  assert.equal(cells[0], 'web');
  assert.equal(cells[2], '5/5', 'the services table follows the scale-up');
  assert.match((await page.locator('#events').textContent()) ?? '', /service create web/, 'the events list names the creation');
  const after = await page.evaluate(() => (window as unknown as { batonView: { loadedAt: number; messages: number } }).batonView);
  assert.equal(after.loadedAt, loadedAt, 'the page was not reloaded');
  assert.ok(after.messages > 1, 'changes arrived as live messages');
  // Each task card sits in the column of the node the task runs on.
  const columnsWithTasks = await page.locator('.node:has(.task.running[data-service="web"])').count();
  assert.equal(columnsWithTasks, 3, 'the 5 tasks are spread over the 3 node columns');

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/webview.png`, fullPage: true });
  assert.deepEqual(problems, [], 'no script error in the page');
});
