// Compose volumes to mounts, as Docker's stack deploy converts them: every short and long form,
// the top-level declarations, `tmpfs:`, every error (several at once), re-deploy equality, and
// real compose files from public repositories (test/fixtures/volumes, each naming its source).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baton } from '../../client/index.js';
import { acceptServiceSpec } from '../../manager/controlapi/services.js';
import { planServices } from '../../cli/compose/diff.js';
import { loadStack, type StackDefinition } from '../../cli/compose/project.js';
import { errorOf, loadYaml } from './compose-helpers.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/volumes');
const { MOUNT_VOLUME: VOLUME, MOUNT_BIND: BIND, MOUNT_TMPFS: TMPFS } = baton.MountType;
const NS = 'com.docker.stack.namespace';

function mounts(def: StackDefinition, name: string): baton.Mount.$Properties[] {
  const s = def.services.find((x) => x.annotations?.name === name);
  assert.ok(s, `no service ${name}`);
  return s.task?.container?.mounts ?? [];
}

/** A named volume of stack "demo" with no driver, options or labels of its own. */
function stackVolume(source: string, target: string, more: Partial<baton.Mount.$Properties> = {}): baton.Mount.$Properties {
  return { type: VOLUME, source, target, readOnly: false, volumeNocopy: false, volumeDriver: '', volumeOptions: {}, volumeLabels: { [NS]: 'demo' }, ...more };
}

function bind(source: string, target: string, readOnly = false): baton.Mount.$Properties {
  return { type: BIND, source, target, readOnly };
}

test('short syntax: named (ro, rw, nocopy), anonymous, absolute, relative and ~ binds', () => {
  const { def, file, warnings } = loadYaml(
    `
services:
  web:
    image: a
    volumes:
      - data:/var/data:ro
      - data:/var/copy:rw,nocopy
      - /scratch
      - /etc/hosts:/etc/hosts:ro,rprivate
      - ./html:/usr/share/html
      - ../shared/conf/:/conf
      - ~/cache:/cache
      - .:/src:z
volumes:
  data:
`,
    { HOME: '/home/me' },
  );
  const dir = dirname(file);
  assert.deepEqual(mounts(def, 'demo_web'), [
    stackVolume('demo_data', '/var/data', { readOnly: true }),
    stackVolume('demo_data', '/var/copy', { volumeNocopy: true }),
    { type: VOLUME, source: '', target: '/scratch', readOnly: false, volumeNocopy: false },
    bind('/etc/hosts', '/etc/hosts', true),
    bind(join(dir, 'html'), '/usr/share/html'),
    bind(resolve(dir, '../shared/conf'), '/conf'),
    bind('/home/me/cache', '/cache'),
    bind(dir, '/src'),
  ]);
  assert.deepEqual(warnings, [`${file}: services.web.volumes[7] has option "z", which is not used (Docker's stack deploy ignores it too)`]);
});

test('long syntax: volume with nocopy, bind read_only, tmpfs with size and mode; consistency is warned about', () => {
  const { def, file, warnings } = loadYaml(`
services:
  web:
    image: a
    volumes:
      - type: volume
        source: data
        target: /data
        read_only: true
        volume: { nocopy: true }
      - type: volume
        target: /anon
      - type: bind
        source: ./site
        target: /site
        read_only: true
        consistency: cached
        bind: { propagation: rprivate }
      - type: tmpfs
        target: /tmp
        tmpfs: { size: 64m, mode: 01777 }
      - type: tmpfs
        target: /run
        tmpfs: { size: 1000, mode: "0700" }
volumes:
  data: {}
`);
  assert.deepEqual(mounts(def, 'demo_web'), [
    stackVolume('demo_data', '/data', { readOnly: true, volumeNocopy: true }),
    { type: VOLUME, source: '', target: '/anon', readOnly: false, volumeNocopy: false },
    bind(join(dirname(file), 'site'), '/site', true),
    { type: TMPFS, target: '/tmp', readOnly: false, tmpfsSizeBytes: 64 * 1024 * 1024, tmpfsMode: 0o1777 },
    { type: TMPFS, target: '/run', readOnly: false, tmpfsSizeBytes: 1000, tmpfsMode: 0o700 },
  ]);
  assert.deepEqual(warnings, [`${file}: services.web.volumes[2].consistency is not supported, ignored`]);
});

