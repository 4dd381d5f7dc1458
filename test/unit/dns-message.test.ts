import test from 'node:test';
import assert from 'node:assert/strict';
import {
  CLASSIC_UDP_SIZE,
  RCODE_BADVERS,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  TYPE_A,
  TYPE_AAAA,
  TYPE_ANY,
  addressRecords,
  buildErrorResponse,
  buildResponse,
  nameText,
  parseQuery,
  udpLimit,
  type DnsQuery,
  type ParsedPacket,
} from '../../worker/network/dns-message.js';
import { RCODE, addressOf, decodeMessage, encodeName, encodeQuery } from './dns-fixtures.js';

function query(parsed: ParsedPacket): DnsQuery {
  if (parsed.kind !== 'query') assert.fail(`not a query: ${JSON.stringify(parsed)}`);
  return parsed.query;
}

function refused(parsed: ParsedPacket): Extract<ParsedPacket, { kind: 'error' }> {
  if (parsed.kind !== 'error') assert.fail(`not an error: ${JSON.stringify(parsed)}`);
  return parsed;
}

/** A header with `qdcount` questions and the given counts, then `body`. */
function packet(body: Buffer, counts: { qd?: number; an?: number; ns?: number; ar?: number } = {}, id = 0xbeef): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(counts.qd ?? 1, 4);
  header.writeUInt16BE(counts.an ?? 0, 6);
  header.writeUInt16BE(counts.ns ?? 0, 8);
  header.writeUInt16BE(counts.ar ?? 0, 10);
  return Buffer.concat([header, body]);
}

const TYPE_CLASS_A_IN = Buffer.from([0, 1, 0, 1]);

test('a query: id, recursion wish, the name in lower case without the trailing dot, type and class', () => {
  const q = query(parseQuery(encodeQuery({ id: 0x1234, name: 'Web.Front-End.', type: TYPE_AAAA })));
  assert.equal(q.id, 0x1234);
  assert.equal(q.recursionDesired, true);
  assert.equal(q.question.name, 'web.front-end');
  assert.equal(q.question.type, TYPE_AAAA);
  assert.equal(q.question.class, 1);
  assert.equal(q.edns, undefined);
  assert.equal(udpLimit(q), CLASSIC_UDP_SIZE);
  const noRd = query(parseQuery(encodeQuery({ id: 1, name: 'x', recursionDesired: false })));
  assert.equal(noRd.recursionDesired, false);
});

test('an EDNS OPT record in the additional section is read, and the UDP limit follows it within bounds', () => {
  assert.equal(query(parseQuery(encodeQuery({ id: 1, name: 'web', edns: { udpSize: 1400 } }))).edns?.udpSize, 1400);
  assert.equal(udpLimit(query(parseQuery(encodeQuery({ id: 1, name: 'web', edns: { udpSize: 1400 } })))), 1400);
  // Below 512 counts as 512 (RFC 6891 6.2.5); above the ceiling is held to it.
  assert.equal(udpLimit(query(parseQuery(encodeQuery({ id: 1, name: 'web', edns: { udpSize: 100 } })))), 512);
  assert.equal(udpLimit(query(parseQuery(encodeQuery({ id: 1, name: 'web', edns: { udpSize: 65000 } })))), 4096);
  assert.equal(query(parseQuery(encodeQuery({ id: 1, name: 'web', edns: { udpSize: 1232, version: 1 } }))).edns?.version, 1);
});

test('the answer to an A query: header bits, the question as asked, every address with its TTL', () => {
  const q = query(parseQuery(encodeQuery({ id: 0xabcd, name: 'WeB.Net' })));
  const records = addressRecords(TYPE_A, ['10.0.0.2', '10.0.0.3', '2001:db8::1', 'not-an-ip'], 30);
  const reply = decodeMessage(buildResponse(q, { rcode: RCODE_NOERROR, records, authoritative: true, maxSize: 512 }));
  assert.equal(reply.id, 0xabcd);
  assert.deepEqual([reply.qr, reply.aa, reply.tc, reply.rd, reply.ra, reply.rcode], [true, true, false, true, true, RCODE.NOERROR]);
  // The question comes back with the case it was asked in (resolvers that mix case check it).
  assert.deepEqual(reply.questions, [{ name: 'WeB.Net', type: 1, class: 1 }]);
  assert.deepEqual(
    reply.answers.map((a) => [a.name, a.type, a.class, a.ttl, addressOf(a)]),
    [
      ['WeB.Net', 1, 1, 30, '10.0.0.2'],
      ['WeB.Net', 1, 1, 30, '10.0.0.3'],
    ],
  );
  assert.deepEqual(reply.additional, [], 'no OPT record when the query had none');
});

