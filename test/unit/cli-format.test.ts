// `--format` templates and `--filter` of the ls/ps commands, checked against what Docker prints
// for the same input. References: https://docs.docker.com/engine/cli/formatting/ (join, upper,
// lower, title, json, table and \t), https://docs.docker.com/reference/cli/docker/service/ps/
// ("{{.Name}}: {{.Image}}" → "top.1: busybox"; --filter desired-state), .../service/ls/
// ("{{.ID}}: {{.Mode}} {{.Replicas}}"), .../node/ls/ (filters id, label, node.label, membership,
// name, role) and Docker's "invalid filter 'foo'" for an unknown key.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { refusalOf as refusal } from '../lib/refusals.js';
import { goText, parseTemplate } from '../../cli/format-template.js';
import { renderInspect, renderList, type ListView } from '../../cli/list-format.js';
import { parseFilters, labelMatches } from '../../cli/filters.js';
import { parseTaskFilters, sortTasks, taskErrorText, taskFilterKeys, taskView } from '../../cli/task-table.js';
import { filterServices, parseServiceFilters } from '../../cli/service-list.js';
import { parseSince, timestampText } from '../../cli/log-options.js';
import { STACK_VIEW, stackRows } from '../../cli/stack.js';


test('templates: fields, literal text, functions and pipelines as Docker renders them', () => {
  const row = { ID: '0zmvwuiu3vue', Name: 'top.1', Image: 'busybox', Mode: 'replicated', Replicas: '10/10' };
  assert.equal(parseTemplate('{{.Name}}: {{.Image}}').render(row), 'top.1: busybox');
  assert.equal(parseTemplate('{{.ID}}: {{.Mode}} {{.Replicas}}').render(row), '0zmvwuiu3vue: replicated 10/10');
  assert.equal(parseTemplate('{{upper .Name}} {{lower "ABC"}} {{title "hello world"}}').render(row), 'TOP.1 abc Hello World');
  assert.equal(parseTemplate('{{.Image | upper}}').render(row), 'BUSYBOX');
  assert.equal(parseTemplate('{{truncate .ID 4}}').render(row), '0zmv');
  assert.equal(parseTemplate('{{join .Args " , "}}').render({ Args: ['-c', 'top'] }), '-c , top');
  assert.equal(parseTemplate('{{json .Mounts}}').render({ Mounts: [{ Type: 'volume' }] }), '[{"Type":"volume"}]');
  assert.equal(parseTemplate('{{json .}}').render({ A: '1' }), '{"A":"1"}');
  assert.equal(parseTemplate('{{.Name}}\\t{{.Image}}').render(row), 'top.1\tbusybox', 'a typed \\t is a tab');
  // Go's printing of maps, slices and missing values.
  assert.equal(goText({ b: 2, a: 'x' }), 'map[a:x b:2]');
  assert.equal(goText(['a', 'b']), '[a b]');
  assert.equal(goText(undefined), '<no value>');
});

test("templates on inspect objects: Docker's names over our JSON (Spec.Name, ID, Status.Addr)", () => {
  const node = { meta: { id: 'n1abc', version: 3 }, spec: { annotations: { name: '', labels: { zone: 'a' } } }, status: { addr: '127.0.0.1', state: 'NODE_READY' }, description: { hostname: 'worker-1' } };
  assert.equal(renderInspect('{{.Status.Addr}}', [node]), '127.0.0.1');
  assert.equal(renderInspect('{{.ID}} {{.Description.Hostname}}', [node]), 'n1abc worker-1');
  assert.equal(renderInspect('{{.Spec.Labels.zone}}', [node]), 'a', 'Spec embeds Annotations, as in Docker');
  assert.equal(renderInspect('{{.Version}}', [node]), '3', 'Meta is embedded');
  assert.deepEqual(JSON.parse(renderInspect('json', [node])), [node]);
  assert.deepEqual(JSON.parse(renderInspect(undefined, [node])), [node]);
});

