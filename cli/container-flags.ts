// Docker's container option flags of `service create` and `service update` (`--hostname`,
// `--user`, `--cap-add`, `--sysctl`, `--ulimit`, `--stop-signal`, `--host`, `--log-driver`…), in
// Docker's names and syntax, and how `service inspect --pretty` shows them. Values are parsed by
// spec/ (spec/container.ts); every problem goes to the command line's FlagProblems.
import { readFileSync } from 'node:fs';
import type { baton } from '../client/index.js';
import {
  echo,
  ok,
  parseCapability,
  parseHostEntry,
  parseKeyValue,
  parseSignal,
  parseSysctl,
  parseUlimit,
  problem,
  type Parsed,
} from '../spec/index.js';
import { repeated } from './context.js';
import type { FlagProblems } from './flag-problems.js';

type Many = string | string[] | undefined;

export interface ContainerCreateFlags {
  hostname?: string | undefined;
  entrypoint?: string | undefined;
  user?: string | undefined;
  group?: Many;
  label?: Many;
  'container-label'?: Many;
  'env-file'?: Many;
  init?: boolean | undefined;
  'read-only'?: boolean | undefined;
  'cap-add'?: Many;
  'cap-drop'?: Many;
  sysctl?: Many;
  ulimit?: Many;
  'stop-signal'?: string | undefined;
  'log-driver'?: string | undefined;
  'log-opt'?: Many;
  'container-host'?: Many;
  tty?: boolean | undefined;
}

export interface ContainerUpdateFlags {
  hostname?: string | undefined;
  entrypoint?: string | undefined;
  user?: string | undefined;
  'group-add'?: Many;
  'group-rm'?: Many;
  'label-add'?: Many;
  'label-rm'?: Many;
  'container-label-add'?: Many;
  'container-label-rm'?: Many;
  init?: boolean | undefined;
  'read-only'?: boolean | undefined;
  'cap-add'?: Many;
  'cap-drop'?: Many;
  'sysctl-add'?: Many;
  'sysctl-rm'?: Many;
  'ulimit-add'?: Many;
  'ulimit-rm'?: Many;
  'stop-signal'?: string | undefined;
  'log-driver'?: string | undefined;
  'log-opt'?: Many;
  'host-add'?: Many;
  'host-rm'?: Many;
  tty?: boolean | undefined;
}

const one = { type: 'string', requiresArg: true } as const;

/** yargs options of `service create`: `.options(containerCreateOptions)`. */
export const containerCreateOptions = {
  hostname: { ...one, describe: 'the container\'s hostname; may hold templates, e.g. "{{.Service.Name}}-{{.Task.Slot}}"' },
  entrypoint: { ...one, describe: "overrides the image's ENTRYPOINT, e.g. --entrypoint \"sh -c\"" },
  user: { ...one, alias: 'u', describe: 'USER[:GROUP], names or ids (process runtime: numeric UID[:GID])' },
  group: { ...one, describe: 'another group for the user (repeatable)' },
  label: { ...one, alias: 'l', describe: 'KEY[=VALUE] on the service (repeatable): what service ls --filter label= reads' },
  'container-label': { ...one, describe: 'KEY[=VALUE] on the container (repeatable)' },
  'env-file': { ...one, describe: 'read KEY=VALUE lines from a file (repeatable)' },
  init: { type: 'boolean', describe: 'run an init inside the container (PID 1) that forwards signals and reaps processes' },
  'read-only': { type: 'boolean', describe: "mount the container's root filesystem read-only" },
  'cap-add': { ...one, describe: 'add a Linux capability, e.g. NET_ADMIN or ALL (repeatable)' },
  'cap-drop': { ...one, describe: 'drop a Linux capability, e.g. CHOWN or ALL (repeatable)' },
  sysctl: { ...one, describe: 'KEY=VALUE kernel parameter, e.g. net.core.somaxconn=1024 (repeatable)' },
  ulimit: { ...one, describe: 'NAME=SOFT[:HARD], e.g. nofile=1024:2048 (repeatable)' },
  'stop-signal': { ...one, describe: 'signal that stops a task, e.g. SIGUSR1 (default SIGTERM, or the image\'s STOPSIGNAL)' },
  'log-driver': { ...one, describe: "the task's logging driver, e.g. json-file, local, none" },
  'log-opt': { ...one, describe: 'KEY=VALUE option of the logging driver (repeatable)' },
  // Typed as `--host HOST:IP` (containerHostFlags): baton's own --host names the daemon.
  'container-host': { ...one, describe: '--host HOST:IP: a line added to /etc/hosts (repeatable)' },
  tty: { type: 'boolean', alias: 't', describe: 'allocate a pseudo-TTY' },
} as const;