test('AAAA, ANY and other types: only addresses of the family asked for; none is NODATA', () => {
  const v6 = addressRecords(TYPE_AAAA, ['10.0.0.2', '2001:db8::1', '::1', '::ffff:1.2.3.4', 'fe80::1%eth0'], 5);
  assert.deepEqual(
    v6.map((r) => addressOf({ name: '', class: 1, ttl: r.ttl, type: r.type, data: r.data })),
    ['2001:db8:0:0:0:0:0:1', '0:0:0:0:0:0:0:1', '0:0:0:0:0:ffff:102:304'],
  );
  assert.deepEqual(
    addressRecords(TYPE_ANY, ['10.0.0.2', '::1'], 5).map((r) => r.type),
    [TYPE_A, TYPE_AAAA],
  );
  assert.deepEqual(addressRecords(15, ['10.0.0.2'], 5), [], 'MX: no records');
  const q = query(parseQuery(encodeQuery({ id: 7, name: 'web', type: TYPE_AAAA })));
  const reply = decodeMessage(buildResponse(q, { rcode: RCODE_NOERROR, records: addressRecords(TYPE_AAAA, ['10.0.0.2'], 5), authoritative: true, maxSize: 512 }));
  assert.equal(reply.rcode, RCODE.NOERROR);
  assert.equal(reply.answers.length, 0);
  assert.equal(reply.aa, true);
});

test('TTLs are whole seconds between 0 and 2^31-1', () => {
  assert.equal(addressRecords(TYPE_A, ['1.2.3.4'], -5)[0]?.ttl, 0);
  assert.equal(addressRecords(TYPE_A, ['1.2.3.4'], 2.7)[0]?.ttl, 2);
  assert.equal(addressRecords(TYPE_A, ['1.2.3.4'], 1e12)[0]?.ttl, 0x7fffffff);
  assert.equal(addressRecords(TYPE_A, ['1.2.3.4'], Number.NaN)[0]?.ttl, 0);
});

test('NXDOMAIN, and an EDNS query gets an OPT record back carrying the upper bits of BADVERS', () => {
  const q = query(parseQuery(encodeQuery({ id: 9, name: 'gone', edns: { udpSize: 1232 } })));
  const nx = decodeMessage(buildResponse(q, { rcode: RCODE_NXDOMAIN, authoritative: true, maxSize: 512 }));
  assert.equal(nx.rcode, RCODE.NXDOMAIN);
  assert.equal(nx.answers.length, 0);
  assert.equal(nx.additional.length, 1);
  assert.equal(nx.additional[0]?.type, 41);
  const bad = buildResponse(q, { rcode: RCODE_BADVERS, maxSize: 512 });
  assert.equal(bad.readUInt16BE(2) & 0xf, 0, 'the header holds the low 4 bits only');
  assert.equal(decodeMessage(bad).rcode, RCODE.BADVERS);
});

