// What every client command shares: the connection flags and a way to run with a client.
import type { Argv } from 'yargs';
import { connect, type BatonClient } from '../src/client/index.js';

export interface GlobalArgs {
  host?: string | undefined;
  'data-dir'?: string | undefined;
}

export function withClient<T>(args: GlobalArgs, run: (client: BatonClient) => Promise<T>): Promise<T> {
  const client = connect({ host: args.host, dataDir: args['data-dir'] });
  return run(client).finally(() => client.close());
}

export function globalOptions<T>(y: Argv<T>): Argv<T & GlobalArgs> {
  return y
    .option('host', { type: 'string', describe: 'daemon to talk to: unix:///path/baton.sock or tcp://host:port (env BATON_HOST)' })
    .option('data-dir', { type: 'string', describe: 'the node data dir (default $BATON_DATA_DIR, /var/lib/baton as root, else ~/.baton)' });
}

/** A flag given zero, one or several times (`--env A=1 --env B=2`). */
export function repeated(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
