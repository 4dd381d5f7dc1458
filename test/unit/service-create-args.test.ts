// `service create IMAGE COMMAND ARGS`: everything from the image on is the task's, also when
// global options come before the command (found walking the networks section of the README:
// `baton --data-dir D service create … httpd -f -p 80` read -f and -p as baton's).
import test from 'node:test';
import assert from 'node:assert/strict';
import { separateTaskCommand } from '../../cli/service.js';

test('the task command is separated from baton options, with or without global options first', () => {
  assert.deepEqual(separateTaskCommand(['service', 'create', '--name', 'web', 'img', 'httpd', '-f', '-p', '80']), ['service', 'create', '--name', 'web', '--', 'img', 'httpd', '-f', '-p', '80']);
  assert.deepEqual(
    separateTaskCommand(['--data-dir', '/d', 'service', 'create', '--name', 'web', '--detach', 'img', 'httpd', '-f']),
    ['--data-dir', '/d', 'service', 'create', '--name', 'web', '--detach', '--', 'img', 'httpd', '-f'],
  );
  assert.deepEqual(separateTaskCommand(['--data-dir=/d', 'service', 'create', '--name=web', 'img', '-x']), ['--data-dir=/d', 'service', 'create', '--name=web', '--', 'img', '-x']);
  // Other commands, and a command line that already has `--`, are left alone.
  assert.deepEqual(separateTaskCommand(['--data-dir', '/d', 'service', 'update', '--image', 'x', 'web']), ['--data-dir', '/d', 'service', 'update', '--image', 'x', 'web']);
  assert.deepEqual(separateTaskCommand(['service', 'create', '--name', 'w', '--', 'img', '-f']), ['service', 'create', '--name', 'w', '--', 'img', '-f']);
});
