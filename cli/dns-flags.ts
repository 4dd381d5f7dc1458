// Docker's DNS flags of `service create` (`--dns`, `--dns-search`, `--dns-option`) and
// `service update` (`--dns-add/--dns-rm`, `--dns-search-add/-rm`, `--dns-option-add/-rm`), and
// how `service inspect --pretty` shows them. Values are parsed by spec/dns.ts; every problem
// goes to the command line's FlagProblems.
import type { baton } from '../client/index.js';
import { parseDnsNameserver, parseDnsOption, parseDnsSearch, type Parsed } from '../spec/index.js';
import { repeated } from './context.js';
import type { FlagProblems } from './flag-problems.js';

type Many = string | string[] | undefined;

export interface DnsCreateFlags {
  dns?: Many;
  'dns-search'?: Many;
  'dns-option'?: Many;
}

export interface DnsUpdateFlags {
  'dns-add'?: Many;
  'dns-rm'?: Many;
  'dns-search-add'?: Many;
  'dns-search-rm'?: Many;
  'dns-option-add'?: Many;
  'dns-option-rm'?: Many;
}

const one = { type: 'string', requiresArg: true } as const;

/** yargs options of `service create`. */
export const dnsCreateOptions = {
  dns: { ...one, describe: 'a nameserver for the task, e.g. 10.0.0.53 (repeatable; on a baton network, where its DNS forwards other names)' },
  'dns-search': { ...one, describe: 'a DNS search domain (repeatable)' },
  'dns-option': { ...one, describe: 'a resolv.conf option, e.g. ndots:2 (repeatable)' },
} as const;

/** yargs options of `service update`. */
export const dnsUpdateOptions = {
  'dns-add': { ...one, describe: 'add a nameserver (repeatable)' },
  'dns-rm': { ...one, describe: 'remove a nameserver (repeatable)' },
  'dns-search-add': { ...one, describe: 'add a DNS search domain (repeatable)' },
  'dns-search-rm': { ...one, describe: 'remove a DNS search domain (repeatable)' },
  'dns-option-add': { ...one, describe: 'add a resolv.conf option (repeatable)' },
  'dns-option-rm': { ...one, describe: 'remove a resolv.conf option (repeatable)' },
} as const;

function parsedList(texts: Many, p: FlagProblems, flag: string, parse: (text: string, flag: string) => Parsed<string>): string[] {
  return repeated(texts).flatMap((text) => {
    const parsed = parse(text, flag);
    if (parsed.ok) return [parsed.value];
    p.add(parsed.problem);
    return [];
  });
}

/** `service create`: the flags into the container spec's DNSConfig (each value once, in order). */
export function applyDnsCreateFlags(task: baton.TaskSpec.$Properties, f: DnsCreateFlags, p: FlagProblems): void {
  const nameservers = parsedList(f.dns, p, '--dns', parseDnsNameserver);
  const search = parsedList(f['dns-search'], p, '--dns-search', parseDnsSearch);
  const options = parsedList(f['dns-option'], p, '--dns-option', parseDnsOption);
  if (nameservers.length + search.length + options.length === 0) return;
  const c = (task.container ??= {});
  c.dnsConfig = { nameservers: [...new Set(nameservers)], search: [...new Set(search)], options: [...new Set(options)] };
}

/** `service update`: as Docker's, the -rm flags before the -add ones; the order kept. */
export function applyDnsUpdateFlags(task: baton.TaskSpec.$Properties, f: DnsUpdateFlags, p: FlagProblems): void {
  const given = Object.keys(dnsUpdateOptions).some((k) => repeated(f[k as keyof DnsUpdateFlags]).length > 0);
  if (!given) return;
  const c = (task.container ??= {});
  const d = c.dnsConfig ?? {};
  const merge = (current: readonly string[] | null | undefined, rm: Many, add: Many, flag: string, parse: (text: string, flag: string) => Parsed<string>): string[] => {
    const removed = new Set(repeated(rm).map((r) => r.trim()));
    const added = parsedList(add, p, `${flag}-add`, parse);
    return [...new Set([...(current ?? []).filter((x) => !removed.has(x)), ...added])];
  };
  c.dnsConfig = {
    nameservers: merge(d.nameservers, f['dns-rm'], f['dns-add'], '--dns', parseDnsNameserver),
    search: merge(d.search, f['dns-search-rm'], f['dns-search-add'], '--dns-search', parseDnsSearch),
    options: merge(d.options, f['dns-option-rm'], f['dns-option-add'], '--dns-option', parseDnsOption),
  };
}

/** `service inspect --pretty`: Docker's "DNS:" lines, nothing when none is set. */
export function dnsOptionLines(task: baton.TaskSpec.$Properties): [string, string | undefined][] {
  const d = task.container?.dnsConfig;
  const list = (items: readonly string[] | null | undefined): string | undefined => ((items ?? []).length > 0 ? (items ?? []).join(', ') : undefined);
  const lines = [
    ['Nameservers', list(d?.nameservers)],
    ['Search', list(d?.search)],
    ['Options', list(d?.options)],
  ].filter(([, v]) => v !== undefined);
  return [['DNS', lines.length > 0 ? lines.map(([k, v]) => `\n ${k}:\t${v}`).join('') : undefined]];
}