test('an answer larger than the limit keeps the records that fit and sets TC', () => {
  const addresses = Array.from({ length: 100 }, (_, i) => `10.1.0.${i + 1}`);
  const q = query(parseQuery(encodeQuery({ id: 3, name: 'big.service' })));
  const small = buildResponse(q, { rcode: RCODE_NOERROR, records: addressRecords(TYPE_A, addresses, 1), maxSize: udpLimit(q) });
  assert.ok(small.length <= 512, `${small.length} bytes`);
  const decoded = decodeMessage(small);
  assert.equal(decoded.tc, true);
  // 12 header + 17 question, 16 per A record.
  assert.equal(decoded.answers.length, Math.floor((512 - 12 - (encodeName('big.service').length + 4)) / 16));
  assert.deepEqual(decoded.answers.map(addressOf), addresses.slice(0, decoded.answers.length));

  const qe = query(parseQuery(encodeQuery({ id: 3, name: 'big.service', edns: { udpSize: 4096 } })));
  const large = decodeMessage(buildResponse(qe, { rcode: RCODE_NOERROR, records: addressRecords(TYPE_A, addresses, 1), maxSize: udpLimit(qe) }));
  assert.equal(large.tc, false);
  assert.equal(large.answers.length, 100);
  assert.equal(large.additional[0]?.type, 41, 'the OPT record is kept');
});

test('names as text: case folded, dots and odd bytes inside a label escaped, the root empty', () => {
  assert.equal(nameText([Buffer.from('WWW'), Buffer.from('Example')]), 'www.example');
  assert.equal(nameText([Buffer.from('a.b')]), 'a\\.b');
  assert.equal(nameText([Buffer.from([0x00, 0x5c, 0xff, 0x41])]), '\\000\\\\\\255a');
  assert.equal(nameText([]), '');
  // Bytes past ASCII are not letters: not folded.
  assert.equal(nameText([Buffer.from([0xc9])]), '\\201');
  const root = query(parseQuery(packet(Buffer.concat([Buffer.from([0]), Buffer.from([0, 2, 0, 1])]))));
  assert.equal(root.question.name, '');
});

test('qdcount 0 or 2 is FORMERR with the id; another opcode is NOTIMP; a response is dropped', () => {
  const none = refused(parseQuery(packet(Buffer.alloc(0), { qd: 0 })));
  assert.equal(none.rcode, RCODE.FORMERR);
  assert.equal(none.id, 0xbeef);
  const body = Buffer.concat([encodeName('a'), TYPE_CLASS_A_IN, encodeName('b'), TYPE_CLASS_A_IN]);
  assert.equal(refused(parseQuery(packet(body, { qd: 2 }))).rcode, RCODE.FORMERR);

  const status = packet(Buffer.concat([encodeName('a'), TYPE_CLASS_A_IN]));
  status.writeUInt16BE(2 << 11, 2);
  const notimp = refused(parseQuery(status));
  assert.equal(notimp.rcode, RCODE.NOTIMP);
  const answer = decodeMessage(buildErrorResponse(notimp));
  assert.deepEqual([answer.id, answer.qr, answer.opcode, answer.rcode, answer.questions.length], [0xbeef, true, 2, RCODE.NOTIMP, 0]);

  const response = encodeQuery({ id: 5, name: 'a' });
  response.writeUInt16BE(0x8180, 2);
  assert.equal(parseQuery(response).kind, 'drop');
  assert.equal(parseQuery(Buffer.alloc(11)).kind, 'drop');
  assert.equal(parseQuery(Buffer.alloc(0)).kind, 'drop');
});

test('every truncation of a query is dropped or FORMERR, never a throw', () => {
  const full = encodeQuery({ id: 0x4242, name: 'some.service.name', edns: { udpSize: 1232 } });
  for (let len = 0; len < full.length; len++) {
    const parsed = parseQuery(full.subarray(0, len));
    if (len < 12) assert.equal(parsed.kind, 'drop', `${len} bytes`);
    else assert.equal(refused(parsed).rcode, RCODE.FORMERR, `${len} bytes`);
  }
  assert.equal(parseQuery(full).kind, 'query');
});