test('top-level volumes: name:, driver, driver_opts, labels (map or list) plus the stack label; external as it is', () => {
  const { def } = loadYaml(`
services:
  web:
    image: a
    volumes: [nfs:/nfs, fixed:/fixed, ext:/ext, old:/old:nocopy, called:/called]
volumes:
  nfs:
    driver: local
    driver_opts: { type: nfs, o: "addr=10.0.0.1,rw", device: ":/export", size: 10 }
    labels: { backup: daily, empty: "" }
  fixed:
    name: shared-fixed
    labels: [a=1, b]
  ext:
    external: true
  old:
    external: { name: legacy }
  called:
    external: true
    name: outside
`);
  assert.deepEqual(mounts(def, 'demo_web'), [
    stackVolume('demo_nfs', '/nfs', { volumeDriver: 'local', volumeOptions: { type: 'nfs', o: 'addr=10.0.0.1,rw', device: ':/export', size: '10' }, volumeLabels: { backup: 'daily', empty: '', [NS]: 'demo' } }),
    stackVolume('shared-fixed', '/fixed', { volumeLabels: { a: '1', b: '', [NS]: 'demo' } }),
    { type: VOLUME, source: 'ext', target: '/ext', readOnly: false, volumeNocopy: false },
    { type: VOLUME, source: 'legacy', target: '/old', readOnly: false, volumeNocopy: true },
    { type: VOLUME, source: 'outside', target: '/called', readOnly: false, volumeNocopy: false },
  ]);
});

test('tmpfs: a string or a list; size=, mode=, ro become the mount, other options are warned about', () => {
  const one = loadYaml('services:\n  web:\n    image: a\n    tmpfs: /run\n');
  assert.deepEqual(mounts(one.def, 'demo_web'), [{ type: TMPFS, target: '/run', readOnly: false, tmpfsSizeBytes: 0, tmpfsMode: 0 }]);
  const list = loadYaml('services:\n  web:\n    image: a\n    volumes: [/data]\n    tmpfs: ["/run:size=1m,mode=1770", "/cache:ro,noexec"]\n');
  assert.deepEqual(mounts(list.def, 'demo_web'), [
    { type: VOLUME, source: '', target: '/data', readOnly: false, volumeNocopy: false },
    { type: TMPFS, target: '/run', readOnly: false, tmpfsSizeBytes: 1024 * 1024, tmpfsMode: 0o1770 },
    { type: TMPFS, target: '/cache', readOnly: true, tmpfsSizeBytes: 0, tmpfsMode: 0 },
  ]);
  assert.deepEqual(list.warnings, [`${list.file}: services.web.tmpfs[1] has option "noexec", which a tmpfs mount here cannot carry (only size=, mode=, ro, rw): ignored`]);
});

