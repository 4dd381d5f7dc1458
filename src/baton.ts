#!/usr/bin/env node
// The one `baton` binary: the node daemon (init, join) and the client of a running node.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { daemonOptions, type InitArgs, type JoinArgs } from './daemon/options.js';
import { globalOptions, numeric, type GlobalArgs } from '../cli/context.js';
import { nodeCommand } from '../cli/node.js';
import { separateTaskCommand, serviceCommand } from '../cli/service.js';
import { joinToken, joinTokenCommand } from '../cli/join-token.js';
import { secretCommand } from '../cli/secret.js';
import { configCommand } from '../cli/config.js';
import { stackCommand } from '../cli/stack.js';
import { networkCommand } from '../cli/network.js';
import { volumeCommand } from '../cli/volume.js';
import { certCommand } from '../cli/cert.js';
import { eventsCommand, runEvents } from '../cli/events.js';
import { runVersion, versionLine } from '../cli/version.js';
import { infoCommand, runInfo } from '../cli/info.js';
import { inspectCommand, runInspect } from '../cli/inspect.js';
import { backupCommand, runBackup } from '../cli/backup.js';
import { clusterCommand, unlock, unlockKey, unlockKeyCommand } from '../cli/unlock.js';

function fail(message: string): never {
  // One line, whatever the source: yargs spreads some messages over several.
  process.stderr.write(`Error: ${message.replace(/\s*\n\s*/g, ' ').trim()}\n`);
  process.exit(1);
}

// `baton events | head -1`: the reader went away; that ends the command, quietly, as Docker's does.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  fail(err.message);
});

/**
 * `--init=yes` must not read as false: a boolean flag given a value takes true or false, else one
 * line, as Docker refuses it (yargs would quietly take anything else as false). Words after `--`
 * are the task's own command line.
 */
function checkBooleanValues(words: readonly string[], booleans: readonly string[]): void {
  const end = words.indexOf('--');
  const bad = (end < 0 ? words : words.slice(0, end)).flatMap((word) => {
    const m = /^--([^=]+)=(.*)$/s.exec(word);
    if (!m || !booleans.includes(m[1]!) || /^(true|false)$/.test(m[2]!)) return [];
    return [`invalid argument "${m[2]}" for "--${m[1]}" flag: want true or false`];
  });
  if (bad.length > 0) fail(bad.join('; '));
}

const words = separateTaskCommand(hideBin(process.argv));
const root = yargs(words);
/** yargs' own view of the options declared so far (the command's included); not in its typings. */
const declared = root as unknown as { getOptions(): { boolean: string[] } };
const cli = root
  // Before validation, once the command's own options are known.
  .middleware(() => checkBooleanValues(words, declared.getOptions().boolean), true)
  .scriptName('baton')
  .usage('$0 <command> [options]')
  .command<InitArgs>(
    'init',
    'Create a cluster with this node as its first manager, and run it (resumes an existing --data-dir)',
    (y) =>
      daemonOptions(y)
        .option('autolock', { type: 'boolean', describe: "encrypt the managers' keys at rest with an unlock key printed once; a restarted manager waits for baton unlock" })
        .option('cert-expiry', { type: 'string', describe: 'node certificate lifetime, e.g. 90d (default 7d); renewed at half-life' })
        .option('heartbeat-period', { type: 'string', describe: 'how often nodes heartbeat, e.g. 1s (default)' })
        .option('heartbeat-grace', { type: 'string', requiresArg: true, coerce: numeric('--heartbeat-grace'), describe: 'missed heartbeats before a node is down and its tasks move (default 3)' })
        .option('max-heartbeats-per-second', { type: 'string', requiresArg: true, coerce: numeric('--max-heartbeats-per-second'), describe: "the leader's heartbeat load: a bigger cluster's nodes are told a longer period (default 200)" })
        .option('force-new-cluster', { type: 'boolean', describe: "after losing a quorum: make this stopped manager's --data-dir the only manager, keeping every object" })
        .option('restore', { type: 'string', requiresArg: true, describe: 'start a new single-manager cluster from a `baton backup` file (empty --data-dir)' }) as never,
    // The daemon's code loads only for the commands that run it.
    async (args) => (await import('./daemon/commands.js')).runInit(args),
  )
  .command<JoinArgs>(
    'join <address>',
    'Join a cluster with a token, and run this node (resumes an existing --data-dir)',
    (y) =>
      daemonOptions(y)
        .positional('address', { type: 'string', demandOption: true, describe: 'host:port of a manager' })
        .option('token', { type: 'string', demandOption: true, describe: 'worker or manager join token' }) as never,
    async (args) => (await import('./daemon/commands.js')).runJoin(args),
  )
  .command<GlobalArgs>('node', 'Manage nodes', (y) => nodeCommand(globalOptions(y)))
  .command<GlobalArgs>('service', 'Manage services', (y) => serviceCommand(globalOptions(y)))
  .command<GlobalArgs>('secret', 'Manage secrets', (y) => secretCommand(globalOptions(y)))
  .command<GlobalArgs>('config', 'Manage configs', (y) => configCommand(globalOptions(y)))
  .command<GlobalArgs>('network', 'Manage networks', (y) => networkCommand(globalOptions(y)))
  .command<GlobalArgs>('volume', 'Manage volumes (on every node)', (y) => volumeCommand(globalOptions(y)))
  .command<GlobalArgs>('stack', 'Manage stacks (Compose files)', (y) => stackCommand(globalOptions(y)))
  .command<GlobalArgs>('cert', 'Manage client certificates (for gRPC clients over TCP)', (y) => certCommand(globalOptions(y)))
  .command('events', 'Get real time events from the cluster', (y) => eventsCommand(y) as never, (args) => runEvents(args as never))
  .command('backup', 'Write a backup of the cluster (its store, CA and keys) from any manager, while it runs', (y) => backupCommand(y) as never, (args) => runBackup(args as never))
  .command('inspect <refs..>', 'Show nodes, services, tasks or networks in detail, by id or name (as docker inspect)', (y) => inspectCommand(globalOptions(y)) as never, (args) => runInspect(args as never))
  .command('info', 'Display cluster-wide information (as docker info)', (y) => infoCommand(globalOptions(y)) as never, (args) => runInfo(args as never))
  .command('version', 'Show the baton version information', (y) => globalOptions(y).option('format', { type: 'string', choices: ['json'] }) as never, (args) => runVersion(args as never))
  .command('join-token <role>', 'Show or rotate a join token', (y) => joinTokenCommand(globalOptions(y)) as never, (args) =>
    joinToken(args as never),
  )
  .command<GlobalArgs>('cluster', 'Manage the cluster (as docker swarm update)', (y) => clusterCommand(globalOptions(y)))
  .command('unlock', 'Unlock a locked manager (autolock): reads the unlock key', (y) => globalOptions(y) as never, (args) => unlock(args as never))
  .command('unlock-key', 'Show or rotate the unlock key (autolock)', (y) => unlockKeyCommand(globalOptions(y)) as never, (args) => unlockKey(args as never))
  .demandCommand(1, 'a command is required')
  .strict()
  .help()
  .version(versionLine())
  .fail((msg, err) => {
    if (err) throw err;
    fail(`${msg} (see baton --help)`);
  });

try {
  await cli.parseAsync();
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