test('compression: loops, forward pointers and pointers into the header are FORMERR, and a real chain is read', () => {
  // The question's name is a pointer to itself.
  assert.equal(refused(parseQuery(packet(Buffer.concat([Buffer.from([0xc0, 12]), TYPE_CLASS_A_IN])))).rcode, RCODE.FORMERR);
  // A pointer into the header.
  assert.equal(refused(parseQuery(packet(Buffer.concat([Buffer.from([0xc0, 2]), TYPE_CLASS_A_IN])))).rcode, RCODE.FORMERR);
  const question = Buffer.concat([encodeName('web'), TYPE_CLASS_A_IN]); // offsets 12..20, name 12..16
  const rr = (name: Buffer): Buffer => Buffer.concat([name, Buffer.from([0, 1, 0, 1, 0, 0, 0, 0, 0, 0])]);
  // Two names pointing at each other: at 21 a label then a pointer to 35; at 35 a label then a
  // pointer to 21 (each record is 4 name bytes and 10 more).
  const a = rr(Buffer.from([1, 0x61, 0xc0, 35]));
  const b = rr(Buffer.from([1, 0x62, 0xc0, 21]));
  const loop = packet(Buffer.concat([question, a, b]), { ar: 2 });
  assert.equal(refused(parseQuery(loop)).rcode, RCODE.FORMERR);
  // A label followed by a pointer back to that same label: backwards, still a loop.
  const selfLoop = packet(Buffer.concat([question, rr(Buffer.from([1, 0x61, 0xc0, 21]))]), { ar: 1 });
  assert.equal(refused(parseQuery(selfLoop)).rcode, RCODE.FORMERR);
  // Pointers only, no label between them (so no length limit is ever reached): the record's
  // name at 21 points to 23, where its type field reads as a pointer back to 21.
  const pointerLoop = packet(Buffer.concat([question, Buffer.from([0xc0, 23, 0xc0, 21, 0, 1, 0, 0, 0, 0, 0, 0])]), { ar: 1 });
  assert.equal(refused(parseQuery(pointerLoop)).rcode, RCODE.FORMERR);
  // A chain that ends: an additional record named x.<the question's name> is fine.
  const chained = packet(Buffer.concat([question, rr(Buffer.from([1, 0x78, 0xc0, 12]))]), { ar: 1 });
  assert.equal(query(parseQuery(chained)).question.name, 'web');
  // A label type other than plain or pointer (0x40, 0x80).
  assert.equal(refused(parseQuery(packet(Buffer.concat([Buffer.from([0x41, 0x61, 0]), TYPE_CLASS_A_IN])))).rcode, RCODE.FORMERR);
});

test('names over 255 bytes and labels over 63 are FORMERR; two OPT records too', () => {
  const long = Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.');
  assert.equal(refused(parseQuery(encodeQuery({ id: 1, name: long }))).rcode, RCODE.FORMERR);
  assert.equal(query(parseQuery(encodeQuery({ id: 1, name: Array.from({ length: 4 }, () => 'a'.repeat(61)).join('.') }))).question.name.length, 4 * 61 + 3);
  const q = encodeQuery({ id: 1, name: 'web', edns: { udpSize: 1232 } });
  const opt = q.subarray(q.length - 11);
  const twoOpts = Buffer.concat([q, opt]);
  twoOpts.writeUInt16BE(2, 10);
  assert.equal(refused(parseQuery(twoOpts)).rcode, RCODE.FORMERR);
});

test('random packets and mutated queries: always a result, never a throw', () => {
  // A fixed generator so that a failure can be replayed.
  let seed = 0x9e3779b9;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const base = encodeQuery({ id: 77, name: 'a.b.service.internal', edns: { udpSize: 1232 } });
  const kinds = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    let bytes: Buffer;
    if (i % 2 === 0) {
      bytes = Buffer.alloc(next() % 80);
      for (let j = 0; j < bytes.length; j++) bytes[j] = next() & 0xff;
      // Mostly queries with one question, so that the name reader is reached.
      if (bytes.length >= 12 && i % 4 === 0) {
        bytes.writeUInt16BE(0, 2);
        bytes.writeUInt16BE(1, 4);
      }
    } else {
      bytes = Buffer.from(base);
      for (let k = 0; k < 3; k++) bytes[next() % bytes.length] = next() & 0xff;
    }
    const parsed = parseQuery(bytes);
    kinds.add(parsed.kind);
    if (parsed.kind === 'query') buildResponse(parsed.query, { rcode: 0, records: addressRecords(parsed.query.question.type, ['10.0.0.1'], 1), maxSize: 512 });
    if (parsed.kind === 'error') buildErrorResponse(parsed);
  }
  assert.deepEqual([...kinds].sort(), ['drop', 'error', 'query']);
});
