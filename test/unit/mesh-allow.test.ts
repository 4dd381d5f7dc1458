import test from 'node:test';
import assert from 'node:assert/strict';
import { AllowList, ipv4ToInt } from '../../mesh/allow.js';

test('ipv4ToInt: dotted quads (and their IPv4-mapped IPv6 form) as unsigned integers; anything else -1', () => {
  assert.equal(ipv4ToInt('0.0.0.0'), 0);
  assert.equal(ipv4ToInt('10.0.1.2'), 0x0a000102);
  assert.equal(ipv4ToInt('255.255.255.255'), 0xffffffff);
  assert.equal(ipv4ToInt('::ffff:192.168.1.9'), 0xc0a80109);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1..2.3', '1.2.3.', '.1.2.3', '01.2.3.4', '::1', 'fe80::1', 'a.b.c.d', '1.2.3.4 ', '::ffff:1.2.3']) {
    assert.equal(ipv4ToInt(bad), -1, bad);
  }
});

test('AllowList: CIDRs and bare addresses; host bits of a CIDR ignored; IPv6 sources refused', () => {
  const list = new AllowList(['10.0.1.0/24', '192.168.7.9', '172.16.5.7/12']);
  assert.deepEqual(list.malformed, []);
  assert.equal(list.text, '10.0.1.0/24,192.168.7.9/32,172.16.0.0/12');
  for (const ok of ['10.0.1.0', '10.0.1.255', '192.168.7.9', '172.16.0.1', '172.31.255.255', '::ffff:10.0.1.77']) assert.equal(list.allows(ok), true, ok);
  for (const no of ['10.0.2.1', '10.0.0.255', '192.168.7.8', '192.168.7.10', '172.32.0.1', '::1', '::ffff:10.0.2.1', 'nonsense']) assert.equal(list.allows(no), false, no);
  assert.equal(list.allows(undefined), false, 'a source the socket cannot tell is refused');
});

test('AllowList: empty allows every source; /0 every IPv4 source; all-malformed allows none', () => {
  const empty = new AllowList([]);
  assert.equal(empty.allowsAll, true);
  assert.equal(empty.allows('203.0.113.5'), true);
  assert.equal(empty.allows('::1'), true);
  const any4 = new AllowList(['0.0.0.0/0']);
  assert.equal(any4.allows('203.0.113.5'), true);
  assert.equal(any4.allows('255.255.255.255'), true);
  assert.equal(any4.allows('::1'), false);
  const broken = new AllowList(['10.0.0.0/33', 'fe80::/64', '10.0.0.0/', '10.0.0.0/2x', 'x']);
  assert.deepEqual(broken.malformed, ['10.0.0.0/33', 'fe80::/64', '10.0.0.0/', '10.0.0.0/2x', 'x']);
  assert.equal(broken.allowsAll, false);
  assert.equal(broken.allows('10.0.0.1'), false, 'a list meant to restrict never fails open');
  const mixed = new AllowList(['bogus', '10.9.0.0/16']);
  assert.deepEqual(mixed.malformed, ['bogus']);
  assert.equal(mixed.allows('10.9.3.4'), true);
  assert.equal(mixed.allows('10.8.3.4'), false);
});
