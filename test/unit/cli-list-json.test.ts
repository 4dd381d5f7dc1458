// `ls`/`ps --format json` in Docker's shape: one flat object per line, the keys the template
// fields of Docker's row context for that listing (sorted, as Go's json.Marshal prints a map),
// values as the table shows them; `{{json .}}` the same object. References, per listing:
// - node ls: https://docs.docker.com/reference/cli/docker/node/ls/ (its `--format json` sample:
//   {"Availability":"Active","EngineVersion":"23.0.3","Hostname":"docker-desktop","ID":"...",
//   "ManagerStatus":"Leader","Self":true,"Status":"Ready","TLSStatus":"Ready"}) and docker/cli
//   cli/command/node/formatter.go;
// - service ls / stack services: docker/cli cli/command/service/formatter.go (ID Image Mode Name
//   Ports Replicas); service ps / node ps / stack ps: cli/command/task/formatter.go;
// - secret ls: cli/command/secret/formatter.go (CreatedAt Driver ID Labels Name UpdatedAt), config
//   ls: cli/command/config/formatter.go (the same without Driver);
// - network ls: cli/command/network/formatter.go (CreatedAt Driver ID IPv4 IPv6 Internal Labels
//   Name Scope) and https://docs.docker.com/reference/cli/docker/network/ls/ (filters type=custom|
//   builtin, dangling=true|false);
// - volume ls: cli/command/formatter/volume.go; stack ls: cli/command/stack/formatter.
// Label filters: Docker requires every label= (and node.label=) given to match.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { refusalOf as refusal } from '../lib/refusals.js';
import { renderList, rowJson } from '../../cli/list-format.js';
import { nodeRow } from '../../cli/node.js';
import { filterNodes, nodeView, parseNodeFilters } from '../../cli/node-ps.js';
import { filterServices, parseServiceFilters, serviceView } from '../../cli/service-list.js';
import { taskView } from '../../cli/task-table.js';
import { dataView, filterData, parseDataFilters, type DataObject } from '../../cli/data-command.js';
import { NETWORK_VIEW, filterNetworks, goTimeText, parseNetworkFilters } from '../../cli/network.js';
import { VOLUME_VIEW } from '../../cli/volume.js';
import { STACK_VIEW } from '../../cli/stack.js';
import { humanDuration } from '../../cli/task-object.js';

