// `baton volume create|prune`, Docker's commands across the cluster. `create` makes the volume on
// every node (or the one `--node` names): a volume is of one node, and a service's task may land
// on any, so each node has it with the driver, options and labels given; it prints the name, as
// Docker. `prune` removes, on every node, the volumes baton made that nothing uses, and prints
// Docker's `Deleted Volumes:` and `Total reclaimed space:`. A node that did not answer is a
// warning on stderr; a node that refused (a driver it lacks, a name taken by another driver)
// fails the command, naming it.
import { randomBytes } from 'node:crypto';
import type { Argv } from 'yargs';
import type { baton } from '../client/index.js';
import { repeated, withClient, type GlobalArgs } from './context.js';
import { FlagProblems } from './flag-problems.js';
import { print } from './output.js';
import { echo, parseKeyValue, volumeNameProblem } from '../spec/index.js';

/** The manager waits up to 30 s for each node (manager/controlapi/volumes.ts): a little more. */
const CHANGE_TIMEOUT_MS = 40_000;

type CreateArgs = GlobalArgs & { name?: string; driver: string; opt?: string | string[]; label?: string | string[]; node?: string; runtime?: string };
type PruneArgs = GlobalArgs & { filter?: string | string[]; force?: boolean; all?: boolean; node?: string };

/** Docker's prompt before a prune, said of the whole cluster. */
export const PRUNE_WARNING = 'WARNING! This will remove all local volumes not used by at least one container, on every node of the cluster.\nAre you sure you want to continue? [y/N] ';

/** The CreateVolume request of `volume create`'s flags, every bad one reported at once. */
export function createVolumeRequest(args: Omit<CreateArgs, keyof GlobalArgs>): baton.CreateVolumeRequest.$Properties {
  const p = new FlagProblems();
  // No name: Docker makes an anonymous volume, named by 32 random bytes in hex.
  const name = args.name ?? randomBytes(32).toString('hex');
  const nameProblem = volumeNameProblem(name);
  if (nameProblem) p.add(nameProblem);
  if (args.driver === '') p.add('bad --driver "" (want a driver name, e.g. local)');
  const pairs = (values: string[], flag: string, valueRequired: boolean): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const v of values) {
      const [key, value] = p.take<[string, string]>(parseKeyValue(v, flag, valueRequired), ['', '']);
      if (key !== '') out[key] = value;
    }
    return out;
  };
  const options = pairs(repeated(args.opt), '--opt', true);
  const labels = pairs(repeated(args.label), '--label', false);
  const runtime = args.runtime ?? '';
  if (runtime !== '' && runtime !== 'docker' && runtime !== 'process') p.add(`bad --runtime "${echo(runtime)}" (want docker or process)`);
  if (runtime === 'process' && (args.driver !== 'local' || Object.keys(options).length > 0)) p.add('--runtime process makes a directory: --driver and --opt do not apply');
  p.check();
  return { name, driver: args.driver, options, labels, node: args.node ?? '', runtime };
}

/** `volume prune --filter`: Docker's label=K[=V] and label!=K[=V], every bad one at once. */
export function pruneFilters(values: readonly string[]): { labels: string[]; notLabels: string[] } {
  const f = { labels: [] as string[], notLabels: [] as string[] };
  const p = new FlagProblems();
  for (const v of values) {
    const eq = v.indexOf('=');
    const key = eq < 0 ? '' : v.slice(0, eq);
    const value = v.slice(eq + 1);
    if (key === 'label' && value !== '') f.labels.push(value);
    else if (key === 'label!' && value !== '') f.notLabels.push(value);
    else p.add(`bad --filter "${echo(v)}" (want label=K[=V] or label!=K[=V])`);
  }
  p.check();
  return f;
}

/** Docker's units.HumanSize: decimal units, four significant digits (0B, 36B, 1.842kB, 12.5MB). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let n = bytes;
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}

/** What `volume prune` prints: each name deleted once (whatever the number of nodes), then the space. */
export function pruneReport(deleted: readonly baton.Volume.$Properties[], spaceReclaimed: number): string {
  const names = [...new Set(deleted.map((v) => v.name ?? ''))];
  const head = names.length > 0 ? `Deleted Volumes:\n${names.join('\n')}\n\n` : '';
  return `${head}Total reclaimed space: ${humanSize(spaceReclaimed)}`;
}

/** One line of the user's answer (y or Y goes on, as Docker); end of input is no. */
export function confirmed(prompt: string, input: NodeJS.ReadableStream = process.stdin): Promise<boolean> {
  process.stdout.write(prompt);
  return new Promise((resolve) => {
    let text = '';
    const done = (): void => {
      input.off('data', onData);
      input.off('end', done);
      input.pause();
      resolve(/^y(es)?$/i.test(text.split('\n')[0]!.trim()));
    };
    const onData = (chunk: Buffer | string): void => {
      text += chunk.toString();
      if (text.includes('\n')) done();
    };
    input.on('data', onData);
    input.on('end', done);
    input.resume();
  });
}

function warn(warnings: readonly string[] | null | undefined): void {
  for (const w of warnings ?? []) process.stderr.write(`Warning: ${w}\n`);
}

/** `volume create` and `volume prune`, added to `baton volume`'s commands. */
export function volumeChangeCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command<CreateArgs>(
      'create [name]',
      'Create a volume on every node (or the one --node names)',
      (c) =>
        c
          .positional('name', { type: 'string', describe: 'the volume name (default: 64 random hex digits, as Docker)' })
          .option('driver', { alias: 'd', type: 'string', requiresArg: true, default: 'local', describe: 'volume driver name' })
          .option('opt', { alias: 'o', type: 'string', requiresArg: true, describe: 'driver option KEY=VALUE (repeatable)' })
          .option('label', { type: 'string', requiresArg: true, describe: 'KEY[=VALUE] (repeatable)' })
          .option('node', { type: 'string', requiresArg: true, describe: 'only on this node (id or hostname)' })
          .option('runtime', { type: 'string', requiresArg: true, describe: 'docker (an engine volume) or process (a directory); default: docker where the node has an engine' }),
      (args) => {
        const req = createVolumeRequest(args);
        return withClient(args, async (client) => {
          const res = await client.control.call('CreateVolume', req, CHANGE_TIMEOUT_MS);
          warn(res.warnings);
          print(req.name ?? '');
        });
      },
    )
    .command<PruneArgs>(
      'prune',
      'Remove the volumes no task or container uses, on every node',
      (c) =>
        c
          .option('filter', { type: 'string', requiresArg: true, describe: 'label=K[=V] or label!=K[=V] (repeatable)' })
          .option('force', { alias: 'f', type: 'boolean', describe: 'do not prompt for confirmation' })
          .option('all', { alias: 'a', type: 'boolean', describe: "Docker's: named volumes too (baton's volumes are all named: always so)" })
          .option('node', { type: 'string', requiresArg: true, describe: 'only on this node (id or hostname)' }),
      async (args) => {
        const filters = pruneFilters(repeated(args.filter));
        if (!args.force && !(await confirmed(PRUNE_WARNING))) return;
        await withClient(args, async (client) => {
          const res = await client.control.call('PruneVolumes', { ...filters, node: args.node ?? '' }, CHANGE_TIMEOUT_MS);
          warn(res.warnings);
          print(pruneReport(res.deleted ?? [], Number(res.spaceReclaimed ?? 0)));
        });
      },
    );
}
