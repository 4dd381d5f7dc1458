// Autolock's commands, as Docker's `swarm update --autolock`, `swarm unlock` and `swarm
// unlock-key`: `baton cluster update --autolock=true|false`, `baton unlock`, `baton unlock-key
// [--rotate] [-q]`.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Argv } from 'yargs';
import { BatonError } from '../client/index.js';
import { withClient, type GlobalArgs } from './context.js';
import { print } from './output.js';

/** Docker's words, adapted: printed wherever a new unlock key is shown. */
export function unlockKeyNotice(key: string): string {
  return (
    'To unlock a baton manager after it restarts, run the `baton unlock`\n' +
    'command and provide the following key:\n\n' +
    `    ${key}\n\n` +
    'Please remember to store this key in a password manager, since without it you\n' +
    'will not be able to restart the manager.\n'
  );
}

type UpdateArgs = GlobalArgs & { autolock?: boolean | undefined };

/** `baton cluster update`: Docker's `swarm update`; --autolock is its one flag today. */
export function clusterCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command<UpdateArgs>(
      'update',
      'Update the cluster (as docker swarm update)',
      (c) => c.option('autolock', { type: 'boolean', describe: "change manager autolocking: encrypt the managers' keys at rest with an unlock key (true|false)" }),
      (args) => clusterUpdate(args),
    )
    .demandCommand(1, 'a cluster command is required');
}

async function clusterUpdate(args: UpdateArgs): Promise<void> {
  if (args.autolock === undefined) throw new BatonError('INVALID_ARGUMENT', 'nothing to update: give --autolock=true or --autolock=false');
  await withClient(args, async (client) => {
    const res = await client.control.call('UpdateCluster', { autolock: args.autolock });
    print('Cluster updated.');
    if (res.unlockKey) print(unlockKeyNotice(res.unlockKey));
  });
}

type UnlockKeyArgs = GlobalArgs & { rotate?: boolean | undefined; quiet?: boolean | undefined };

export function unlockKeyCommand(y: Argv<GlobalArgs>): Argv<UnlockKeyArgs> {
  return y
    .option('rotate', { type: 'boolean', describe: 'replace the key; every manager re-seals its keys, the old key opens only a manager that was down meanwhile' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'only the key' });
}

export async function unlockKey(args: UnlockKeyArgs): Promise<void> {
  await withClient(args, async (client) => {
    const res = args.rotate ? await client.control.call('RotateUnlockKey', {}) : await client.control.call('GetUnlockKey', {});
    const key = res.unlockKey ?? '';
    if (args.quiet) return print(key);
    if (args.rotate) print('Successfully rotated manager unlock key.\n');
    print(unlockKeyNotice(key));
  });
}

/** `baton unlock`: the key from a prompt on a terminal, else the first line of standard input. */
export async function unlock(args: GlobalArgs): Promise<void> {
  const key = (await readKey()).trim();
  if (key === '') throw new BatonError('INVALID_ARGUMENT', 'no unlock key given (type it at the prompt, or pipe it on standard input)');
  await withClient(args, async (client) => {
    await client.control.call('Unlock', { unlockKey: key });
  });
}

async function readKey(): Promise<string> {
  if (!process.stdin.isTTY) {
    try {
      return readFileSync(0, 'utf8').split('\n')[0] ?? '';
    } catch (err) {
      throw new BatonError('INVALID_ARGUMENT', `cannot read standard input: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question('Please enter unlock key: ', resolve));
  } finally {
    rl.close();
  }
}
