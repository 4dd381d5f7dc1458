// What a newcomer gets from the CLI when a flag value is mistyped, a service cannot converge or
// the node is gone: one `Error: …` line naming what was typed, a non-zero exit, nothing changed.
// Real daemon, process runtime (no Docker needed).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BATON, BatonCluster, baton } from '../lib/baton-cluster.js';

function oneErrorLine(r: { code: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^Error: [^\n]+\n$/, 'exactly one error line, no stack trace');
  assert.match(r.stderr, pattern);
}

test('numeric flags name the value typed, --tail is checked, pretty output reads as Docker', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');

  oneErrorLine(c.cli('m1', ['service', 'create', '--name', 'x', '--replicas', 'abc', '--runtime', 'process', '--', 'sleep', '100000']), /bad --replicas "abc": want a whole number from 0 to 10000/);
  oneErrorLine(c.cli('m1', ['service', 'create', '--name', 'x', '--health-retries', 'x', '--runtime', 'process', '--', 'sleep', '100000']), /bad --health-retries "x"/);
  assert.equal(c.cli('m1', ['service', 'ls', '-q']).stdout.trim(), '', 'nothing was created');

  const create = c.cli('m1', [
    'service', 'create', '-d', '--name', 'idle', '--runtime', 'process', '--limit-memory', '64m',
    '--update-delay', '90s', '--update-max-failure-ratio', '0.2', '--', 'sleep', '100000',
  ]);
  assert.equal(create.code, 0, create.stderr);
  const before = c.cli('m1', ['service', 'inspect', 'idle']).stdout;
  oneErrorLine(c.cli('m1', ['service', 'update', '--update-parallelism', 'x', 'idle']), /bad --update-parallelism "x"/);
  oneErrorLine(c.cli('m1', ['service', 'update', '--replicas', 'lots', 'idle']), /bad --replicas "lots"/);
  assert.equal(c.cli('m1', ['service', 'inspect', 'idle']).stdout, before, 'the service is untouched');

  oneErrorLine(c.cli('m1', ['service', 'logs', '--tail', 'x', 'idle']), /bad --tail "x"/);
  oneErrorLine(c.cli('m1', ['service', 'logs', '--tail', '-1', 'idle']), /bad --tail -1/);
  assert.equal(c.cli('m1', ['service', 'logs', '--tail', '1', 'idle']).code, 0);

  const pretty = c.cli('m1', ['service', 'inspect', '--pretty', 'idle']).stdout;
  assert.match(pretty, /\nLimits:\tmemory 64MiB\n/);
  assert.match(pretty, /\n Delay:\t1m30s\n/);
  assert.match(pretty, /\n Max failure ratio:\t0\.2\n/, 'not the float32 0.20000000298023224');
  assert.match(pretty, /Restart policy:\tany \(delay 5s,/);
});

test('a service whose task keeps failing says why; a node that is gone is one plain line', async (t) => {
  const c = BatonCluster.forTest(t);
  const m1 = await c.init('m1');

  const crash = baton(
    ['service', 'create', '--data-dir', m1.dataDir, '--name', 'crash', '--runtime', 'process', '--restart-delay', '200ms', '--', 'sh', '-c', 'exit 3'],
    { BATON_CONVERGE_TIMEOUT_MS: '4000' },
  );
  oneErrorLine(crash, /service crash did not converge in 4s: crash\.1: task exited with code 3; see baton service ps crash/);
  assert.match(crash.stdout, /^waiting: crash\.1: task exited with code 3$/m, 'the progress says why before giving up');

  // A second node on an address in use: one line with the system's reason (grpc-js printed its own line too).
  const busy = baton(['init', '--data-dir', c.dataDir('busy'), '--listen-addr', m1.addr, '--log-level', 'error']);
  oneErrorLine(busy, new RegExp(`^Error: cannot listen on ${m1.addr.replace(/\./g, '\\.')}: address already in use\n$`));

  await c.kill('m1', 'SIGKILL'); // its socket file stays behind, with nobody listening
  oneErrorLine(c.cli('m1', ['node', 'ls']), /cannot reach a baton node at unix:\/\/\S+baton\.sock \(ECONNREFUSED\): is it running\?/);
});

test('daemon flags name the value typed; no command at all is one plain line', () => {
  const dir = `/nonexistent/baton-${process.pid}`;
  for (const [flag, value] of [['--mesh-workers', 'x'], ['--heartbeat-grace', 'three']] as const) {
    oneErrorLine(baton(['init', '--data-dir', dir, '--listen-addr', '127.0.0.1:0', flag, value]), new RegExp(`bad ${flag} "${value}" \\(want a number\\)`));
  }
  const bare = baton([]);
  oneErrorLine(bare, /^Error: a command is required \(see baton --help\)\n$/);
});

