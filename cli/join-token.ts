// `baton join-token worker|manager [--rotate] [-q]`.
import type { Argv } from 'yargs';
import type { BatonClient } from '../client/index.js';
import { withClient, type GlobalArgs } from './context.js';
import { print } from './output.js';

type Args = GlobalArgs & { role: string; rotate?: boolean; quiet?: boolean };

export function joinTokenCommand(y: Argv<GlobalArgs>): Argv<Args> {
  return y
    .positional('role', { type: 'string', choices: ['worker', 'manager'], demandOption: true })
    .option('rotate', { type: 'boolean', describe: 'replace the token; the old one stops working at once' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'only the token' });
}

export async function joinToken(args: Args): Promise<void> {
  await withClient(args, async (client: BatonClient) => {
    const worker = args.role === 'worker';
    const res = args.rotate
      ? await client.control.call('RotateJoinToken', { worker, manager: !worker })
      : await client.control.call('GetCluster', {});
    const tokens = res.cluster?.rootCa?.joinTokens;
    const token = (worker ? tokens?.worker : tokens?.manager) ?? '';
    if (args.quiet) return print(token);
    const info = await client.control.call('Info', {});
    const addr = info.managers?.find((m) => m.nodeId === info.nodeId)?.addr ?? info.managers?.[0]?.addr ?? '<manager-address>';
    if (args.rotate) print(`Successfully rotated ${args.role} join token.\n`);
    print(`To add a ${args.role} to this cluster, run the following command:\n\n    baton join --token ${token} ${addr}\n`);
  });
}
