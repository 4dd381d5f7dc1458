// The import directions of docs/architecture.md ("Floors"), enforced on the TypeScript sources
// by `npm run lint`. Each top-level folder sits on a floor and may import only folders on the
// floors below it (and itself); nothing imports up, and nothing forms a loop.
//
// Type-only imports count (tsPreCompilationDeps): a worker that imports a manager type is
// coupled to manager code even though nothing of it is loaded at run time.

/** Every top-level folder of the project's own code (the product, tests and benchmarks). */
const PROJECT = '^(proto|web|spec|rpc|raft|mesh|client|manager|worker|dispatcher|cli|src|test|bench)/';

/**
 * What each product folder may import besides itself, from the ground up. A folder not listed
 * here (test/, bench/) may import any product folder.
 */
const MAY_IMPORT = {
  proto: [],
  web: [],
  spec: ['proto'],
  rpc: ['proto'],
  raft: ['proto'],
  mesh: ['proto'],
  client: ['proto', 'spec', 'rpc'],
  worker: ['proto', 'spec', 'rpc'],
  manager: ['proto', 'web', 'spec', 'rpc', 'raft'],
  dispatcher: ['proto', 'spec', 'rpc', 'manager/store'],
  cli: ['proto', 'spec', 'client'],
  src: ['proto', 'web', 'spec', 'rpc', 'raft', 'mesh', 'client', 'manager', 'worker', 'dispatcher', 'cli'],
};

const WHY = {
  proto: 'proto/ is the ground: every folder may import it, so it imports nothing of ours.',
  web: 'web/ is the browser page and the JSON it reads: it runs in a browser, so it imports nothing of ours.',
  spec: 'spec/ is the one vocabulary of a service (durations, sizes, ports, limits, defaults): only proto/ under it.',
  rpc: 'rpc/ (typed gRPC client/server, errors, TLS identity) is the ground every part speaks through.',
  raft: 'raft/ is a reusable library: it imports nothing of the project but proto/.',
  mesh: 'mesh/ is the data plane: it is given its table, it does not ask the control plane for it.',
  client: 'client/ is the SDK the cli and other programs link: it must not drag server code in.',
  worker: 'A worker only speaks gRPC to managers: it never imports manager, dispatcher or raft code.',
  manager: 'manager/ may use raft/ but not the dispatcher, workers, the mesh or the cli: they depend on it.',
  dispatcher: 'dispatcher/ reads and writes cluster state through manager/store and nothing else of manager/.',
  cli: 'cli/ is a client: cli -> client -> rpc. Daemon, manager or worker code belongs behind the control API.',
  src: 'src/ is the top floor: the baton binary and the daemon wiring.',
};

function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const layerRules = Object.entries(MAY_IMPORT).map(([folder, allowed]) => ({
  name: `${folder}-imports-only-below`,
  severity: 'error',
  comment: WHY[folder],
  from: { path: `^${folder}/` },
  to: { path: PROJECT, pathNot: `^(${[folder, ...allowed].map((f) => `${escape(f)}/`).join('|')})` },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes load order matter and the two modules one unit: split out what both need.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing: a typo, a missing `.js` file extension, or a package not in package.json.',
      from: {},
      to: { couldNotResolve: true },
    },
    ...layerRules,
    {
      name: 'raft-through-its-door',
      severity: 'error',
      comment: 'raft/index.ts is the library\'s only door: code outside raft/ imports nothing else of it.',
      from: { path: '^(?!raft/)', pathNot: '^(test|bench)/' },
      to: { path: '^raft/', pathNot: '^raft/index\\.ts$' },
    },
    {
      name: 'only-tests-import-tests',
      severity: 'error',
      comment: 'test/ and bench/ are not part of the product: only they may import test/ or bench/ code.',
      from: { pathNot: '^(test|bench)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    // dist/ is compiled output of the same sources; the lint runs on the TypeScript itself.
    exclude: { path: '^(dist|node_modules|coverage)/' },
    // Generated code (scripts/gen-proto.sh) and packages are endpoints, not part of the graph.
    doNotFollow: { path: ['node_modules', '^proto/gen/'] },
    tsPreCompilationDeps: true,
    // Resolves `./x.js` imports to `./x.ts`, as tsc does with NodeNext.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
