// Docker's DNS options of a task (`--dns`, `--dns-search`, `--dns-option`; Compose's `dns`,
// `dns_search`, `dns_opt`): a parser for each value as Docker's CLI takes it, and the check of a
// spec's DNSConfig (run by validateServiceSpec for every client). Each value ends up as a line
// of the container's resolv.conf, so whitespace and comment characters are never let through.
import type { baton } from '../proto/gen/baton.js';
import { isIpAddress } from './container.js';
import { echo, ok, problem, typed, type Parsed } from './parsed.js';
import { MAX_ARGS } from './limits.js';

// A domain as resolv.conf's `search` takes it: labels of letters, digits, '-' and '_' (Docker
// checks the same outline), dot-separated, a trailing dot allowed, 255 characters at most.
const DOMAIN = /^[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?(?:\.[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?$/;
const MAX_DOMAIN_LENGTH = 255;
// resolv.conf(5)'s options: a word (ndots, rotate, edns0, single-request-reopen…), some with
// a number after a colon (ndots:2, timeout:3, attempts:5).
const OPTION = /^[a-zA-Z][a-zA-Z0-9_-]*(?::[0-9]{1,5})?$/;

/** `--dns 10.0.0.2`: an IPv4 or IPv6 address. */
export function parseDnsNameserver(text: string, flag: string): Parsed<string> {
  const ip = text.trim();
  const why = 'not an IP address (want e.g. 10.0.0.2 or 2001:db8::53)';
  return isIpAddress(ip) ? ok(ip) : problem(`bad ${flag} ${typed(text)}: ${why}`, why);
}

/** `--dns-search example.com`: a domain name. */
export function parseDnsSearch(text: string, flag: string): Parsed<string> {
  const domain = text.trim();
  const why = domain.length > MAX_DOMAIN_LENGTH ? `longer than the ${MAX_DOMAIN_LENGTH} characters of a domain name` : 'not a domain name (want e.g. example.com)';
  return domain.length <= MAX_DOMAIN_LENGTH && DOMAIN.test(domain) ? ok(domain) : problem(`bad ${flag} ${typed(text)}: ${why}`, why);
}

/** `--dns-option ndots:2`: a resolv.conf option, a word or WORD:NUMBER. */
export function parseDnsOption(text: string, flag: string): Parsed<string> {
  const option = text.trim();
  const why = 'not a resolv.conf option (want e.g. ndots:2, timeout:3, rotate)';
  return OPTION.test(option) ? ok(option) : problem(`bad ${flag} ${typed(text)}: ${why}`, why);
}

/** Whether a spec asks for any DNS option. */
export function hasDnsConfig(d: baton.DNSConfig.$Properties | null | undefined): boolean {
  return (d?.nameservers ?? []).length + (d?.search ?? []).length + (d?.options ?? []).length > 0;
}

/** Every problem of a spec's DNS options, named in one go. */
export function dnsConfigProblems(d: baton.DNSConfig.$Properties | null | undefined): string[] {
  const out: string[] = [];
  const check = (items: readonly string[] | null | undefined, what: string, parse: (text: string, flag: string) => Parsed<string>): void => {
    const list = items ?? [];
    if (list.length > MAX_ARGS) out.push(`${list.length} DNS ${what}, more than the limit of ${MAX_ARGS}`);
    for (const item of list.slice(0, MAX_ARGS)) {
      const parsed = parse(item, `DNS ${what.replace(/s$/, '')}`);
      if (!parsed.ok) out.push(parsed.problem);
      else if (parsed.value !== item) out.push(`DNS ${what.replace(/s$/, '')} "${echo(item)}" has spaces around it`);
    }
  };
  check(d?.nameservers, 'nameservers', parseDnsNameserver);
  check(d?.search, 'search domains', parseDnsSearch);
  check(d?.options, 'options', parseDnsOption);
  return out;
}
