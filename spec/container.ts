// Docker's container options of a service (`--hostname`, `--user`, `--cap-add`, `--sysctl`,
// `--ulimit`, `--stop-signal`, `--host`, `--log-driver`…): a parser for each value as Docker's CLI
// takes it, and the check of what a spec holds (run by validateServiceSpec for every client).
import { constants as osConstants } from 'node:os';
import type { baton } from '../proto/gen/baton.js';
import { echo, ok, problem, typed, type Parsed, type Problem } from './parsed.js';
import { isTemplate, parseTemplate } from './templates.js';
import { MAX_ARGS, MAX_ARG_LENGTH, MAX_LABELS, MAX_LABEL_KEY_LENGTH, MAX_LABEL_VALUE_LENGTH } from './limits.js';

// Linux's capabilities (capability.h up to CAP_CHECKPOINT_RESTORE), without their CAP_ prefix.
const CAPABILITIES = new Set([
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
]);

/** `--cap-add net_admin` is CAP_NET_ADMIN, as Docker's CLI normalises it; ALL stays ALL. */
export function parseCapability(text: string, flag: string): Parsed<string> {
  const upper = text.trim().toUpperCase();
  if (upper === 'ALL') return ok('ALL');
  const bare = upper.startsWith('CAP_') ? upper.slice(4) : upper;
  return CAPABILITIES.has(bare) ? ok(`CAP_${bare}`) : problem(`bad ${flag} ${typed(text)}: unknown capability (want e.g. NET_ADMIN, CAP_SYS_TIME or ALL)`);
}

// go-units' ulimit names, which Docker takes.
const ULIMITS = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** `--ulimit nofile=1024[:2048]`: a soft limit and a hard one (the soft one when not given); -1 is unlimited. */
export function parseUlimit(text: string, flag: string): Parsed<baton.Ulimit.$Properties> {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(text.trim());
  if (!m) return problem(`bad ${flag} ${typed(text)} (want NAME=SOFT[:HARD], e.g. nofile=1024:2048)`);
  const [, name = '', softText = '', hardText] = m;
  const soft = Number(softText);
  const hard = hardText === undefined ? soft : Number(hardText);
  const bad = ulimitProblem({ name, soft, hard });
  return bad ? problem(`bad ${flag} ${typed(text)}: ${bad.why}`, bad.why) : ok({ name, soft, hard });
}

function ulimitProblem(u: baton.Ulimit.$Properties): Problem | undefined {
  const name = u.name ?? '';
  const soft = Number(u.soft ?? 0);
  const hard = Number(u.hard ?? 0);
  if (!ULIMITS.includes(name)) return problem(`invalid ulimit type: ${echo(name)} (want one of ${ULIMITS.join(', ')})`);
  for (const n of [soft, hard]) if (!Number.isSafeInteger(n) || n < -1) return problem(`ulimit ${name}: ${n} is not a limit (a whole number, or -1 for unlimited)`);
  // -1 (unlimited) is above every number.
  if (hard !== -1 && (soft === -1 || soft > hard)) return problem(`ulimit ${name}: soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return undefined;
}

const SYSCTL_KEY = /^[a-zA-Z0-9_]+(?:[./][a-zA-Z0-9_-]+)*$/;

/** `--sysctl net.core.somaxconn=1024`. */
export function parseSysctl(text: string, flag: string): Parsed<[string, string]> {
  const eq = text.indexOf('=');
  const key = eq < 0 ? '' : text.slice(0, eq).trim();
  if (eq < 0 || !SYSCTL_KEY.test(key)) return problem(`bad ${flag} ${typed(text)} (want KEY=VALUE, e.g. net.core.somaxconn=1024)`);
  return ok([key, text.slice(eq + 1)]);
}

/** `--log-opt max-size=10m`, `--container-label KEY[=VALUE]` (Docker's: a bare key has an empty value). */
export function parseKeyValue(text: string, flag: string, valueRequired: boolean): Parsed<[string, string]> {
  const eq = text.indexOf('=');
  const key = eq < 0 ? text : text.slice(0, eq);
  if (key === '' || /\s/.test(key) || (valueRequired && eq < 0)) return problem(`bad ${flag} ${typed(text)} (want KEY=VALUE)`);
  return ok([key, eq < 0 ? '' : text.slice(eq + 1)]);
}

const HOST_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?$/;

/** `--host db:10.0.0.2` (HOST:IP, the IP v4 or v6), an extra line of /etc/hosts. */
export function parseHostEntry(text: string, flag: string): Parsed<string> {
  const colon = text.indexOf(':');
  const host = colon < 0 ? '' : text.slice(0, colon);
  const ip = colon < 0 ? '' : text.slice(colon + 1).replace(/^\[(.*)\]$/, '$1');
  if (!HOST_NAME.test(host)) return problem(`bad ${flag} ${typed(text)} (want HOST:IP, e.g. db:10.0.0.2)`);
  if (!isIpAddress(ip)) return problem(`bad ${flag} ${typed(text)}: invalid IP address ${JSON.stringify(echo(ip))}`);
  return ok(`${host}:${ip}`);
}

export function isIpAddress(ip: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) return v4.slice(1).every((n) => Number(n) <= 255 && (n === '0' || !n.startsWith('0')));
  if (!/^[0-9a-fA-F:.]+$/.test(ip) || !ip.includes(':')) return false;
  try {
    return new URL(`http://[${ip}]/`).hostname !== '';
  } catch {
    return false;
  }
}