/** The objects `--format json` printed, one a line. */
function lines(text: string): Record<string, unknown>[] {
  return text.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

function keysOf(text: string): string[][] {
  return lines(text).map((o) => Object.keys(o));
}


const node = (id: string, hostname: string, role: baton.NodeRole, labels: Record<string, string> = {}, leader = false): baton.Node.$Properties => ({
  meta: { id },
  role,
  description: { hostname, engineVersion: '27.3.1', engineLabels: { zone: 'a' } },
  status: { state: baton.NodeState.NODE_READY, addr: '127.0.0.1' },
  spec: { availability: baton.NodeAvailability.ACTIVE, annotations: { labels } },
  ...(role === baton.NodeRole.MANAGER ? { managerStatus: { leader, reachability: baton.Reachability.REACHABLE } } : {}),
});
const NODES = [
  node('m1aaaaaaaaaaaaaaaaaaaaaaa', 'manager-1', baton.NodeRole.MANAGER, { disk: 'ssd', rack: 'r1' }, true),
  node('w1bbbbbbbbbbbbbbbbbbbbbbb', 'worker-1', baton.NodeRole.WORKER, { disk: 'ssd' }),
];

test('node ls --format json: one object a line with Docker\'s keys, Self a bool; {{json .}} the same', () => {
  const view = nodeView((n) => nodeRow(n, 'm1aaaaaaaaaaaaaaaaaaaaaaa'));
  const out = renderList({ format: 'json' }, NODES, view);
  // Docker's keys, sorted as Go prints them, and baton's Address (the node's advertise address).
  assert.deepEqual(keysOf(out), [0, 1].map(() => ['Address', 'Availability', 'EngineVersion', 'Hostname', 'ID', 'ManagerStatus', 'Self', 'Status', 'TLSStatus']));
  assert.deepEqual(lines(out)[0], { Address: '127.0.0.1', Availability: 'Active', EngineVersion: '27.3.1', Hostname: 'manager-1', ID: 'm1aaaaaaaaaaaaaaaaaaaaaaa', ManagerStatus: 'Leader', Self: true, Status: 'Ready', TLSStatus: 'Unknown' });
  assert.equal(lines(out)[1]!.Self, false);
  assert.equal(lines(out)[1]!.ManagerStatus, '');
  assert.equal(renderList({ format: '{{json .}}' }, NODES, view), out);
  // Self is Go's bool: `{{if .Self}}` is false for the other nodes (a "false" text would be true).
  assert.equal(renderList({ format: '{{.Hostname}}{{if .Self}} *{{end}}' }, NODES, view), 'manager-1 *\nworker-1');
  // The default table marks the node the CLI talks to after its ID, as Docker's.
  const table = renderList({}, NODES, nodeView((n) => nodeRow(n, 'm1aaaaaaaaaaaaaaaaaaaaaaa', true))).split('\n');
  assert.match(table[1]!, /^m1a+ \*\s+manager-1\s+Ready\s+Active\s+Leader\s+127\.0\.0\.1$/);
});

test('node ls filters: every label= and node.label= must match, as Docker\'s', () => {
  const hosts = (words: string[]): string[] => filterNodes(NODES, parseNodeFilters(words)).map((n) => n.description?.hostname ?? '');
  assert.deepEqual(hosts(['node.label=disk=ssd']), ['manager-1', 'worker-1']);
  assert.deepEqual(hosts(['node.label=disk=ssd', 'node.label=rack']), ['manager-1'], 'both labels');
  assert.deepEqual(hosts(['node.label=rack=r2']), []);
  assert.deepEqual(hosts(['label=zone=a', 'label=zone']), ['manager-1', 'worker-1'], 'label= reads the engine labels');
  assert.deepEqual(hosts(['label=zone=a', 'label=other']), []);
  assert.deepEqual(hosts(['role=worker', 'role=manager']), ['manager-1', 'worker-1'], 'values of other keys: any of them');
});

const SERVICES: baton.Service.$Properties[] = [
  {
    meta: { id: 'svc1aaaaaaaaaaaaaaaaaaaaa' },
    spec: { annotations: { name: 'web', labels: { tier: 'front', team: 'a' } }, replicas: 2, task: { container: { image: 'nginx:1' } } },
    endpoint: { ports: [{ publishedPort: 8080, targetPort: 80, protocol: baton.PortProtocol.TCP, publishMode: baton.PublishMode.INGRESS }] },
  },
  { meta: { id: 'svc2bbbbbbbbbbbbbbbbbbbbb' }, spec: { annotations: { name: 'db', labels: { tier: 'back', team: 'a' } }, global: true, task: { container: { image: 'pg:16' } } } },
];

test('service ls --format json: ID Image Mode Name Ports Replicas; <, > and & escaped as Go\'s json.Marshal does', () => {
  const at = Date.now();
  const tasks: baton.Task.$Properties[] = [1, 2].map((slot) => ({ serviceId: 'svc1aaaaaaaaaaaaaaaaaaaaa', desiredState: baton.TaskState.TASK_RUNNING, status: { state: baton.TaskState.TASK_RUNNING, timestamp: at }, slot }));
  const view = serviceView(tasks);
  const out = renderList({ format: 'json' }, SERVICES, view);
  assert.deepEqual(keysOf(out), [0, 1].map(() => ['ID', 'Image', 'Mode', 'Name', 'Ports', 'Replicas']));
  const web = out.split('\n')[0]!;
  // docker service ls --format json prints "*:8080-\u003e80/tcp" (the row marshals through json.Marshal).
  assert.ok(web.includes('"Ports":"*:8080-\\u003e80/tcp"'), web);
  assert.deepEqual(lines(out)[0], { ID: 'svc1aaaaaaaaaaaaaaaaaaaaa', Image: 'nginx:1', Mode: 'replicated', Name: 'web', Ports: '*:8080->80/tcp', Replicas: '2/2' });
  assert.equal(renderList({ format: '{{json .}}' }, SERVICES, view), out);
  // A field alone is not escaped: Docker's json function turns HTML escaping off.
  assert.equal(renderList({ format: '{{json .Ports}}' }, SERVICES.slice(0, 1), view), '"*:8080->80/tcp"');
  assert.equal(rowJson({ B: 'a&b<c>', A: true }), '{"A":true,"B":"a\\u0026b\\u003cc\\u003e"}');
});

test('service ls filters: every label must match; name and id prefixes', () => {
  const names = (words: string[]): string[] => filterServices(SERVICES, parseServiceFilters(words)).map((s) => s.spec?.annotations?.name ?? '');
  assert.deepEqual(names(['label=team=a']), ['db', 'web']);
  assert.deepEqual(names(['label=team=a', 'label=tier=front']), ['web']);
  assert.deepEqual(names(['label=team', 'label=tier=middle']), []);
});

test('service ps --format json: Docker\'s task keys, the table\'s values', () => {
  const at = Date.now();
  const tasks: baton.Task.$Properties[] = [
    { meta: { id: 'taskaaaaaaaaaaaaaaaaaaaaa', createdAt: at }, annotations: { name: 'web.1' }, nodeId: 'w1bbbbbbbbbbbbbbbbbbbbbbb', desiredState: baton.TaskState.TASK_RUNNING, status: { state: baton.TaskState.TASK_RUNNING, timestamp: at }, spec: { container: { image: 'nginx:1' } } },
  ];
  const out = renderList({ format: 'json' }, tasks, taskView(tasks, NODES, true));
  assert.deepEqual(keysOf(out), [['CurrentState', 'DesiredState', 'Error', 'ID', 'Image', 'Name', 'Node', 'Ports']]);
  const row = lines(out)[0]!;
  assert.equal(row.ID, 'taskaaaaaaaa', 'cut to 12 as the table');
  assert.equal(row.Node, 'worker-1');
  assert.equal(row.DesiredState, 'Running');
  assert.match(String(row.CurrentState), /^Running (less than a second|\d+ seconds?) ago$/);
});

const DATA: DataObject[] = [
  { meta: { id: 'sec1aaaaaaaaaaaaaaaaaaaaa', createdAt: 1_000_000, updatedAt: 1_000_000 }, spec: { annotations: { name: 'db_password', labels: { app: 'shop', env: 'prod' } } } },
  { meta: { id: 'sec2bbbbbbbbbbbbbbbbbbbbb', createdAt: 1_000_000, updatedAt: 1_000_000 }, spec: { annotations: { name: 'api_key', labels: { app: 'shop' } } } },
];

test('secret ls and config ls --format json: Docker\'s keys (secrets with Driver), ages in Docker\'s words', () => {
  const now = 1_000_000 + 75_000;
  const secrets = renderList({ format: 'json' }, DATA, dataView('secret', now));
  assert.deepEqual(keysOf(secrets), [0, 1].map(() => ['CreatedAt', 'Driver', 'ID', 'Labels', 'Name', 'UpdatedAt']));
  assert.deepEqual(lines(secrets)[0], { CreatedAt: 'About a minute ago', Driver: '', ID: 'sec1aaaaaaaaaaaaaaaaaaaaa', Labels: 'app=shop,env=prod', Name: 'db_password', UpdatedAt: 'About a minute ago' });
  assert.deepEqual(keysOf(renderList({ format: 'json' }, DATA, dataView('config', now))), [0, 1].map(() => ['CreatedAt', 'ID', 'Labels', 'Name', 'UpdatedAt']));
  // Docker's default tables: secret ls has DRIVER, config ls not.
  assert.match(renderList({}, DATA, dataView('secret', now)).split('\n')[0]!, /^ID\s+NAME\s+DRIVER\s+CREATED\s+UPDATED$/);
  assert.match(renderList({}, DATA, dataView('config', now)).split('\n')[0]!, /^ID\s+NAME\s+CREATED\s+UPDATED$/);
  assert.equal(renderList({ format: '{{.Name}} {{.CreatedAt}}' }, DATA.slice(1), dataView('config', now)), 'api_key About a minute ago');
});

test('secret ls filters: name and id prefixes, every label must match, bad keys in Docker\'s words', () => {
  const names = (words: string[]): string[] => filterData(DATA, parseDataFilters(words)).map((o) => o.spec?.annotations?.name ?? '');
  assert.deepEqual(names(['name=db']), ['db_password']);
  assert.deepEqual(names(['id=sec2']), ['api_key']);
  assert.deepEqual(names(['label=app=shop', 'label=env=prod']), ['db_password']);
  assert.deepEqual(names(['label=app=shop']), ['db_password', 'api_key']);
  assert.equal(refusal(() => parseDataFilters(['driver=x', 'colour=red'])), "invalid filter 'driver'; invalid filter 'colour'");
});

const NETWORKS: baton.Network.$Properties[] = [
  { meta: { id: 'net1aaaaaaaaaaaaaaaaaaaaa', createdAt: Date.parse('2026-12-07T04:09:57.120Z') }, spec: { annotations: { name: 'back', labels: { app: 'shop' } }, driver: 'overlay' } },
  { meta: { id: 'net2bbbbbbbbbbbbbbbbbbbbb', createdAt: Date.parse('2026-12-07T04:10:00.000Z') }, spec: { annotations: { name: 'spare' }, driver: 'overlay', internal: true } },
];

test('network ls --format json: Docker\'s keys, CreatedAt as Go prints a time; Go templates', () => {
  const out = renderList({ format: 'json' }, NETWORKS, NETWORK_VIEW);
  assert.deepEqual(keysOf(out), [0, 1].map(() => ['CreatedAt', 'Driver', 'ID', 'IPv4', 'IPv6', 'Internal', 'Labels', 'Name', 'Scope']));
  assert.deepEqual(lines(out)[0], { CreatedAt: '2026-12-07 04:09:57.12 +0000 UTC', Driver: 'overlay', ID: 'net1aaaaaaaaaaaaaaaaaaaaa', IPv4: 'true', IPv6: 'false', Internal: 'false', Labels: 'app=shop', Name: 'back', Scope: 'swarm' });
  assert.equal(goTimeText(Date.parse('2026-12-07T04:10:00.000Z')), '2026-12-07 04:10:00 +0000 UTC');
  assert.equal(renderList({ format: 'table {{.Name}}\t{{.Internal}}' }, NETWORKS, NETWORK_VIEW), 'NAME    INTERNAL\nback    false\nspare   true');
});

test('network ls filters: type=custom|builtin, dangling=true|false, bad values in Docker\'s words', () => {
  const services: baton.Service.$Properties[] = [{ spec: { annotations: { name: 'web' }, task: { networks: [{ target: 'net1aaaaaaaaaaaaaaaaaaaaa' }] } } }];
  const names = (words: string[]): string[] => filterNetworks(NETWORKS, parseNetworkFilters(words), services).map((n) => n.spec?.annotations?.name ?? '');
  assert.deepEqual(names(['type=custom']), ['back', 'spare'], 'every network here is made by a user');
  assert.deepEqual(names(['type=builtin']), []);
  assert.deepEqual(names(['dangling=true']), ['spare'], 'no service joins it');
  assert.deepEqual(names(['dangling=false']), ['back']);
  assert.deepEqual(names(['dangling=1', 'type=custom']), ['spare']);
  assert.equal(refusal(() => parseNetworkFilters(['type=special', 'dangling=maybe'])), "invalid filter 'type=special'; invalid filter 'dangling=maybe'");
});

test('volume ls: Docker\'s keys and baton\'s Node in json, Go templates, the default table', () => {
  const volumes: baton.Volume.$Properties[] = [
    { name: 'data', driver: 'local', mountpoint: '/v/data', labels: { app: 'shop' }, scope: 'local', node: 'worker-1', nodeId: 'w1' },
    { name: 'logs', driver: 'local', mountpoint: '/v/logs', scope: 'local', node: 'manager-1', nodeId: 'm1' },
  ];
  const out = renderList({ format: 'json' }, volumes, VOLUME_VIEW);
  assert.deepEqual(keysOf(out), [0, 1].map(() => ['Availability', 'Driver', 'Group', 'Labels', 'Links', 'Mountpoint', 'Name', 'Node', 'Scope', 'Size', 'Status']));
  assert.deepEqual(lines(out)[0], { Availability: 'N/A', Driver: 'local', Group: 'N/A', Labels: 'app=shop', Links: 'N/A', Mountpoint: '/v/data', Name: 'data', Node: 'worker-1', Scope: 'local', Size: 'N/A', Status: 'N/A' });
  assert.equal(renderList({ format: '{{.Name}}@{{.Node}}' }, volumes, VOLUME_VIEW), 'data@worker-1\nlogs@manager-1');
  assert.equal(renderList({ format: 'table {{.Name}}\t{{.Mountpoint}}' }, volumes, VOLUME_VIEW), 'VOLUME NAME   MOUNTPOINT\ndata          /v/data\nlogs          /v/logs');
  assert.equal(renderList({}, volumes, VOLUME_VIEW).split('\n')[0], 'DRIVER   VOLUME NAME   NODE');
});

test('stack ls --format json: Name and Services', () => {
  assert.equal(renderList({ format: 'json' }, [{ name: 'shop', services: 3 }], STACK_VIEW), '{"Name":"shop","Services":"3"}');
});

test("ages as Docker's go-units HumanDuration words them", () => {
  const s = 1000;
  assert.equal(humanDuration(400), 'Less than a second');
  assert.equal(humanDuration(1 * s), '1 second');
  assert.equal(humanDuration(45 * s), '45 seconds');
  assert.equal(humanDuration(90 * s), 'About a minute');
  assert.equal(humanDuration(5 * 60 * s), '5 minutes');
  assert.equal(humanDuration(70 * 60 * s), 'About an hour');
  assert.equal(humanDuration(3 * 3600 * s), '3 hours');
  assert.equal(humanDuration(3 * 86400 * s), '3 days');
  assert.equal(humanDuration(21 * 86400 * s), '3 weeks');
  assert.equal(humanDuration(120 * 86400 * s), '4 months');
  assert.equal(humanDuration(800 * 86400 * s), '2 years');
});