// The daemon's address, which baton's global --host takes (cli/context.ts).
const DAEMON_ADDRESS = /^(unix|tcp):\/\//;

/**
 * `service create --host db:10.0.0.2` is Docker's /etc/hosts entry, while baton's global --host
 * (as Docker's -H) names the daemon: among the options of `service create` (from `from` up to
 * the image or `--`), a --host whose value is not a daemon address becomes --container-host.
 */
export function containerHostFlags(argv: readonly string[], from: number): string[] {
  const out = [...argv];
  for (let i = from; i < out.length; i++) {
    const word = out[i]!;
    if (word === '--' || !word.startsWith('-')) break;
    if (word === '--host' && i + 1 < out.length && !DAEMON_ADDRESS.test(out[i + 1]!)) out[i] = '--container-host';
    else if (word.startsWith('--host=') && !DAEMON_ADDRESS.test(word.slice('--host='.length))) out[i] = `--container-host=${word.slice('--host='.length)}`;
    if (!word.includes('=') && !CONTAINER_BOOLEAN_FLAGS.includes(word) && !OTHER_BOOLEANS.has(word)) i++;
  }
  return out;
}

// The other flags of `service create` that take no value, so the scan above does not skip a word.
const OTHER_BOOLEANS = new Set(['--detach', '-d', '--quiet', '-q', '--help', '--no-resolve-image', '--resolve-image', '--no-healthcheck', '--healthcheck']);

/** yargs options of `service update`, Docker's counterparts. */
export const containerUpdateOptions = {
  hostname: containerCreateOptions.hostname,
  entrypoint: { ...one, describe: 'overrides the image\'s ENTRYPOINT ("" returns to the image\'s)' },
  user: containerCreateOptions.user,
  'group-add': { ...one, describe: 'add a group for the user (repeatable)' },
  'group-rm': { ...one, describe: 'remove a group (repeatable)' },
  'label-add': { ...one, describe: "a service label's KEY[=VALUE] (repeatable)" },
  'label-rm': { ...one, describe: "a service label's KEY (repeatable)" },
  'container-label-add': { ...one, describe: 'KEY[=VALUE] (repeatable)' },
  'container-label-rm': { ...one, describe: 'a container label\'s KEY (repeatable)' },
  init: { type: 'boolean', describe: 'run an init inside the container (--init=false: no longer)' },
  'read-only': { type: 'boolean', describe: 'read-only root filesystem (--read-only=false: writable)' },
  'cap-add': containerCreateOptions['cap-add'],
  'cap-drop': containerCreateOptions['cap-drop'],
  'sysctl-add': { ...one, describe: 'KEY=VALUE (repeatable)' },
  'sysctl-rm': { ...one, describe: 'a sysctl\'s KEY (repeatable)' },
  'ulimit-add': { ...one, describe: 'NAME=SOFT[:HARD] (repeatable)' },
  'ulimit-rm': { ...one, describe: 'a ulimit\'s NAME (repeatable)' },
  'stop-signal': containerCreateOptions['stop-signal'],
  'log-driver': containerCreateOptions['log-driver'],
  'log-opt': { ...one, describe: 'KEY=VALUE option of the logging driver, with --log-driver (repeatable)' },
  'host-add': { ...one, describe: 'HOST:IP (repeatable)' },
  'host-rm': { ...one, describe: 'HOST or HOST:IP (repeatable)' },
  tty: { type: 'boolean', alias: 't', describe: 'allocate a pseudo-TTY (--tty=false: none)' },
} as const;

