// A task's own search domains (`--dns-search`, compose `dns_search`) as the node's DNS server
// sees them: the resolver of a task appends them to short names, so `peer.example.com` reaching
// the server may be the service `peer` asked through the search list.

/** A search domain as compared with asked names: lower case, no trailing dot; '' for none. */
export function searchDomainKey(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * `name` (lower case, no trailing dot) without the first of `domains` (searchDomainKey's form)
 * it ends with, or undefined when it ends with none. A name that is only a domain has no
 * short name before it.
 */
export function withoutSearchDomain(name: string, domains: readonly string[]): string | undefined {
  for (const domain of domains) {
    if (domain !== '' && name.length > domain.length + 1 && name.endsWith(`.${domain}`)) return name.slice(0, -domain.length - 1);
  }
  return undefined;
}
