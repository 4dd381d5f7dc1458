// Lint with type information: the bugs that hurt an orchestrator most are the ones only the
// type checker can see, above all a promise nobody awaits (a Raft write whose failure vanishes,
// a gRPC handler that returns before its work is done). `npm run lint` runs this and
// dependency-cruiser (.dependency-cruiser.cjs); .ci/run fails on any error.
import { readFileSync } from 'node:fs';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/**
 * What git ignores (build output, generated proto code, people's scratch folders) is not ours
 * to lint. .gitignore patterns as ESLint ignore globs: one without an inner slash matches at
 * any depth, a leading slash anchors it to the root.
 */
function gitIgnored() {
  return readFileSync(new URL('.gitignore', import.meta.url), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('!'))
    .map((line) => {
      const anchored = line.startsWith('/') || line.replace(/\/$/, '').includes('/');
      const pattern = line.replace(/^\//, '');
      return anchored ? pattern : `**/${pattern}`;
    });
}

const TS_SOURCES = ['{proto,web,spec,rpc,raft,mesh,client,manager,worker,dispatcher,cli,src,test,bench}/**/*.ts'];

export default defineConfig(
  {
    // proto/gen is written by pbjs/pbts (scripts/gen-proto.sh), never by hand.
    ignores: ['**/dist/', '**/node_modules/', '**/proto/gen/', ...gitIgnored()],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  {
    files: TS_SOURCES,
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // Uses tsconfig.json, the same program `npm run build` compiles.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test queues top-level tests and suites itself; their promises need no await.
          // This also exempts t.test (same name, same package), but a subtest left running when
          // its parent ends is reported as a failure by the runner anyway.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'skip', 'todo', 'only'] },
          ],
        },
      ],
      // An async function passed where a void callback is expected (an EventEmitter listener,
      // a gRPC handler, setInterval) drops its rejection: an unhandled rejection kills the node.
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // An async method that happens not to await still honours an async interface.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      // `void x;` marks a parameter deliberately unused; `_name` does the same.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // A `let` that a callback reads before its one assignment (a transport handler that may
      // fire before the node it feeds exists) must stay `let`: as `const` that read would throw
      // in the temporal dead zone.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // The core rules worth having that @eslint/js (not a dependency here) would enable.
      'no-debugger': 'error',
      'no-dupe-keys': 'error',
      'no-unreachable': 'error',
      'no-self-compare': 'error',
      'no-unsafe-finally': 'error',
      'no-cond-assign': 'error',
      'no-constant-binary-expression': 'error',
      'no-async-promise-executor': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // An ES import of the process module reads every export of it, process.stdin included:
      // that makes standard input a non-blocking stream, and `baton secret create x -` then
      // fails with EAGAIN reading a pipe. The global `process` has everything.
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'node:process', message: 'use the global process: importing the module opens process.stdin (non-blocking: reads of a pipe fail with EAGAIN)' },
            { name: 'process', message: 'use the global process: importing the module opens process.stdin (non-blocking: reads of a pipe fail with EAGAIN)' },
          ],
        },
      ],
    },
  },
);