/** The boolean flags above, which take no value (the parser of `service create`'s command needs them). */
export const CONTAINER_BOOLEAN_FLAGS = ['--init', '--no-init', '--read-only', '--no-read-only', '--tty', '--no-tty', '-t'];

/** Words as a shell splits them (quotes, no expansion): `--entrypoint "sh -c"`, `--args`. */
export function shellWords(text: string, flag: string): Parsed<string[]> {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const ch of text) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else word = (word ?? '') + ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word ??= '';
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + ch;
  }
  if (quote !== undefined) return problem(`bad ${flag}: unterminated ${quote} quote`);
  if (word !== undefined) words.push(word);
  return ok(words);
}

/**
 * Docker's env file: one KEY=VALUE a line, `#` comments and blank lines skipped, leading
 * whitespace dropped; a bare KEY takes its value from this shell's environment (left out when
 * unset there). A KEY with whitespace is refused, as Docker's.
 */
export function parseEnvFile(text: string, file: string): Parsed<string[]> {
  const out: string[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === '') return problem(`bad --env-file ${echo(file)}: line ${i + 1}: no variable name`);
    if (/\s/.test(key)) return problem(`bad --env-file ${echo(file)}: line ${i + 1}: variable '${echo(key.trim(), 32)}' contains whitespaces`);
    if (eq >= 0) out.push(line);
    else if (process.env[key] !== undefined) out.push(`${key}=${process.env[key]}`);
  }
  return ok(out);
}

function readEnvFile(file: string): Parsed<string[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return problem(`cannot read --env-file ${echo(file)}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code || String(err)}`);
  }
  return parseEnvFile(text, file);
}

function parsedList<T>(texts: Many, p: FlagProblems, parse: (text: string) => Parsed<T>): T[] {
  return repeated(texts).flatMap((text) => {
    const parsed = parse(text);
    if (parsed.ok) return [parsed.value];
    p.add(parsed.problem);
    return [];
  });
}

function pairs(texts: Many, flag: string, p: FlagProblems, valueRequired = true): Record<string, string> {
  return Object.fromEntries(parsedList(texts, p, (t) => (flag.startsWith('--sysctl') ? parseSysctl(t, flag) : parseKeyValue(t, flag, valueRequired))));
}

function entrypoint(text: string, runtime: string, p: FlagProblems): string[] | undefined {
  if (runtime === 'process') {
    p.add('--entrypoint does not apply to the process runtime (its program is the first word of the command)');
    return undefined;
  }
  return p.take(shellWords(text, '--entrypoint'), undefined);
}

/** The env files' variables, in order, for `service create` (the --env values come after them). */
export function envFromFiles(files: Many, p: FlagProblems): string[] {
  return repeated(files).flatMap((file) => p.take(readEnvFile(file), []));
}

/**
 * The options `service create` and `service update` read alike: one value each that replaces
 * what the spec had (--hostname, --entrypoint, --user). Returns the container spec to go on with.
 */
function applyReplacedValues(task: baton.TaskSpec.$Properties, f: Pick<ContainerCreateFlags & ContainerUpdateFlags, 'hostname' | 'entrypoint' | 'user'>, p: FlagProblems): baton.ContainerSpec.$Properties {
  const c = (task.container ??= {});
  if (f.hostname !== undefined) c.hostname = f.hostname;
  if (f.entrypoint !== undefined) {
    const words = entrypoint(f.entrypoint, task.runtime || 'docker', p);
    if (words) c.command = words;
  }
  if (f.user !== undefined) c.user = f.user;
  return c;
}