test('a relative bind starts from the first compose file\'s directory, as Docker resolves it', () => {
  const root = mkdtempSync(join(tmpdir(), 'baton-composevol-'));
  try {
    mkdirSync(join(root, 'env'));
    writeFileSync(join(root, 'compose.yml'), 'services:\n  web:\n    image: a\n');
    writeFileSync(join(root, 'env', 'prod.yml'), 'services:\n  web:\n    volumes: ["./logs:/logs"]\n');
    const def = loadStack([join(root, 'compose.yml'), join(root, 'env', 'prod.yml')], 'demo', {}, () => {});
    assert.deepEqual(mounts(def, 'demo_web'), [bind(join(root, 'logs'), '/logs')]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const svc = (volumes: string, more = ''): string => `services:\n  web:\n    image: a\n    volumes: ${volumes}\n${more}`;

const errors: [string, string, string][] = [
  ['undefined volume', svc('["data:/data"]'), 'compose.yml: services.web.volumes[0] uses undefined volume "data": declare it under top-level volumes: (a path for a bind starts with /, ./ or ~)'],
  ['undefined volume, long syntax', svc('[{ type: volume, source: data, target: /data }]'), 'compose.yml: services.web.volumes[0].source uses undefined volume "data": declare it under top-level volumes: (a path for a bind starts with /, ./ or ~)'],
  ['empty spec', svc('[""]'), 'compose.yml: services.web.volumes[0] is empty: invalid empty volume spec'],
  ['empty section', svc('[":/data"]'), 'compose.yml: services.web.volumes[0] is ":/data": invalid spec: :/data: empty section between colons'],
  ['too many colons', svc('["a:/b:ro:x"]'), 'compose.yml: services.web.volumes[0] is "a:/b:ro:x": invalid spec: a:/b:ro:x: too many colons'],
  ['relative target', svc('["/a:data"]'), 'compose.yml: services.web.volumes[0] has target "data": invalid mount path, it must be absolute'],
  ['not a list', svc('{ data: /data }'), 'compose.yml: services.web.volumes must be a list (got a mapping)'],
  ['nocopy on a bind', svc('["/a:/b:nocopy"]'), 'compose.yml: services.web.volumes[0] has option nocopy on a bind mount: volume options are incompatible with type bind'],
  ['propagation on a volume', svc('["data:/b:rshared"]', 'volumes:\n  data:\n'), 'compose.yml: services.web.volumes[0] has option rshared on a volume: bind options are incompatible with type volume'],
  ['propagation baton cannot do', svc('["/a:/b:rshared"]'), "compose.yml: services.web.volumes[0] asks for bind propagation rshared, which is not supported: baton's bind mounts are always rprivate (Docker's default)"],
  ['long: no type', svc('[{ source: /a, target: /b }]'), 'compose.yml: services.web.volumes[0] needs a type: volume, bind or tmpfs'],
  ['long: bad type', svc('[{ type: disk, target: /b }]'), 'compose.yml: services.web.volumes[0].type must be volume, bind or tmpfs (got "disk")'],
  ['long: npipe', svc('[{ type: npipe, source: x, target: /b }]'), 'compose.yml: services.web.volumes[0].type is npipe, which is not supported (volume, bind or tmpfs)'],
  ['long: no target', svc('[{ type: volume }]'), 'compose.yml: services.web.volumes[0] needs a target (the path in the container)'],
  ['long: unknown key', svc('[{ type: volume, target: /b, mode: ro }]'), 'compose.yml: services.web.volumes[0].mode is not supported'],
  ['long: bind without source', svc('[{ type: bind, target: /b }]'), 'compose.yml: services.web.volumes[0] needs a source: invalid bind source, source cannot be empty'],
  ['long: volume options on a bind', svc('[{ type: bind, source: /a, target: /b, volume: { nocopy: true } }]'), 'compose.yml: services.web.volumes[0].volume volume options are incompatible with type bind'],
  ['long: tmpfs options on a volume', svc('[{ type: volume, target: /b, tmpfs: { size: 1 } }]'), 'compose.yml: services.web.volumes[0].tmpfs tmpfs options are incompatible with type volume'],
  ['long: bind options on a tmpfs', svc('[{ type: tmpfs, target: /b, bind: { propagation: rprivate } }]'), 'compose.yml: services.web.volumes[0].bind bind options are incompatible with type tmpfs'],
  ['long: tmpfs with a source', svc('[{ type: tmpfs, source: x, target: /b }]'), 'compose.yml: services.web.volumes[0].source must be empty for a tmpfs: invalid tmpfs source, source must be empty'],
  ['long: bad tmpfs size', svc('[{ type: tmpfs, target: /b, tmpfs: { size: lots } }]'), 'compose.yml: services.web.volumes[0].tmpfs.size has a bad tmpfs size "lots": want bytes, or a size like 64m or 1g'],
  ['long: bad tmpfs mode', svc('[{ type: tmpfs, target: /b, tmpfs: { mode: "0999" } }]'), 'compose.yml: services.web.volumes[0].tmpfs.mode has a bad tmpfs mode "0999": want octal permissions like 01777 or "0700"'],
  ['long: propagation baton cannot do', svc('[{ type: bind, source: /a, target: /b, bind: { propagation: shared } }]'), "compose.yml: services.web.volumes[0].bind.propagation asks for bind propagation shared, which is not supported: baton's bind mounts are always rprivate (Docker's default)"],
  ['tmpfs: relative target', 'services:\n  web:\n    image: a\n    tmpfs: run\n', 'compose.yml: services.web.tmpfs has target "run": invalid mount path, it must be absolute'],
  ['tmpfs: bad size', 'services:\n  web:\n    image: a\n    tmpfs: ["/run:size=big"]\n', 'compose.yml: services.web.tmpfs[0] has a bad tmpfs size "big": want bytes, or a size like 64m or 1g'],
  ['duplicate target', svc('["/a:/data", "/data/"]'), 'compose.yml: services.web.volumes[1] mounts /data again (already mounted by services.web.volumes[0]): Duplicate mount point'],
  ['external with a driver', svc('["x:/x"]', 'volumes:\n  x: { external: true, driver: local }\n'), 'compose.yml: volumes.x.driver cannot be used with external: true (conflicting parameters "external" and "driver" specified for volume "x")'],
  ['top-level unknown key', svc('["x:/x"]', 'volumes:\n  x: { drivers: local }\n'), 'compose.yml: volumes.x.drivers is not supported'],
  ['top-level not a mapping', svc('["x:/x"]', 'volumes:\n  x: local\n'), 'compose.yml: volumes.x must be a mapping (got "local")'],
  ['a name Docker refuses', svc('["x:/x"]', 'volumes:\n  x: { name: "my data" }\n'), 'compose.yml: volumes.x makes a volume name Docker would refuse ("my data"): use letters, digits, \'_\', \'.\', \'-\', starting with a letter or digit, at least 2 characters'],
];

for (const [name, yaml, want] of errors) {
  test(`volume error: ${name}`, () => assert.equal(errorOf(yaml), want));
}

test('every bad volume of every service is reported at once, in one line', () => {
  const yaml = `
services:
  web:
    image: a
    volumes: ["data:/data", "/a:rel", "/ok:/ok"]
  api:
    image: a
    volumes: [{ type: bind, target: /b }]
    tmpfs: /run:size=x
`;
  assert.equal(
    errorOf(yaml),
    '4 problems: compose.yml: services.web.volumes[0] uses undefined volume "data": declare it under top-level volumes: (a path for a bind starts with /, ./ or ~); ' +
      'compose.yml: services.web.volumes[1] has target "rel": invalid mount path, it must be absolute; ' +
      'compose.yml: services.api.volumes[0] needs a source: invalid bind source, source cannot be empty; compose.yml: services.api.tmpfs has a bad tmpfs size "x": want bytes, or a size like 64m or 1g',
  );
});

/** What the cluster keeps: the spec through the control API's validation, and the wire. */
function stored(spec: baton.ServiceSpec.$Properties, id: string): baton.Service.$Properties {
  const wire = baton.Service.decode(baton.Service.encode({ meta: { id, version: 3 }, spec: acceptServiceSpec(spec) }).finish());
  return baton.Service.toObject(wire, { longs: Number, defaults: false });
}

test('re-deploy: the same mounts are up to date; a changed option, label or order of driver_opts is seen as it is', () => {
  const yaml = (opts: string, label: string): string => `
services:
  db:
    image: a
    volumes: ["data:/data:ro", "/srv/conf:/conf", /anon]
    tmpfs: /run:size=1m
volumes:
  data:
    driver: local
    driver_opts: ${opts}
    labels: { keep: "${label}" }
`;
  const first = loadYaml(yaml('{ type: nfs, o: "addr=1.2.3.4", device: "" }', 'yes'));
  const existing = first.def.services.map((s, i) => stored(s, `id${i}`));
  // The same options written in another order: up to date.
  const again = planServices(existing, loadYaml(yaml('{ device: "", o: "addr=1.2.3.4", type: nfs }', 'yes')).def.services);
  assert.deepEqual([again.create.length, again.update.length, again.unchanged.length], [0, 0, 1]);
  // An option that is there empty is still an option: dropping it is a change.
  const dropped = planServices(existing, loadYaml(yaml('{ type: nfs, o: "addr=1.2.3.4" }', 'yes')).def.services);
  assert.equal(dropped.update.length, 1);
  const relabelled = planServices(existing, loadYaml(yaml('{ type: nfs, o: "addr=1.2.3.4", device: "" }', '')).def.services);
  assert.equal(relabelled.update.length, 1);
});

// Real files: each service's mounts against what its file says (sources scoped to the stack,
// binds as written, the stack's label on the volumes it creates).
function loadFixture(name: string): { def: StackDefinition; warnings: string[] } {
  const warnings: string[] = [];
  return { def: loadStack([join(FIXTURES, name)], 'demo', {}, (l) => warnings.push(l)), warnings };
}

test('fixture dockersamples/example-voting-app docker-stack.yml: db on a named volume, the visualizer binds the Docker socket', () => {
  const { def } = loadFixture('voting-app-stack.yml');
  assert.deepEqual(mounts(def, 'demo_db'), [stackVolume('demo_db-data', '/var/lib/postgresql/data')]);
  assert.deepEqual(mounts(def, 'demo_visualizer'), [bind('/var/run/docker.sock', '/var/run/docker.sock')]);
  for (const s of ['demo_redis', 'demo_vote', 'demo_result', 'demo_worker']) assert.deepEqual(mounts(def, s), [], s);
});

test('fixture docker/awesome-compose wordpress-mysql: the database on its volume; the unused wp_data makes no mount', () => {
  const { def } = loadFixture('wordpress-mysql.yaml');
  assert.deepEqual(mounts(def, 'demo_db'), [stackVolume('demo_db_data', '/var/lib/mysql')]);
  assert.deepEqual(mounts(def, 'demo_wordpress'), []);
  assert.deepEqual(mounts(def, 'demo_phpmyadmin'), []);
});

test('fixture stefanprodan/swarmprom: named volumes written {} and read-only binds of the node', () => {
  const { def } = loadFixture('swarmprom.yml');
  assert.deepEqual(mounts(def, 'demo_cadvisor'), [
    bind('/var/run/docker.sock', '/var/run/docker.sock', true),
    bind('/', '/rootfs', true),
    bind('/var/run', '/var/run'),
    bind('/sys', '/sys', true),
    bind('/var/lib/docker/', '/var/lib/docker', true),
  ]);
  assert.deepEqual(mounts(def, 'demo_node-exporter'), [bind('/proc', '/host/proc', true), bind('/sys', '/host/sys', true), bind('/', '/rootfs', true), bind('/etc/hostname', '/etc/nodename')]);
  assert.deepEqual(mounts(def, 'demo_grafana'), [stackVolume('demo_grafana', '/var/lib/grafana')]);
  assert.deepEqual(mounts(def, 'demo_alertmanager'), [stackVolume('demo_alertmanager', '/alertmanager')]);
  assert.deepEqual(mounts(def, 'demo_prometheus'), [stackVolume('demo_prometheus', '/prometheus')]);
  assert.deepEqual(mounts(def, 'demo_caddy'), []);
});

test('fixture docker/awesome-compose prometheus-grafana: two mounts on /prometheus are refused before anything is sent', () => {
  assert.throws(
    () => loadFixture('prometheus-grafana.yaml'),
    { message: `${join(FIXTURES, 'prometheus-grafana.yaml')}: services.prometheus.volumes[1] mounts /prometheus again (already mounted by services.prometheus.volumes[0]): Duplicate mount point` },
  );
  // Without the duplicate, the relative binds start from the file's directory.
  const root = mkdtempSync(join(tmpdir(), 'baton-composevol-'));
  try {
    writeFileSync(join(root, 'fix.yml'), 'services:\n  prometheus:\n    volumes: ["./etc/prometheus:/etc/prometheus", "prom_data:/prometheus"]\n');
    const def = loadStack([join(FIXTURES, 'prometheus-grafana.yaml'), join(root, 'fix.yml')], 'demo', {}, () => {});
    assert.deepEqual(mounts(def, 'demo_prometheus'), [bind(join(FIXTURES, 'etc/prometheus'), '/etc/prometheus'), stackVolume('demo_prom_data', '/prometheus')]);
    assert.deepEqual(mounts(def, 'demo_grafana'), [bind(join(FIXTURES, 'grafana'), '/etc/grafana/provisioning/datasources')]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a problem every service shares (the default network\'s name too long) is said once, not once per service', () => {
  const root = mkdtempSync(join(tmpdir(), 'baton-composevol-'));
  try {
    writeFileSync(join(root, 'compose.yml'), 'services:\n  a:\n    image: x\n  b:\n    image: x\n');
    const stack = 's'.repeat(56);
    assert.throws(() => loadStack([join(root, 'compose.yml')], stack, {}, () => {}), {
      message: `stack ${stack}: its default network (for the services that name no network) would be ${stack}_default, which the manager would refuse: network name "${stack}_default" is 64 characters, more than the limit of 63`,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
