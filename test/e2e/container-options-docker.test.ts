// Docker's container options and Go templates on real Docker, through the real CLI: a templated
// hostname and env value, --user, --read-only, --cap-drop, --init, --sysctl, --ulimit, --host,
// container labels and -t seen from inside the task; --stop-signal received by the task's trap;
// --log-driver none answered by `service logs` in Docker's words; bad input refused in one line.
import test from 'node:test';
import type Docker from 'dockerode';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, chmodSync, existsSync } from 'node:fs';
import { machine, tmpdir } from 'node:os';
import { join } from 'node:path';
import { listedObjects, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { requireDocker, dockerCluster, shIn, TEST_IMAGE, requireTestImage, dockerOffered } from '../lib/docker.js';

test('container options on Docker: templates, user, read-only, capabilities, init, sysctl, ulimit, hosts, labels, tty, stop signal, log driver', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  await requireTestImage(docker);
  const c = dockerCluster(t, docker);
  const m1 = nodeIdOf(await c.init('m1'));
  await dockerOffered(c);
  const nodeHost = (listedObjects(c, 'm1', ['node', 'ls'], 'node') as { description: { hostname: string } }[])[0]!.description.hostname;

  const create = c.cli('m1', [
    'service', 'create', '--name', 'opts', '--replicas', '2',
    '--hostname', '{{.Service.Name}}-{{.Task.Slot}}',
    '--env', 'WHERE={{.Node.Hostname}}/{{.Node.Platform.OS}}/{{.Node.Platform.Architecture}}/{{.Task.Slot}}',
    '--user', '1000:1000', '--read-only', '--cap-drop', 'ALL', '--init',
    '--sysctl', 'net.core.somaxconn=512', '--ulimit', 'nofile=1000:2000',
    '--host', 'db:10.1.2.3', '--container-label', 'team=blue', '-t',
    TEST_IMAGE, 'sh', '-c', 'echo hello-from-a-tty; exec sleep 3600',
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  const list = running(tasks(c, 'm1', 'opts'));
  assert.equal(list.length, 2);
  for (const task of list) {
    const slot = task.name.split('.').pop()!;
    const id = task.containerId;
    assert.equal((await shIn(id, 'hostname')).out.trim(), `opts-${slot}`);
    assert.equal((await shIn(id, 'echo "$WHERE"')).out.trim(), `${nodeHost}/linux/${machine()}/${slot}`);
    assert.equal((await shIn(id, 'id')).out.trim(), 'uid=1000 gid=1000 groups=1000');
    const write = await shIn(id, 'touch /tmp/x');
    assert.equal(write.ok, false);
    assert.match(write.out, /Read-only file system/);
    assert.match((await shIn(id, 'grep CapBnd /proc/self/status')).out, /CapBnd:\s+0000000000000000/);
    assert.equal((await shIn(id, 'cat /proc/1/comm')).out.trim(), 'docker-init');
    assert.equal((await shIn(id, 'cat /proc/sys/net/core/somaxconn')).out.trim(), '512');
    // The task's own process (PID 1), as the engine set it up: soft and hard. (A `docker exec`'d
    // shell's `ulimit -n` once read 2000 in CI: what an exec gets is not the task's setting.)
    assert.match((await shIn(id, 'grep "Max open files" /proc/1/limits')).out, /^Max open files\s+1000\s+2000\s+files/m);
    assert.match((await shIn(id, 'cat /etc/hosts')).out, /^10\.1\.2\.3\s+db$/m);
    const info: Docker.ContainerInspectInfo = await docker.getContainer(id).inspect();
    assert.equal(info.Config.Labels.team, 'blue');
    assert.equal(info.Config.Labels['baton.node'], m1, "baton's own labels are there too");
    assert.equal(info.Config.Tty, true);
  }
  // A TTY's output is one stream, read as such by `service logs`.
  await waitFor('the tty output in service logs', () => /opts\.\d\.\S+@\S+ \| hello-from-a-tty$/m.test(c.cli('m1', ['service', 'logs', 'opts']).stdout));
  const pretty = c.cli('m1', ['service', 'inspect', '--pretty', 'opts']).stdout;
  for (const line of [/^Hostname:\t\{\{\.Service\.Name\}\}-\{\{\.Task\.Slot\}\}$/m, /^User:\t1000:1000$/m, /^Init:\ttrue$/m, /^Read-only:\ttrue$/m, /^ Drop:\tALL$/m, /^ nofile:\t1000:2000$/m]) {
    assert.match(pretty, line);
  }

  // --stop-signal: the task's trap gets SIGUSR1 when the task is stopped, and says so in a file.
  const out = mkdtempSync(join(tmpdir(), 'baton-stopsig-'));
  chmodSync(out, 0o777);
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const sig = c.cli('m1', [
    'service', 'create', '--name', 'sig', '--stop-signal', 'SIGUSR1', '--stop-grace-period', '20s',
    '--mount', `type=bind,source=${out},target=/out`,
    TEST_IMAGE, 'sh', '-c', 'trap "echo got-usr1 > /out/signal; exit 0" USR1; while true; do sleep 0.2; done',
  ]);
  assert.equal(sig.code, 0, sig.stderr + sig.stdout);
  const [sigTask] = running(tasks(c, 'm1', 'sig'));
  // (dockerode's typings lack StopSignal)
  assert.equal(((await docker.getContainer(sigTask!.containerId).inspect()).Config as { StopSignal?: string }).StopSignal, 'SIGUSR1');
  assert.equal(c.cli('m1', ['service', 'scale', 'sig=0']).code, 0);
  await waitFor('the trap wrote what it got', () => existsSync(join(out, 'signal')));
  assert.equal(readFileSync(join(out, 'signal'), 'utf8'), 'got-usr1\n');

  // --log-driver none: the engine keeps nothing, and `service logs` says so in one line.
  const none = c.cli('m1', ['service', 'create', '--name', 'quiet', '--log-driver', 'none', TEST_IMAGE, 'sh', '-c', 'echo lost; exec sleep 3600']);
  assert.equal(none.code, 0, none.stderr + none.stdout);
  const logs = c.cli('m1', ['service', 'logs', 'quiet']);
  assert.notEqual(logs.code, 0);
  assert.match(logs.stderr.trim(), /configured logging driver does not support reading$/);
  assert.equal(logs.stderr.trim().split('\n').length, 1, logs.stderr);

  // Bad input: every problem in one line, nothing created.
  const bad = c.cli('m1', [
    'service', 'create', '--name', 'bad', '--cap-add', 'FOO', '--ulimit', 'nofile=9:3', '--host', 'nohost',
    '--stop-signal', 'NOPE', '--hostname', '{{.Nope}}', '--sysctl', 'x', '--user', 'a:b:c', TEST_IMAGE,
  ]);
  assert.notEqual(bad.code, 0);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  for (const bit of ['unknown capability', '9 > 3', '"nohost"', 'invalid signal', 'unknown field .Nope', '--sysctl "x"', 'bad user "a:b:c"']) {
    assert.ok(bad.stderr.includes(bit), `${bit} in ${bad.stderr}`);
  }
  const proc = c.cli('m1', ['service', 'create', '--name', 'proc', '--runtime', 'process', '--read-only', '--hostname', 'h', '--cap-add', 'NET_ADMIN', 'sleep', '100']);
  assert.notEqual(proc.code, 0);
  assert.match(proc.stderr.trim(), /the process runtime cannot honour --hostname, --read-only, --cap-add/);
  assert.equal(c.cli('m1', ['service', 'ls', '-q']).stdout.trim().split('\n').length, 3, 'opts, sig and quiet only');
});