/** `service create`: the options into the container spec (and the task's log driver). */
export function applyContainerCreateFlags(task: baton.TaskSpec.$Properties, f: ContainerCreateFlags, p: FlagProblems): void {
  const c = applyReplacedValues(task, f, p);
  const groups = repeated(f.group);
  if (groups.length > 0) c.groups = groups;
  const labels = pairs(f['container-label'], '--container-label', p, false);
  if (Object.keys(labels).length > 0) c.labels = labels;
  if (f.init) c.init = true;
  if (f['read-only']) c.readOnly = true;
  const capAdd = parsedList(f['cap-add'], p, (t) => parseCapability(t, '--cap-add'));
  if (capAdd.length > 0) c.capabilityAdd = [...new Set(capAdd)];
  const capDrop = parsedList(f['cap-drop'], p, (t) => parseCapability(t, '--cap-drop'));
  if (capDrop.length > 0) c.capabilityDrop = [...new Set(capDrop)];
  const sysctls = pairs(f.sysctl, '--sysctl', p);
  if (Object.keys(sysctls).length > 0) c.sysctls = sysctls;
  const ulimits = parsedList(f.ulimit, p, (t) => parseUlimit(t, '--ulimit'));
  // Given twice, the last one wins (Docker keeps one per name).
  if (ulimits.length > 0) c.ulimits = [...new Map(ulimits.map((u) => [u.name, u])).values()];
  if (f['stop-signal'] !== undefined) c.stopSignal = p.take(parseSignal(f['stop-signal'], '--stop-signal'), '');
  const hosts = parsedList(f['container-host'], p, (t) => parseHostEntry(t, '--host'));
  if (hosts.length > 0) c.hosts = hosts;
  if (f.tty) c.tty = true;
  const options = pairs(f['log-opt'], '--log-opt', p);
  if (f['log-driver'] !== undefined || Object.keys(options).length > 0) task.logDriver = { name: f['log-driver'] ?? '', options };
}

/** `service update`: Docker's semantics, the -rm flags before the -add ones. */
export function applyContainerUpdateFlags(task: baton.TaskSpec.$Properties, f: ContainerUpdateFlags, p: FlagProblems): void {
  const c = applyReplacedValues(task, f, p);
  const groupRm = new Set(repeated(f['group-rm']));
  c.groups = [...new Set([...(c.groups ?? []).filter((g) => !groupRm.has(g)), ...repeated(f['group-add'])])];
  c.labels = updatedMap(c.labels, pairs(f['container-label-add'], '--container-label-add', p, false), repeated(f['container-label-rm']));
  if (f.init !== undefined) c.init = f.init;
  if (f['read-only'] !== undefined) c.readOnly = f['read-only'];
  if (f.tty !== undefined) c.tty = f.tty;
  // As Docker's: a capability added is no longer dropped, and one dropped no longer added.
  const capAdd = parsedList(f['cap-add'], p, (t) => parseCapability(t, '--cap-add'));
  const capDrop = parsedList(f['cap-drop'], p, (t) => parseCapability(t, '--cap-drop'));
  const both = capAdd.filter((cap) => capDrop.includes(cap));
  if (both.length > 0) p.add(`${both.join(', ')}: both --cap-add and --cap-drop`);
  c.capabilityAdd = [...new Set([...(c.capabilityAdd ?? []).filter((cap) => !capDrop.includes(cap)), ...capAdd])];
  c.capabilityDrop = [...new Set([...(c.capabilityDrop ?? []).filter((cap) => !capAdd.includes(cap)), ...capDrop])];
  c.sysctls = updatedMap(c.sysctls, pairs(f['sysctl-add'], '--sysctl-add', p), repeated(f['sysctl-rm']));
  const ulimitRm = new Set(repeated(f['ulimit-rm']));
  const ulimitAdd = parsedList(f['ulimit-add'], p, (t) => parseUlimit(t, '--ulimit-add'));
  const ulimits = new Map((c.ulimits ?? []).filter((u) => !ulimitRm.has(u.name ?? '')).map((u) => [u.name ?? '', u]));
  for (const u of ulimitAdd) ulimits.set(u.name ?? '', u);
  c.ulimits = [...ulimits.values()];
  if (f['stop-signal'] !== undefined) c.stopSignal = f['stop-signal'] === '' ? '' : p.take(parseSignal(f['stop-signal'], '--stop-signal'), c.stopSignal ?? '');
  // --host-rm HOST removes every line of that host; HOST:IP only that one.
  const hostRm = repeated(f['host-rm']);
  const kept = (c.hosts ?? []).filter((h) => !hostRm.some((r) => r === h || r === h.slice(0, h.indexOf(':'))));
  c.hosts = [...new Set([...kept, ...parsedList(f['host-add'], p, (t) => parseHostEntry(t, '--host-add'))])];
  const options = pairs(f['log-opt'], '--log-opt', p);
  // Docker's rule: the driver and its options are given together, replacing what was there.
  if (f['log-driver'] !== undefined) task.logDriver = f['log-driver'] === '' && Object.keys(options).length === 0 ? {} : { name: f['log-driver'], options };
  else if (repeated(f['log-opt']).length > 0) p.add('--log-opt needs --log-driver (the driver and its options are replaced together)');
}