test('a bad template is one line: unknown function, unknown field, unclosed action', () => {
  assert.equal(refusal(() => parseTemplate('{{nope .Name}}')), 'template parsing error: template: :1: function "nope" not defined');
  assert.match(refusal(() => parseTemplate('{{.Name}} {{.Foo}}').render({ Name: 'x' })), /^template: :1:\d+: executing "" at <\.Foo>: can't evaluate field Foo/);
  assert.match(refusal(() => parseTemplate('{{.Name')), /unclosed action/);
  assert.equal(refusal(() => parseTemplate('{{define "x"}}{{end}}')), 'template parsing error: template: :1: "define" is not supported by baton\'s --format');
  assert.equal(refusal(() => parseTemplate('{{range $i, $e := .X}}{{end}}')), "template parsing error: template: :1: variables are not supported by baton's --format");
  assert.equal(refusal(() => parseTemplate('{{if .A}}x')), 'template parsing error: template: :1: unexpected EOF');
  assert.equal(refusal(() => parseTemplate('x{{end}}')), 'template parsing error: template: :1: unexpected {{end}}');
  assert.equal(refusal(() => parseTemplate('{{else}}')), 'template parsing error: template: :1: unexpected {{else}}');
  assert.equal(refusal(() => parseTemplate('{{if}}{{end}}')), 'template parsing error: template: :1: missing value for if');
  assert.match(refusal(() => parseTemplate('{{range .N}}x{{end}}').render({ N: 5 })), /range can't iterate over 5$/);
});

// https://docs.docker.com/engine/cli/formatting/ (join, split, json, lower/upper/title, println
// inside range) and docker/cli's templates package for pad and truncate.
test("templates: if/else if/else/end, range (with else), with, and Docker's functions on its documented examples", () => {
  const container = {
    Name: '/web',
    Image: 'busybox:1',
    Args: ['-f', '-p', '80'],
    NetworkSettings: { Networks: { front: { IPAddress: '10.0.1.2' }, back: { IPAddress: '10.0.2.2' } } },
    Labels: { tier: 'front' },
    Empty: [],
  };
  const render = (format: string): string => parseTemplate(format).render(container);
  // Go ranges over a map in key order: back before front.
  assert.equal(render('{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}'), '10.0.2.2\n10.0.1.2\n');
  assert.equal(render('{{join .Args " , "}}'), '-f , -p , 80');
  assert.equal(render('{{split .Image ":"}}'), '[busybox 1]');
  assert.equal(render('{{index (split .Image ":") 1}}'), '1');
  assert.equal(render('{{json .Labels}}'), '{"tier":"front"}');
  assert.equal(render('[{{pad .Name 1 2}}]'), '[ /web  ]');
  assert.equal(render('[{{pad "" 1 2}}]'), '[]', 'an empty text is not padded');
  assert.equal(render('{{truncate .Image 4}}'), 'busy');
  assert.equal(render('{{if .Labels.tier}}tier={{.Labels.tier}}{{else}}no tier{{end}}'), 'tier=front');
  assert.equal(render('{{if .Empty}}some{{else if eq .Name "/web"}}web{{else}}other{{end}}'), 'web');
  assert.equal(render('{{if not .Empty}}none{{end}}'), 'none');
  assert.equal(render('{{range .Empty}}x{{else}}no items{{end}}'), 'no items');
  assert.equal(render('{{range .Args}}<{{.}}>{{end}}'), '<-f><-p><80>');
  assert.equal(render('{{with .Labels}}{{.tier}}{{end}}{{with .Empty}}x{{else}}-{{end}}'), 'front-');
  assert.equal(render('{{len .Args}} {{if and .Args (ne .Image "x")}}yes{{end}} {{or .Empty "fallback"}}'), '3 yes fallback');
  assert.equal(render('{{range .Args -}} {{.}} {{- end}}'), '-f-p80', 'trim markers inside a range');
});

interface Row { ID: string; Name: string; CurrentState: string }
const view: ListView<Row> = {
  row: (r) => ({ ...r }),
  headers: { ID: 'ID', Name: 'NAME', CurrentState: 'CURRENT STATE' },
  columns: ['ID', 'Name', 'CurrentState'],
  id: (r) => r.ID,
};
const rows: Row[] = [{ ID: 'a1', Name: 'web.1', CurrentState: 'Running' }, { ID: 'b2', Name: 'web.10', CurrentState: 'Pending' }];

test('listings: the default table, table templates with Docker headers, plain templates, -q, json', () => {
  assert.equal(renderList({}, rows, view), 'ID   NAME     CURRENT STATE\na1   web.1    Running\nb2   web.10   Pending');
  assert.equal(renderList({ format: 'table {{.Name}}\\t{{.CurrentState}}' }, rows, view), 'NAME     CURRENT STATE\nweb.1    Running\nweb.10   Pending');
  assert.equal(renderList({ format: '{{.Name}}' }, rows, view), 'web.1\nweb.10');
  assert.equal(renderList({ quiet: true }, rows, view), 'a1\nb2');
  // Docker's --format json: one object a line, keys sorted as Go's json.Marshal prints a map.
  assert.equal(renderList({ format: 'json' }, rows, view), '{"CurrentState":"Running","ID":"a1","Name":"web.1"}\n{"CurrentState":"Pending","ID":"b2","Name":"web.10"}');
  assert.equal(renderList({ format: '{{json .}}' }, rows, view), renderList({ format: 'json' }, rows, view));
});

test('filters: unknown keys refused in one line as Docker words them; OR within a key, AND across keys', () => {
  assert.equal(refusal(() => parseFilters(['foo=1', 'name=x', 'bar=2'], ['name'])), "invalid filter 'foo'; invalid filter 'bar'");
  assert.equal(refusal(() => parseFilters(['name'], ['name'])), 'bad format of filter (expected name=value)');
  assert.equal(refusal(() => parseTaskFilters({ filter: ['desired-state=sleeping', 'colour=red'] })), "invalid filter 'desired-state=sleeping'; invalid filter 'colour'");
  assert.equal(refusal(() => parseServiceFilters(['mode=sometimes'])), "invalid filter 'mode=sometimes'");
  assert.ok(labelMatches({ zone: 'a' }, 'zone'));
  assert.ok(labelMatches({ zone: 'a' }, 'zone=a'));
  assert.ok(!labelMatches({ zone: 'a' }, 'zone=b'));
  assert.ok(!labelMatches(undefined, 'zone'));
  const services: baton.Service.$Properties[] = [
    { meta: { id: 'abc1' }, spec: { annotations: { name: 'web', labels: { tier: 'front' } }, replicas: 2 } },
    { meta: { id: 'abd2' }, spec: { annotations: { name: 'worker' }, global: true } },
    { meta: { id: 'xyz3' }, spec: { annotations: { name: 'db', labels: { tier: 'back' } }, replicas: 1 } },
  ];
  const names = (words: string[]): string[] => filterServices(services, parseServiceFilters(words)).map((s) => s.spec?.annotations?.name ?? '');
  assert.deepEqual(names(['name=w']), ['web', 'worker'], 'name is a prefix, as swarm names');
  assert.deepEqual(names(['id=ab', 'mode=global']), ['worker']);
  assert.deepEqual(names(['label=tier=front', 'label=tier=back']), [], 'every label filter must match, as Docker\'s');
  assert.deepEqual(names(['name=w', 'name=d']), ['db', 'web', 'worker'], 'values of another key: any, and by name as Docker lists them');
  assert.deepEqual(names(['label=tier']), ['db', 'web']);
});

test('service ps rows: ids cut to 12, errors cut to 30 and quoted, history under its slot with \\_', () => {
  const at = Date.now();
  const task = (id: string, name: string, created: number, desired: baton.TaskState, state: baton.TaskState, err = ''): baton.Task.$Properties => ({
    meta: { id, createdAt: created },
    annotations: { name },
    nodeId: 'node1xxxxxxxxxxxxxxxxxxxx',
    desiredState: desired,
    status: { state, timestamp: at, err },
    spec: { container: { image: 'busybox:1' } },
  });
  const long = 'starting container failed: no such image anywhere';
  const tasks = sortTasks([
    task('aaaaaaaaaaaaaaaaaaaaaaaaa', 'web.1', 1, baton.TaskState.TASK_SHUTDOWN, baton.TaskState.TASK_FAILED, long),
    task('bbbbbbbbbbbbbbbbbbbbbbbbb', 'web.1', 2, baton.TaskState.TASK_RUNNING, baton.TaskState.TASK_RUNNING),
    task('ccccccccccccccccccccccccc', 'web.2', 3, baton.TaskState.TASK_RUNNING, baton.TaskState.TASK_RUNNING),
  ]);
  const nodes = [{ meta: { id: 'node1xxxxxxxxxxxxxxxxxxxx' }, description: { hostname: 'worker-1' } }];
  const v = taskView(tasks, nodes, true);
  const out = renderList({}, tasks, v).split('\n');
  assert.match(out[0]!, /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR\s+PORTS$/);
  assert.match(out[1]!, /^bbbbbbbbbbbb\s+web\.1\s+busybox:1\s+worker-1\s+Running\s+Running (less than a second|\d+ seconds?) ago$/);
  assert.match(out[2]!, /^aaaaaaaaaaaa\s+ \\_ web\.1\s+busybox:1\s+worker-1\s+Shutdown\s+Failed (less than a second|\d+ seconds?) ago\s+"starting container failed: no…"$/);
  assert.match(out[3]!, /^cccccccccccc\s+web\.2\s/);
  assert.equal(taskErrorText({ err: long }, false), `"${long}"`, '--no-trunc');
  assert.equal(taskView(tasks, nodes, false).row(tasks[0]!).ID, 'bbbbbbbbbbbbbbbbbbbbbbbbb');
  const keys = taskFilterKeys(nodes, 'node1xxxxxxxxxxxxxxxxxxxx');
  const pick = (words: string[]): string[] => parseTaskFilters({ filter: words }).apply(tasks, keys).map((t) => t.meta?.id?.[0] ?? '');
  assert.deepEqual(pick(['desired-state=running']), ['b', 'c']);
  assert.deepEqual(pick(['desired-state=shutdown']), ['a']);
  assert.deepEqual(pick(['node=self', 'name=web.2']), ['c']);
  assert.deepEqual(pick(['node=worker-1', 'id=a']), ['a']);
  assert.deepEqual(pick(['node=other']), []);
});

test('logs: --since as a duration or a time, timestamps in RFC3339Nano as Go prints them', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  assert.equal(parseSince('10m', now), now - 600_000);
  assert.equal(parseSince('2026-12-06T11:00:00Z', now), Date.parse('2026-12-06T11:00:00Z'));
  assert.equal(parseSince('1700000000', now), 1_700_000_000_000);
  assert.match(refusal(() => parseSince('yesterday', now)), /^bad --since "yesterday"/);
  assert.equal(timestampText(Date.parse('2026-12-06T12:00:01.120Z')), '2026-12-06T12:00:01.12Z');
  assert.equal(timestampText(Date.parse('2026-12-06T12:00:01.000Z')), '2026-12-06T12:00:01Z');
});

test('stack ls: stacks counted from the namespace label, in Docker\'s columns and template fields', () => {
  // docs.docker.com/reference/cli/docker/stack/ls/: `--format "{{.Name}}: {{.Services}}"` → "web-server: 1".
  const svc = (name: string, stack: string): baton.Service.$Properties => ({ spec: { annotations: { name, labels: { 'com.docker.stack.namespace': stack } } } });
  const rows = stackRows([svc('web-cache_a', 'web-cache'), svc('web-server_a', 'web-server'), svc('web-cache_b', 'web-cache')]);
  assert.deepEqual(rows, [{ name: 'web-cache', services: 2 }, { name: 'web-server', services: 1 }]);
  assert.equal(renderList({ format: '{{.Name}}: {{.Services}}' }, rows, STACK_VIEW), 'web-cache: 2\nweb-server: 1');
  assert.equal(renderList({}, rows, STACK_VIEW), 'NAME         SERVICES\nweb-cache    2\nweb-server   1');
  assert.equal(renderList({ format: 'json' }, rows, STACK_VIEW), '{"Name":"web-cache","Services":"2"}\n{"Name":"web-server","Services":"1"}');
});

test("a table template with a block: Docker's header names for the fields it reads", () => {
  assert.equal(renderList({ format: 'table {{.Name}}\t{{if .CurrentState}}{{.CurrentState}}{{end}}' }, rows, view), 'NAME     CURRENT STATE\nweb.1    Running\nweb.10   Pending');
});
