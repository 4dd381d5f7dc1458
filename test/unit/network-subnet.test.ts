// The node bridges' address arithmetic on its own: IPv4 and CIDR parsing (each refusal one
// line), containment and overlap, the /22 blocks of a pool, and the layout inside one block.
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  BRIDGE_PREFIX,
  CONTAINER_CAPACITY,
  SERVICE_ADDRESS_CAPACITY,
  STAND_IN_CAPACITY,
  blockAt,
  blockCount,
  cidrContains,
  cidrsOverlap,
  containerRange,
  formatCidr,
  formatIpv4,
  gatewayAddress,
  isIpv4,
  parseCidr,
  parseIpv4,
  serviceAddress,
  standInAddress,
} from '../../worker/network/subnet.js';
import { bridgeInterfaceName, bridgeNetworkName } from '../../worker/network/bridges.js';

function oneLine(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.doesNotMatch(err.message, /\n/, 'one line');
    assert.match(err.message, pattern);
    return true;
  });
}

test('IPv4 addresses: parsed to numbers and back', () => {
  assert.equal(parseIpv4('0.0.0.0'), 0);
  assert.equal(parseIpv4('10.213.0.1'), 0x0ad50001);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.equal(formatIpv4(0x0ad50001), '10.213.0.1');
  assert.equal(formatIpv4(0xffffffff), '255.255.255.255');
  for (const ip of ['192.168.1.20', '1.2.3.4', '127.0.0.1']) assert.equal(formatIpv4(parseIpv4(ip)), ip);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', 'a.b.c.d', ' 1.2.3.4', '1.2.3.4/32', '::1']) {
    oneLine(() => parseIpv4(bad), /is not an IPv4 address/);
    assert.equal(isIpv4(bad), false, bad);
  }
  assert.equal(isIpv4('10.0.0.1'), true);
  oneLine(() => formatIpv4(-1), /not an IPv4 address number/);
  oneLine(() => formatIpv4(2 ** 32), /not an IPv4 address number/);
});

