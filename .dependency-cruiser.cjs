// The import directions of DESIGN.md section 1, enforced on the TypeScript sources by
// `npm run lint`. A folder's imports say what it depends on; these rules keep each folder
// owning one thing: raft/ a reusable library, worker/ a pure gRPC client of the managers,
// cli/ a thin client, tests and benchmarks outside the product.
//
// Type-only imports count (tsPreCompilationDeps): a worker that imports a manager type is
// coupled to manager code even though nothing of it is loaded at run time.

/** Every top-level folder of the project's own code (the product, tests and benchmarks). */
const PROJECT = '^(proto|src|raft|manager|worker|dispatcher|cli|test|bench)/';

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
    {
      name: 'proto-imports-only-proto',
      severity: 'error',
      comment: 'proto/ is the bottom of the graph: every folder may import it, so it imports nothing of ours.',
      from: { path: '^proto/' },
      to: { path: PROJECT, pathNot: '^proto/' },
    },
    {
      name: 'raft-imports-only-proto',
      severity: 'error',
      comment: 'raft/ is a library (DESIGN.md 1-2): it imports nothing of the project but proto/.',
      from: { path: '^raft/' },
      to: { path: PROJECT, pathNot: '^(raft|proto)/' },
    },
    {
      name: 'worker-not-to-control-plane',
      severity: 'error',
      comment: 'A worker only speaks gRPC to managers (DESIGN.md 1, 5): it never imports manager, dispatcher or raft code.',
      from: { path: '^worker/' },
      to: { path: '^(manager|dispatcher|raft)/' },
    },
    {
      name: 'dispatcher-only-manager-store',
      severity: 'error',
      comment: 'dispatcher/ reads and writes cluster state through manager/store and nothing else of manager/; it never reaches into raft, workers or the cli.',
      from: { path: '^dispatcher/' },
      to: { path: '^(manager/(?!store/)|raft/|worker/|cli/)' },
    },
    {
      name: 'cli-only-client-and-proto',
      severity: 'error',
      comment: 'cli/ is a client (DESIGN.md 1, 7): cli -> src/client -> proto. Daemon, manager or worker code belongs behind the control API.',
      from: { path: '^cli/' },
      to: { path: PROJECT, pathNot: '^(cli/|src/client/|proto/)' },
    },
    {
      name: 'client-not-to-server',
      severity: 'error',
      comment: 'src/client is what the cli (and other programs) link: it speaks the control API and must not drag server code in.',
      from: { path: '^src/client/' },
      to: { path: '^(manager|dispatcher|worker|raft|cli)/|^src/(daemon|mesh)/' },
    },
    {
      name: 'manager-not-to-data-plane',
      severity: 'error',
      comment: 'manager/ may use raft/ but not dispatcher/, worker/ or cli/ (DESIGN.md 1): they depend on it, not the reverse.',
      from: { path: '^manager/' },
      to: { path: '^(dispatcher|worker|cli)/' },
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
