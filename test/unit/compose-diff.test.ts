// Re-deploy planning: the spec stack deploy would send against the one the cluster stored (after
// the control API's own normalisation): unchanged services untouched, changed ones updated,
// new ones created, ones gone from the file orphaned (removed only with --prune).
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../client/index.js';
import { acceptServiceSpec as validateServiceSpec } from '../../manager/controlapi/services.js';
import { canonicalSpec, planServices, sameSpec } from '../../cli/compose/diff.js';
import { loadYaml } from './compose-helpers.js';

const YAML = `
services:
  web:
    image: local/busybox:1
    command: httpd -f -p 80
    environment: [A=1, B=2]
    ports: ["8080:80", "9000"]
    deploy:
      replicas: 2
      labels: { z: last, a: first }
      update_config: { parallelism: 2, max_failure_ratio: 0.3, order: start-first }
      resources: { limits: { memory: 64M } }
  api:
    image: local/busybox:1
    healthcheck: { test: "true", interval: 2s }
`;

/** What the cluster keeps: the spec through the control API's validation, and the wire. */
function stored(spec: baton.ServiceSpec.$Properties, id: string, forceUpdate = 0): baton.Service.$Properties {
  const s = validateServiceSpec(spec);
  s.task!.forceUpdate = forceUpdate;
  const wire = baton.Service.decode(baton.Service.encode({ meta: { id, version: 7 }, spec: s }).finish());
  return baton.Service.toObject(wire, { longs: Number, defaults: false });
}

test('the same file again: nothing to do', () => {
  const { def } = loadYaml(YAML);
  const existing = def.services.map((s, i) => stored(s, `id${i}`, i === 0 ? 3 : 0));
  const plan = planServices(existing, loadYaml(YAML).def.services);
  assert.deepEqual(plan.create, []);
  assert.deepEqual(plan.update, []);
  assert.deepEqual(plan.orphaned, []);
  assert.deepEqual(plan.unchanged.map((s) => s.meta?.id), ['id0', 'id1']);
});

test('one change: only that service is updated, keeping its force-update counter', () => {
  const existing = loadYaml(YAML).def.services.map((s, i) => stored(s, `id${i}`, 3));
  const changed = loadYaml(YAML.replace('B=2', 'B=3')).def.services;
  const plan = planServices(existing, changed);
  assert.deepEqual(plan.update.map((u) => u.service.meta?.id), ['id0']);
  assert.equal(plan.update[0]!.spec.task?.forceUpdate, 3);
  assert.deepEqual(plan.update[0]!.spec.task?.container?.env, ['A=1', 'B=3']);
  assert.deepEqual(plan.unchanged.map((s) => s.meta?.id), ['id1']);
});

test('added and removed services', () => {
  const existing = loadYaml(YAML).def.services.map((s, i) => stored(s, `id${i}`));
  const next = loadYaml(YAML.replace('  api:', '  worker:')).def.services;
  const plan = planServices(existing, next);
  assert.deepEqual(plan.create.map((s) => s.annotations?.name), ['demo_worker']);
  assert.deepEqual(plan.orphaned.map((s) => s.meta?.id), ['id1']);
  assert.deepEqual(plan.unchanged.map((s) => s.meta?.id), ['id0']);
});

test('what counts as a change', () => {
  const base = loadYaml(YAML).def.services[0]!;
  const variants = [
    YAML.replace('replicas: 2', 'replicas: 3'),
    YAML.replace('"8080:80"', '"8081:80"'),
    YAML.replace('z: last', 'z: other'),
    YAML.replace('max_failure_ratio: 0.3', 'max_failure_ratio: 0.4'),
    YAML.replace('memory: 64M', 'memory: 65M'),
    YAML.replace('httpd -f -p 80', 'httpd -f -p 81'),
    YAML.replace('[A=1, B=2]', '[B=2, A=1]'),
  ];
  for (const v of variants) assert.equal(sameSpec(stored(base, 'x').spec ?? {}, loadYaml(v).def.services[0]!), false, v);
  // Not changes: the order of labels, unset versus zero values.
  assert.equal(sameSpec(stored(base, 'x').spec ?? {}, loadYaml(YAML.replace('{ z: last, a: first }', '{ a: first, z: last }')).def.services[0]!), true);
  assert.equal(canonicalSpec({ replicas: 0, task: { container: { env: [] } } }), canonicalSpec({}));
  assert.notEqual(canonicalSpec({ annotations: { labels: { a: '' } } }), canonicalSpec({}), 'an empty label is still a label');
});