function updatedMap(current: Record<string, string> | null | undefined, add: Record<string, string>, rm: readonly string[]): Record<string, string> {
  const out = { ...current };
  for (const key of rm) delete out[key];
  return { ...out, ...add };
}

/** The service's own labels (Docker's `service create --label`), not the container's. */
export function serviceLabelsFromFlags(f: Pick<ContainerCreateFlags, 'label'>, p: FlagProblems): Record<string, string> {
  return pairs(f.label, '--label', p, false);
}

/** `service update --label-rm KEY --label-add KEY[=VALUE]` on the service's labels, rm first. */
export function updatedServiceLabels(labels: Record<string, string> | null | undefined, f: Pick<ContainerUpdateFlags, 'label-add' | 'label-rm'>, p: FlagProblems): Record<string, string> {
  return updatedMap(labels, pairs(f['label-add'], '--label-add', p, false), repeated(f['label-rm']));
}

/** `service inspect --pretty`: the options set, as Docker shows them (nothing for what is unset). */
export function containerOptionLines(task: baton.TaskSpec.$Properties): [string, string | undefined][] {
  const c = task.container ?? {};
  const list = (items: readonly string[] | null | undefined): string | undefined => ((items ?? []).length > 0 ? (items ?? []).join(', ') : undefined);
  const block = (map: Record<string, string> | null | undefined, sep: string): string | undefined => {
    const entries = Object.entries(map ?? {}).sort(([a], [b]) => a.localeCompare(b));
    return entries.length > 0 ? entries.map(([k, v]) => `\n ${k}${sep}${v}`).join('') : undefined;
  };
  const caps = [c.capabilityAdd?.length ? `\n Add:\t${c.capabilityAdd.join(', ')}` : '', c.capabilityDrop?.length ? `\n Drop:\t${c.capabilityDrop.join(', ')}` : ''].join('');
  const log = task.logDriver;
  const logText = log && (log.name || Object.keys(log.options ?? {}).length > 0) ? `\n Name:\t${log.name || '(the engine\'s default)'}${block(log.options, ': ') ? `\n LogOpts:${(block(log.options, ': ') ?? '').replace(/\n /g, '\n  ')}` : ''}` : undefined;
  return [
    ['Hostname', c.hostname || undefined],
    ['User', c.user || undefined],
    ['Groups', list(c.groups)],
    ['Init', c.init ? 'true' : undefined],
    ['Read-only', c.readOnly ? 'true' : undefined],
    ['TTY', c.tty ? 'true' : undefined],
    ['Capabilities', caps || undefined],
    ['Sysctls', block(c.sysctls, ': ')],
    ['Ulimits', (c.ulimits ?? []).length > 0 ? (c.ulimits ?? []).map((u) => `\n ${u.name ?? ''}:\t${ulimitText(u.soft)}:${ulimitText(u.hard)}`).join('') : undefined],
    ['StopSignal', c.stopSignal || undefined],
    ['Hosts', list((c.hosts ?? []).map((h) => `${h.slice(h.indexOf(':') + 1)} ${h.slice(0, h.indexOf(':'))}`))],
    ['Container Labels', block(c.labels, '=')],
    ['Log Driver', logText],
  ];
}

function ulimitText(n: unknown): string {
  return Number(n ?? 0) === -1 ? 'unlimited' : String(Number(n ?? 0));
}