test('--restart-delay 1m30s works end to end (Go durations, as Compose); an absurd --replicas is one line and creates nothing', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');

  const create = c.cli('m1', ['service', 'create', '-d', '--name', 'slow', '--runtime', 'process', '--restart-delay', '1m30s', '--stop-grace-period', '1.5s', '--', 'sleep', '100000']);
  assert.equal(create.code, 0, create.stderr);
  const spec = (JSON.parse(c.cli('m1', ['service', 'inspect', 'slow']).stdout) as { spec: { task: { restart: { delayMs: number }; container: { stopGraceMs: number } } } }[])[0]!.spec;
  assert.equal(Number(spec.task.restart.delayMs), 90_000);
  assert.equal(Number(spec.task.container.stopGraceMs), 1500);
  assert.match(c.cli('m1', ['service', 'inspect', '--pretty', 'slow']).stdout, /Restart policy:\tany \(delay 1m30s,/);

  // The leader used to accept this, then run out of heap creating the tasks, after every restart.
  const huge = c.cli('m1', ['service', 'create', '--name', 'huge', '--replicas', '99999999999999999999', '--runtime', 'process', '--', 'sleep', '100000']);
  oneErrorLine(huge, /^Error: bad --replicas "99999999999999999999": at most 10000 replicas per service\n$/);
  // Every bad flag at once, in one line.
  oneErrorLine(
    c.cli('m1', ['service', 'create', '--name', 'many', '--replicas', '-1', '--restart-delay', '5', '--limit-cpu', '1e20', '--publish', '70000:80', '--runtime', 'process', '--', 'sleep', '1']),
    /^Error: 4 problems: bad --replicas "-1": want a whole number from 0 to 10000; bad --publish "70000:80": published port must be 1-65535; bad CPU count "1e20" for --limit-cpu: at most 1024 CPUs; bad duration "5" for --restart-delay: missing a unit \(want e\.g\. 500ms, 10s, 1m30s, 2h\)\n$/,
  );
  // The flags' problems and the spec's (the name, a constraint, the image) in the same line.
  oneErrorLine(
    c.cli('m1', ['service', 'create', '--name', 'bad name!', '--replicas', 'abc', '--constraint', 'node.labels.zone=a', 'Bad Image']),
    /^Error: 4 problems: bad --replicas "abc": [^;]+; invalid service name "bad name!": [^;]+; invalid image reference "Bad Image": [^;]+; invalid constraint "node\.labels\.zone=a" [^;]+\n$/,
  );
  oneErrorLine(c.cli('m1', ['service', 'scale', 'slow=99999999999999999999']), /bad replica count for slow "99999999999999999999": at most 10000 replicas per service/);
  oneErrorLine(c.cli('m1', ['service', 'update', '--replicas', '18446744073709551615', 'slow']), /bad --replicas "18446744073709551615": at most 10000/);
  assert.equal(c.cli('m1', ['service', 'ls', '-q']).stdout.trim().split('\n').length, 1, 'only the first service exists');
  assert.equal(c.cli('m1', ['service', 'inspect', 'huge']).code, 1, 'huge was not created');
  const after = (JSON.parse(c.cli('m1', ['service', 'inspect', 'slow']).stdout) as { spec: { replicas: number } }[])[0]!.spec;
  assert.equal(Number(after.replicas), 1, 'slow keeps its replicas');
});

test('a boolean flag given a value takes true or false, every bad one named in one line; piping into head ends quietly', () => {
  // Docker refuses `--init=yes`; yargs alone would take it as false and create a service without init.
  oneErrorLine(baton(['service', 'create', '--name', 'x', '--init=yes', '--read-only=maybe', 'local/busybox:1']), /invalid argument "yes" for "--init" flag: want true or false; invalid argument "maybe" for "--read-only" flag/);
  oneErrorLine(baton(['stack', 'deploy', '--detach=maybe', '-c', 'x.yml', 's']), /invalid argument "maybe" for "--detach" flag/);
  // After `--` the words are the task's own: not baton's flags.
  const own = baton(['service', 'create', '--name', 'x', '--init=true', '--data-dir', '/nonexistent-baton', '--runtime', 'process', '--', 'prog', '--init=yes']);
  assert.doesNotMatch(own.stderr, /invalid argument/);
  // A mistyped --host scheme is said as such, not as a name grpc could not resolve.
  oneErrorLine(baton(['service', 'ls', '--host', 'tpc://127.0.0.1:4242']), /bad --host "tpc:\/\/127\.0\.0\.1:4242": want unix:\/\/\/path\/baton\.sock, tcp:\/\/host:port or host:port/);
  // Several stacks at once, as Docker's stack rm (here no node answers: past the argument check).
  oneErrorLine(baton(['stack', 'rm', 'a', 'b', '--data-dir', '/nonexistent-baton']), /no baton node is running/);
  // A reader that goes away (EPIPE) ends the command without a stack trace.
  const piped = spawnSync('sh', ['-c', `node ${BATON} --version | head -c 1 >/dev/null; for i in 1 2 3; do node ${BATON} --help; done | head -c 1 >/dev/null; echo done`], { encoding: 'utf8' });
  assert.equal(piped.stdout.trim(), 'done');
  assert.doesNotMatch(piped.stderr, /EPIPE|at .*\.js/, 'no stack trace');
});