test('CIDR blocks: strict for subnets, host bits dropped for interface addresses', () => {
  assert.deepEqual(parseCidr('10.213.0.0/16'), { network: 0x0ad50000, prefix: 16 });
  assert.equal(formatCidr(parseCidr('10.213.4.0/22')), '10.213.4.0/22');
  assert.equal(formatCidr(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
  oneLine(() => parseCidr('10.213.0.5/24'), /host bits set \(the block starts at 10\.213\.0\.0\)/);
  assert.equal(formatCidr(parseCidr('10.213.0.5/24', false)), '10.213.0.0/24');
  assert.equal(formatCidr(parseCidr('192.0.2.2/32', false)), '192.0.2.2/32');
  for (const bad of ['10.0.0.0', '10.0.0.0/', '10.0.0.0/33', '10.0.0.0/08', '10.0.0.0/a', 'x/8']) {
    oneLine(() => parseCidr(bad), /not an IPv4 CIDR block|not an IPv4 address/);
  }
});

test('containment and overlap', () => {
  const net = parseCidr('10.213.4.0/22');
  assert.ok(cidrContains(net, parseIpv4('10.213.4.0')));
  assert.ok(cidrContains(net, parseIpv4('10.213.7.255')));
  assert.ok(!cidrContains(net, parseIpv4('10.213.8.0')));
  assert.ok(!cidrContains(net, parseIpv4('10.213.3.255')));
  assert.ok(cidrContains(parseCidr('0.0.0.0/0'), parseIpv4('255.255.255.255')));

  assert.ok(cidrsOverlap(net, parseCidr('10.213.5.0/24')), 'a block inside');
  assert.ok(cidrsOverlap(parseCidr('10.0.0.0/8'), net), 'a block around');
  assert.ok(cidrsOverlap(net, parseCidr('10.213.7.255/32')), 'the last address');
  assert.ok(!cidrsOverlap(net, parseCidr('10.213.8.0/22')), 'the next block');
  assert.ok(!cidrsOverlap(net, parseCidr('10.213.0.0/22')), 'the block before');
  assert.ok(!cidrsOverlap(net, parseCidr('172.17.0.0/16')));
});

test('a pool is cut in /22 blocks', () => {
  const pool = parseCidr('10.213.0.0/16');
  assert.equal(BRIDGE_PREFIX, 22);
  assert.equal(blockCount(pool), 64);
  assert.equal(formatCidr(blockAt(pool, 0)), '10.213.0.0/22');
  assert.equal(formatCidr(blockAt(pool, 1)), '10.213.4.0/22');
  assert.equal(formatCidr(blockAt(pool, 63)), '10.213.252.0/22');
  oneLine(() => blockAt(pool, 64), /block 64 is outside pool 10\.213\.0\.0\/16 \(64 blocks of \/22\)/);
  oneLine(() => blockAt(pool, -1), /outside pool/);
  assert.equal(blockCount(parseCidr('10.213.0.0/22')), 1);
  assert.equal(blockCount(parseCidr('10.213.0.0/23')), 0, 'smaller than one bridge');
  assert.equal(blockCount(parseCidr('10.0.0.0/8')), 16384);
});

test('inside one bridge subnet: gateway, containers, service and stand-in addresses', () => {
  const subnet = parseCidr('10.213.4.0/22');
  assert.equal(formatIpv4(gatewayAddress(subnet)), '10.213.4.1');
  assert.equal(formatCidr(containerRange(subnet)), '10.213.4.0/24');
  assert.equal(CONTAINER_CAPACITY, 253);

  assert.equal(formatIpv4(serviceAddress(subnet, 0)), '10.213.5.0');
  assert.equal(formatIpv4(serviceAddress(subnet, SERVICE_ADDRESS_CAPACITY - 1)), '10.213.5.255');
  oneLine(() => serviceAddress(subnet, SERVICE_ADDRESS_CAPACITY), /service address 256 is out of range \(a bridge has 256: 0-255\)/);
  oneLine(() => serviceAddress(subnet, 1.5), /out of range/);

  assert.equal(formatIpv4(standInAddress(subnet, 0)), '10.213.6.0');
  assert.equal(formatIpv4(standInAddress(subnet, 256)), '10.213.7.0');
  assert.equal(formatIpv4(standInAddress(subnet, STAND_IN_CAPACITY - 1)), '10.213.7.254', 'the broadcast address is never handed out');
  oneLine(() => standInAddress(subnet, STAND_IN_CAPACITY), /stand-in address 511 is out of range/);

  // Every service and stand-in address is in the bridge's subnet (so an internal network's
  // isolation lets containers reach them) and outside Docker's range for containers.
  const range = containerRange(subnet);
  for (const ip of [serviceAddress(subnet, 0), serviceAddress(subnet, 255), standInAddress(subnet, 0), standInAddress(subnet, 510)]) {
    assert.ok(cidrContains(subnet, ip));
    assert.ok(!cidrContains(range, ip));
  }
  oneLine(() => gatewayAddress(parseCidr('10.213.0.0/24')), /is not a bridge subnet \(\/22\)/);
  oneLine(() => serviceAddress(parseCidr('10.213.0.0/16'), 0), /is not a bridge subnet/);
});

test('bridge names: per node and network, within Linux and Docker limits', () => {
  const a = bridgeInterfaceName('node-a', 'net-1');
  assert.match(a, /^bt[0-9a-f]{10}$/);
  assert.ok(a.length <= 15);
  assert.equal(bridgeInterfaceName('node-a', 'net-1'), a, 'stable across restarts');
  assert.notEqual(bridgeInterfaceName('node-b', 'net-1'), a, 'two nodes on one engine');
  assert.notEqual(bridgeInterfaceName('node-a', 'net-2'), a);
  // The separator keeps ('ab','c') and ('a','bc') apart.
  assert.notEqual(bridgeInterfaceName('ab', 'c'), bridgeInterfaceName('a', 'bc'));
  assert.equal(bridgeNetworkName('nodeid0123456789', 'netid0123456789'), 'baton_netid0123456_nodeid012345');
  assert.equal(bridgeNetworkName('n/1', 'x y'), 'baton_x_y_n_1');
});
