import test from 'node:test';
import assert from 'node:assert/strict';
import { searchDomainKey, withoutSearchDomain } from '../../worker/network/dns-search.js';

test('searchDomainKey: lower case, no trailing dot, spaces trimmed', () => {
  assert.equal(searchDomainKey('Example.COM.'), 'example.com');
  assert.equal(searchDomainKey(' corp.example '), 'corp.example');
  assert.equal(searchDomainKey('.'), '');
});

test('withoutSearchDomain: the short name before the first search domain the name ends with', () => {
  const domains = ['example.com', 'corp.example'];
  assert.equal(withoutSearchDomain('peer.example.com', domains), 'peer');
  assert.equal(withoutSearchDomain('tasks.peer.corp.example', domains), 'tasks.peer');
  assert.equal(withoutSearchDomain('web.front.example.com', domains), 'web.front');
  // The first domain that fits, as the resolver appended them in that order.
  assert.equal(withoutSearchDomain('a.b.example', ['b.example', 'example']), 'a');
});

test('withoutSearchDomain: no short name for other domains, a domain alone or a label that only ends alike', () => {
  const domains = ['example.com'];
  assert.equal(withoutSearchDomain('peer.example.org', domains), undefined);
  assert.equal(withoutSearchDomain('example.com', domains), undefined);
  assert.equal(withoutSearchDomain('peerexample.com', domains), undefined);
  assert.equal(withoutSearchDomain('peer', domains), undefined);
  assert.equal(withoutSearchDomain('peer.example.com', []), undefined);
  assert.equal(withoutSearchDomain('peer.example.com', ['']), undefined);
});
