// What every client command shares: the connection flags and a way to run with a client.
import type { Argv } from 'yargs';
import { BatonError, connect, type BatonClient } from '../client/index.js';
import { socketPermissionDenied } from '../client/local-socket.js';

export interface GlobalArgs {
  host?: string | undefined;
  'data-dir'?: string | undefined;
  tlscacert?: string | undefined;
  tlscert?: string | undefined;
  tlskey?: string | undefined;
}

export function withClient<T>(args: GlobalArgs, run: (client: BatonClient) => Promise<T>): Promise<T> {
  const client = connect({ host: args.host, dataDir: args['data-dir'], tls: { caCert: args.tlscacert, cert: args.tlscert, key: args.tlskey } });
  return run(client)
    .catch((err: unknown) => {
      throw unreachable(err, client.target) ?? err;
    })
    .finally(() => client.close());
}

/**
 * `rm` of several objects, as Docker: each one is tried; the ones removed are printed as given,
 * the refusals reported together in one line (and a non-zero exit).
 */
export async function removeEach(refs: readonly string[], remove: (ref: string) => Promise<unknown>, print: (line: string) => void): Promise<void> {
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      await remove(ref);
      print(ref);
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (errors.length > 0) throw new BatonError('FAILED_PRECONDITION', errors.join('; '));
}

/**
 * grpc-js says "No connection established. Last error: Error: connect ECONNREFUSED … Resolution
 * note:" when nothing answers (a stopped node, a stale socket, a wrong port): one plain line instead.
 * EACCES is no absent node but a user without the right to the socket: say that.
 */
function unreachable(err: unknown, target: string): BatonError | undefined {
  if (!(err instanceof BatonError) || err.code !== 'UNAVAILABLE' || !err.message.startsWith('No connection established')) return undefined;
  const cause = /\b(E[A-Z]{3,})\b/.exec(err.message)?.[1];
  if ((cause === 'EACCES' || cause === 'EPERM') && target.startsWith('unix://')) return socketPermissionDenied(target.slice('unix://'.length));
  return new BatonError('UNAVAILABLE', `cannot reach a baton node at ${target}${cause ? ` (${cause})` : ''}: is it running?`);
}

export function globalOptions<T>(y: Argv<T>): Argv<T & GlobalArgs> {
  return y
    .option('host', { type: 'string', describe: 'daemon to talk to: unix:///path/baton.sock, tcp://host:port, or several managers host:port,host:port (env BATON_HOST)' })
    .option('data-dir', { type: 'string', describe: 'the node data dir (default $BATON_DATA_DIR, /var/lib/baton as root, else ~/.baton, or /var/lib/baton when no node runs there)' })
    .option('tlscacert', { type: 'string', requiresArg: true, describe: 'with --host tcp://: trust certs signed only by this CA (default $BATON_CERT_PATH/ca.pem)' })
    .option('tlscert', { type: 'string', requiresArg: true, describe: 'with --host tcp://: client certificate from `baton cert create` (default $BATON_CERT_PATH/cert.pem)' })
    .option('tlskey', { type: 'string', requiresArg: true, describe: 'with --host tcp://: its key (default $BATON_CERT_PATH/key.pem)' });
}

/** A flag given zero, one or several times (`--env A=1 --env B=2`). */
export function repeated(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * yargs `coerce` for a numeric flag declared as a string (`type: 'string', coerce: numeric('--replicas')`):
 * yargs' own `type: 'number'` turns "abc" into NaN, and the error would show NaN instead of
 * what was typed. Ranges are checked where the value is used. Given twice, the last one wins.
 */
export function numeric(flag: string): (value: string | string[]) => number {
  return (value) => {
    const text = Array.isArray(value) ? (value[value.length - 1] ?? '') : value;
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) throw new BatonError('INVALID_ARGUMENT', `bad ${flag} "${text}" (want a number)`);
    return n;
  };
}
