// `npm start`: a local baton cluster a newcomer can poke at. Three managers and two workers,
// each a real `baton` daemon on its own loopback address, and a web service of three replicas
// published through the routing mesh: in containers when a Docker engine with a busybox image
// answers, as plain processes otherwise. Ctrl-C removes the service, stops every daemon and
// deletes the data, leaving no process or container behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { connect } from '../../client/index.js';
import { LocalCluster } from '../launcher/cluster.js';
import { portFreeOn } from '../launcher/ports.js';
import { waitFor } from '../launcher/wait.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BATON = resolve(HERE, '../baton.js');
const WEB = resolve(HERE, 'web.js');
// In this order each gets its own loopback address, 127.0.0.1 to 127.0.0.5.
const NODES = [
  { name: 'manager-1', role: 'manager' },
  { name: 'manager-2', role: 'manager' },
  { name: 'manager-3', role: 'manager' },
  { name: 'worker-1', role: 'worker' },
  { name: 'worker-2', role: 'worker' },
] as const;
const IMAGES = ['local/busybox:1', 'busybox:latest'];
const CLUSTER_LABEL = 'baton.cluster';
/** Where the first manager serves the web view and metrics (--http-addr), if free. */
const WEB_VIEW_PORT = 9100;
// Any busybox serves its hostname: each answer names the container that gave it.
const HTTPD = 'mkdir -p /tmp/www && echo "hello from container $(hostname)" > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www';

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const root = mkdtempSync(join(tmpdir(), 'baton-demo-'));
const daemons = new LocalCluster({ root, baton: BATON, addressPerNode: true });
const FIRST = NODES[0].name;
const docker = new Docker();
let clusterId = '';
let stopping: Promise<void> | undefined;