// A user or group: a name as useradd takes it, or an id.
const PRINCIPAL = /^(?:\d+|[a-zA-Z_][a-zA-Z0-9_.-]*\$?)$/;

/** `--user user|uid[:group|gid]`. */
export function userProblem(text: string): string | undefined {
  const parts = text.split(':');
  if (parts.length > 2 || !parts.every((x) => PRINCIPAL.test(x) && x.length <= 256)) {
    return `bad user "${echo(text)}" (want USER[:GROUP], each a name or a numeric id)`;
  }
  return undefined;
}

/** The numeric uid and gid of `1000[:1000]`, for the process runtime; undefined unless numeric. */
export function numericUser(text: string): { uid: number; gid?: number } | undefined {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) return undefined;
  const uid = Number(m[1]);
  const gid = m[2] === undefined ? undefined : Number(m[2]);
  if (uid > 0xfffffffe || (gid !== undefined && gid > 0xfffffffe)) return undefined;
  return gid === undefined ? { uid } : { uid, gid };
}

// Linux's real-time signals, which Docker also takes by name (RTMIN+3, RTMAX-1).
const SIGRTMIN = 34;
const SIGRTMAX = 64;

/**
 * A signal as Docker's ParseSignal takes it: a number (1-64) or a name, with or without SIG, in
 * any case. The signal's number, or undefined when it is none.
 */
export function signalNumber(text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= 1 && n <= SIGRTMAX ? n : undefined;
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  const known = (osConstants.signals as Record<string, number | undefined>)[`SIG${name}`];
  if (known !== undefined) return known;
  const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (!rt) return undefined;
  const offset = rt[3] === undefined ? 0 : Number(rt[3]) * (rt[2] === '-' ? -1 : 1);
  const n = (rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX) + offset;
  return n >= SIGRTMIN && n <= SIGRTMAX ? n : undefined;
}

/** `--stop-signal SIGUSR1` (or USR1, usr1, 10). */
export function parseSignal(text: string, flag: string): Parsed<string> {
  return signalNumber(text.trim()) === undefined ? problem(`bad ${flag} ${typed(text)}: invalid signal (want a name such as SIGTERM or USR1, or a number)`) : ok(text.trim());
}

const LOG_DRIVER = /^[a-zA-Z0-9][a-zA-Z0-9_.:/-]*$/;

/**
 * What the process runtime cannot do of the container options: refused for it. Container labels
 * are not among them: they are metadata (a stack labels every task with its namespace), kept in
 * the spec and shown, with nothing to apply them to.
 */
const DOCKER_ONLY: [string, (c: baton.ContainerSpec.$Properties) => boolean][] = [
  ['--hostname', (c) => !!c.hostname],
  ['--group', (c) => (c.groups ?? []).length > 0],
  ['--init', (c) => !!c.init],
  ['--read-only', (c) => !!c.readOnly],
  ['--cap-add', (c) => (c.capabilityAdd ?? []).length > 0],
  ['--cap-drop', (c) => (c.capabilityDrop ?? []).length > 0],
  ['--sysctl', (c) => Object.keys(c.sysctls ?? {}).length > 0],
  ['--ulimit', (c) => (c.ulimits ?? []).length > 0],
  ['--host', (c) => (c.hosts ?? []).length > 0],
  ['--tty', (c) => !!c.tty],
  // Which resolver a process uses is the node's: a process has no resolv.conf of its own.
  ['--dns', (c) => (c.dnsConfig?.nameservers ?? []).length > 0],
  ['--dns-search', (c) => (c.dnsConfig?.search ?? []).length > 0],
  ['--dns-option', (c) => (c.dnsConfig?.options ?? []).length > 0],
];

/**
 * Every problem of the container options of a task (and its log driver): the value forms, the
 * templates, and for the process runtime what it cannot honour, all named in one go.
 */
