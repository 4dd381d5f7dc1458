// `x-baton-autoscale: {min, max, rps}` in a stack file: the same autoscale spec as the flags,
// and every problem of it said at once with its path.
import test from 'node:test';
import assert from 'node:assert/strict';
import { errorOf, loadYaml } from './compose-helpers.js';

const file = (autoscale: string): string => `services:\n  web:\n    image: busybox\n    x-baton-autoscale: ${autoscale}\n`;

test('x-baton-autoscale lands in the spec; min defaults to 1', () => {
  const [spec] = loadYaml(file('{ min: 2, max: 5, rps: 10 }')).def.services;
  assert.deepEqual(spec?.autoscale, { min: 2, max: 5, targetRps: 10 });
  assert.deepEqual(loadYaml(file('{ max: 3, rps: 0.5 }')).def.services[0]?.autoscale, { min: 1, max: 3, targetRps: 0.5 });
  assert.equal(loadYaml(`services:\n  web:\n    image: busybox\n`).def.services[0]?.autoscale, undefined);
});

test('x-baton-autoscale problems are refused with their path', () => {
  assert.match(errorOf(file('{ min: 1, rps: 1 }')), /services\.web\.x-baton-autoscale needs max/);
  assert.match(errorOf(file('{ max: 2, rps: -1 }')), /services\.web\.x-baton-autoscale\.rps must be a number/);
  assert.match(errorOf(file('{ min: 4, max: 2, rps: 1 }')), /autoscale min 4 is more than autoscale max 2/);
  assert.match(errorOf(file('{ max: 2, rps: 1, cpu: 50 }')), /x-baton-autoscale/);
  assert.match(errorOf(file('yes')), /x-baton-autoscale must be a mapping/);
});