async function within<T>(ms: number, p: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((ok) => (timer = setTimeout(() => ok(undefined), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The busybox image to run, or why the demo uses the process runtime instead. */
async function dockerImage(): Promise<{ image?: string; why: string }> {
  const wanted = process.env.BATON_DEMO_RUNTIME;
  if (wanted === 'process') return { why: 'BATON_DEMO_RUNTIME=process' };
  const up = await within(3_000, docker.ping().then(() => true, () => false));
  if (!up) return { why: 'no Docker engine answers' };
  for (const image of IMAGES) {
    const found = await docker.getImage(image).inspect().then(() => true, () => false);
    if (found) return { image, why: `Docker engine with ${image}` };
  }
  return { why: 'the Docker engine has no busybox image (`docker pull busybox` to run the demo in containers)' };
}

function readyNodes(): number {
  // One STATUS a line, as `docker node ls --format '{{.Status}}'` prints it.
  const r = daemons.cli(FIRST, ['node', 'ls', '--format', '{{.Status}}']);
  if (r.code !== 0) return 0;
  return r.stdout.split('\n').filter((status) => status.trim() === 'Ready').length;
}

async function up(): Promise<void> {
  say(`Starting 3 managers and 2 workers on 127.0.0.1-127.0.0.5 (data and logs in ${root}) ...`);
  // The first manager serves the web view and metrics on 127.0.0.1:9100, when that port is free.
  const view = (await portFreeOn(['127.0.0.1'], WEB_VIEW_PORT)) ? `127.0.0.1:${WEB_VIEW_PORT}` : '';
  // Each node named as the demo calls it, so `node ls` and `service ps` tell them apart.
  await daemons.init(FIRST, ['--hostname', FIRST, ...(view ? ['--http-addr', view] : [])]);
  for (const n of NODES.slice(1)) await daemons.join(n.name, n.role, undefined, ['--hostname', n.name]);
  await waitFor('every node ready', () => readyNodes() === NODES.length, { timeoutMs: 30_000, intervalMs: 250 });
  clusterId = (await client().control.call('Info', {})).clusterId ?? '';
  for (const n of daemons.list()) say(`  ${n.name.padEnd(10)} ${n.addr.padEnd(16)} pid ${n.proc.pid}`);
  say(`  cluster ${clusterId}`);

  const { image, why } = await dockerImage();
  const published = (await portFreeOn(daemons.list().map((n) => n.host), 8080)) ? '8080:' : '';
  const create = image
    ? ['service', 'create', '--name', 'web', '--replicas', '3', '--publish', `${published}80`, image, 'sh', '-c', HTTPD]
    : ['service', 'create', '--name', 'web', '--replicas', '3', '--runtime', 'process', '--publish', `${published}8080`, '--', process.execPath, WEB];
  say(`\nDeploying the demo web service, 3 replicas, ${image ? 'as containers' : 'as processes'} (${why}):`);
  say(`  baton ${create.map((w) => (/\s/.test(w) ? `'${w}'` : w)).join(' ')}`);
  const created = daemons.cli(FIRST, create, { inherit: true });
  if (created.code !== 0) throw new Error('the demo service did not start (see above)');
  const inspect = JSON.parse(daemons.cli(FIRST, ['service', 'inspect', 'web']).stdout) as { endpoint?: { ports?: { publishedPort?: number }[] } }[];
  const port = inspect[0]?.endpoint?.ports?.[0]?.publishedPort ?? 0;

  const cli = `node ${BATON}`;
  const viewLine = view ? '\nThe cluster live in a browser: http://' + view + '/ (metrics: http://' + view + '/metrics)\n' : '';
  say(`
READY http://127.0.0.1:${port}/
${viewLine}
The service answers on that port of every node (127.0.0.1 to 127.0.0.5), whichever node runs
its replicas; each answer names the replica that served it. Try, in another terminal:

  curl http://127.0.0.1:${port}/ ; curl http://127.0.0.4:${port}/
  alias baton='${cli}'; export BATON_HOST=unix://${join(daemons.dataDir(FIRST), 'baton.sock')}
  baton node ls
  baton service ps web
  baton service scale web=5
  baton service logs web
  baton node update --availability drain <a node id>     # its replicas move elsewhere
  kill -9 ${daemons.get('worker-1').proc.pid}          # worker-1 dies: its replicas are rescheduled in a few seconds

Ctrl-C stops every process it started and removes the data.`);
}

async function removeContainers(): Promise<void> {
  if (!clusterId) return;
  const found = await within(5_000, docker.listContainers({ all: true, filters: { label: [`${CLUSTER_LABEL}=${clusterId}`] } }).catch(() => []));
  await Promise.all((found ?? []).map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

function down(code: number): Promise<void> {
  stopping ??= (async () => {
    say('\nStopping: removing the service, then every daemon ...');
    if (daemons.nodes.size > 0 && daemons.cli(FIRST, ['service', 'rm', 'web']).code === 0) {
      // The nodes stop their tasks themselves; what remains after a short wait is swept below.
      await waitFor('the service\'s tasks to stop', async () => (await taskCount()) <= 0, { timeoutMs: 15_000, intervalMs: 250 }).catch(() => undefined);
    }
    control?.close();
    await daemons.stop();
    // The tasks' processes (process runtime): a stopped daemon leaves them running on purpose.
    daemons.killProcessTasks();
    await removeContainers();
    rmSync(root, { recursive: true, force: true });
    say('Stopped; nothing left behind.');
    process.exit(code);
  })();
  return stopping;
}

let control: ReturnType<typeof connect> | undefined;
function client(): ReturnType<typeof connect> {
  return (control ??= connect({ dataDir: daemons.dataDir(FIRST) }));
}

/** Tasks the cluster still tracks (0 once a removed service's tasks have stopped); -1 if unknown. */
async function taskCount(): Promise<number> {
  try {
    return (await client().list('ListTasks')).length;
  } catch {
    return -1;
  }
}

process.on('SIGINT', () => void down(0));
process.on('SIGTERM', () => void down(0));
try {
  await up();
} catch (err) {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  await down(1);
}