export function containerOptionProblems(c: baton.ContainerSpec.$Properties, runtime: string, logDriver: baton.LogDriver.$Properties | null | undefined): string[] {
  const out: string[] = [];
  const template = (text: string, what: string): void => {
    if (!isTemplate(text)) return;
    const parsed = parseTemplate(text, what);
    if (!parsed.ok) out.push(parsed.problem);
  };
  const hostname = c.hostname ?? '';
  if (hostname.length > 255) out.push(`the hostname is ${hostname.length} characters, more than the limit of 255`);
  else if (isTemplate(hostname)) template(hostname, 'the hostname');
  else if (hostname !== '' && (hostname.length > 63 || !/^[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(hostname))) {
    out.push(`invalid hostname "${echo(hostname)}": letters, digits, '.' and '-', at most 63 characters, starting and ending with a letter or digit`);
  }
  for (const e of c.env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) template(e.slice(eq + 1), `env ${echo(e.slice(0, eq), 32)}`);
  }
  for (const m of c.mounts ?? []) template(m.source ?? '', `the source of mount ${echo(m.target ?? '', 32)}`);
  const user = c.user ?? '';
  if (user !== '') {
    const bad = userProblem(user);
    if (bad) out.push(bad);
    else if (runtime === 'process' && !numericUser(user)) out.push(`the process runtime takes --user as a numeric UID[:GID], not "${echo(user)}"`);
  }
  const groups = c.groups ?? [];
  if (groups.length > MAX_ARGS) out.push(`${groups.length} groups, more than the limit of ${MAX_ARGS}`);
  for (const g of groups.slice(0, MAX_ARGS)) if (!PRINCIPAL.test(g) || g.length > 256) out.push(`bad group "${echo(g)}" (want a name or a numeric id)`);
  labelProblems(out, 'container labels', c.labels);
  for (const [what, caps] of [['capability_add', c.capabilityAdd], ['capability_drop', c.capabilityDrop]] as const) {
    const list = caps ?? [];
    if (list.length > MAX_ARGS) out.push(`${what}: ${list.length} entries, more than the limit of ${MAX_ARGS}`);
    for (const cap of list.slice(0, MAX_ARGS)) {
      const parsed = parseCapability(cap, what);
      if (!parsed.ok) out.push(parsed.problem);
    }
  }
  const sysctls = Object.entries(c.sysctls ?? {});
  if (sysctls.length > MAX_LABELS) out.push(`${sysctls.length} sysctls, more than the limit of ${MAX_LABELS}`);
  for (const [k, v] of sysctls.slice(0, MAX_LABELS)) {
    if (!SYSCTL_KEY.test(k) || k.length > MAX_LABEL_KEY_LENGTH) out.push(`bad sysctl "${echo(k)}" (want a kernel parameter such as net.core.somaxconn)`);
    if (v.length > MAX_LABEL_VALUE_LENGTH) out.push(`the value of sysctl "${echo(k)}" is more than ${MAX_LABEL_VALUE_LENGTH} characters`);
  }
  const ulimits = c.ulimits ?? [];
  const names = new Set<string>();
  for (const u of ulimits.slice(0, ULIMITS.length + 1)) {
    const bad = ulimitProblem(u);
    if (bad) out.push(bad.problem);
    if (names.has(u.name ?? '')) out.push(`ulimit ${echo(u.name ?? '')} is given twice`);
    names.add(u.name ?? '');
  }
  const signal = c.stopSignal ?? '';
  if (signal !== '' && signalNumber(signal) === undefined) out.push(`invalid stop signal "${echo(signal)}" (want a name such as SIGTERM or USR1, or a number)`);
  const hosts = c.hosts ?? [];
  if (hosts.length > MAX_ARGS) out.push(`${hosts.length} hosts, more than the limit of ${MAX_ARGS}`);
  for (const h of hosts.slice(0, MAX_ARGS)) {
    const parsed = parseHostEntry(h, 'host');
    if (!parsed.ok) out.push(parsed.problem);
  }
  const driver = logDriver?.name ?? '';
  if (driver !== '' && (driver.length > 256 || !LOG_DRIVER.test(driver))) out.push(`bad log driver "${echo(driver)}" (want a driver's name, e.g. json-file, local, none)`);
  labelProblems(out, 'log options', logDriver?.options);
  if (runtime === 'process') {
    const given = DOCKER_ONLY.filter(([, has]) => has(c)).map(([flag]) => flag);
    if (driver !== '' || Object.keys(logDriver?.options ?? {}).length > 0) given.push('--log-driver');
    if (given.length > 0) out.push(`the process runtime cannot honour ${given.join(', ')} (Docker's container options; see README "Container options")`);
  }
  return out;
}

function labelProblems(out: string[], what: string, labels: Record<string, string> | null | undefined): void {
  const entries = Object.entries(labels ?? {});
  if (entries.length > MAX_LABELS) out.push(`${what}: ${entries.length} entries, more than the limit of ${MAX_LABELS}`);
  for (const [k, v] of entries.slice(0, MAX_LABELS)) {
    if (k === '' || /[\s=]/.test(k) || k.length > MAX_LABEL_KEY_LENGTH) out.push(`${what}: bad key "${echo(k)}" (not empty, no spaces or '=', at most ${MAX_LABEL_KEY_LENGTH} characters)`);
    if (v.length > MAX_ARG_LENGTH) out.push(`${what}: the value of "${echo(k)}" is more than ${MAX_ARG_LENGTH} characters`);
  }
}
