// The DNS wire format (RFC 1035 section 4, EDNS from RFC 6891) as far as the node's DNS server
// needs it: reading one query, and writing the answers the server gives itself (addresses,
// NODATA, NXDOMAIN, SERVFAIL, FORMERR). Forwarded answers are relayed as raw bytes and never
// parsed beyond their header. Nothing here throws on bad input: a packet is a query, an error
// to answer, or something to drop.
import { isIPv4, isIPv6 } from 'node:net';

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
export const TYPE_OPT = 41;
export const TYPE_ANY = 255;
export const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;
/** BADVERS (16) does not fit the header's 4 bits: its upper bits travel in the OPT record. */
export const RCODE_BADVERS = 16;

export const HEADER_SIZE = 12;
/** The UDP size every client accepts (RFC 1035 4.2.1), and the least EDNS may ask for. */
export const CLASSIC_UDP_SIZE = 512;
/**
 * The largest UDP answer this server writes whatever a client's EDNS says: beyond this,
 * fragmentation makes answers get lost (the 2020 DNS flag day settled on 1232; 4096 is the
 * common ceiling, and our answers are a handful of addresses).
 */
export const MAX_UDP_SIZE = 4096;
/** The UDP size this server says it accepts in its own OPT records. */
export const ADVERTISED_UDP_SIZE = 1232;
/** A TCP message's length is a 16-bit prefix. */
export const MAX_TCP_SIZE = 65535;

const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const OPCODE_QUERY = 0;

/** RFC 1035 2.3.4: a name is at most 255 octets on the wire, a label at most 63. */
const MAX_NAME_WIRE = 255;
const MAX_LABEL = 63;
/**
 * Compression pointers a name may follow. Each pointer must also point before the last one
 * (see readName), which alone ends every loop; this caps the work of a hostile packet further.
 */
const MAX_POINTERS = 64;
/** The largest TTL allowed (RFC 2181 section 8). */
const MAX_TTL = 0x7fffffff;

export interface Question {
  /** The labels exactly as sent (case kept, as resolvers that mix case expect it echoed). */
  labels: Buffer[];
  /** Lower case, labels joined by dots, no trailing dot, odd bytes escaped (see nameText). */
  name: string;
  type: number;
  class: number;
}

export interface Edns {
  /** The UDP payload size the client accepts (as sent, before clamping). */
  udpSize: number;
  version: number;
}

export interface DnsQuery {
  id: number;
  opcode: number;
  recursionDesired: boolean;
  question: Question;
  edns?: Edns;
}

export type ParsedPacket =
  | { kind: 'query'; query: DnsQuery }
  /** Answer with this code and no question: the packet is not a query we can read. */
  | { kind: 'error'; id: number; opcode: number; recursionDesired: boolean; rcode: number; reason: string }
  /** Not worth an answer: too short to carry an id, or itself a response (answering those loops). */
  | { kind: 'drop'; reason: string };

/** One answer record; its owner is always the question's name. */
export interface AnswerRecord {
  type: number;
  ttl: number;
  data: Buffer;
}

class Malformed extends Error {}

/** Reads a query. Never throws. */
export function parseQuery(packet: Buffer): ParsedPacket {
  if (packet.length < HEADER_SIZE) return { kind: 'drop', reason: `${packet.length} bytes, shorter than a header` };
  const id = packet.readUInt16BE(0);
  const flags = packet.readUInt16BE(2);
  if ((flags & FLAG_QR) !== 0) return { kind: 'drop', reason: 'a response, not a query' };
  const opcode = (flags >> 11) & 0xf;
  const recursionDesired = (flags & FLAG_RD) !== 0;
  const error = (rcode: number, reason: string): ParsedPacket => ({ kind: 'error', id, opcode, recursionDesired, rcode, reason });
  if (opcode !== OPCODE_QUERY) return error(RCODE_NOTIMP, `opcode ${opcode}`);
  const qdcount = packet.readUInt16BE(4);
  if (qdcount !== 1) return error(RCODE_FORMERR, `${qdcount} questions`);
  try {
    const name = readName(packet, HEADER_SIZE);
    let offset = need(packet, name.end, 4);
    const question: Question = {
      labels: name.labels,
      name: nameText(name.labels),
      type: packet.readUInt16BE(offset),
      class: packet.readUInt16BE(offset + 2),
    };
    offset += 4;
    // Queries carry no answers or authority, but reading past them costs nothing and finds
    // the OPT record wherever it is.
    const records = packet.readUInt16BE(6) + packet.readUInt16BE(8) + packet.readUInt16BE(10);
    const additionalFrom = packet.readUInt16BE(6) + packet.readUInt16BE(8);
    let edns: Edns | undefined;
    // Bounded: 65535 records at most, and each one consumes at least 11 bytes or fails.
    for (let i = 0; i < records; i++) {
      const rr = readRecordHead(packet, offset);
      if (rr.type === TYPE_OPT) {
        if (i < additionalFrom) return error(RCODE_FORMERR, 'an OPT record outside the additional section');
        if (edns) return error(RCODE_FORMERR, 'two OPT records');
        if (rr.labels.length !== 0) return error(RCODE_FORMERR, 'an OPT record not owned by the root');
        edns = { udpSize: rr.class, version: (rr.ttl >>> 16) & 0xff };
      }
      offset = rr.end;
    }
    // Bytes after the last record are ignored, as most servers do.
    return { kind: 'query', query: { id, opcode, recursionDesired, question, ...(edns ? { edns } : {}) } };
  } catch (err) {
    if (err instanceof Malformed) return error(RCODE_FORMERR, err.message);
    return error(RCODE_FORMERR, 'unreadable');
  }
}

/** The header of a record at `offset` and where the record ends. */
function readRecordHead(packet: Buffer, offset: number): { labels: Buffer[]; type: number; class: number; ttl: number; end: number } {
  const name = readName(packet, offset);
  const at = need(packet, name.end, 10);
  const rdlength = packet.readUInt16BE(at + 8);
  const end = need(packet, at + 10, rdlength) + rdlength;
  return { labels: name.labels, type: packet.readUInt16BE(at), class: packet.readUInt16BE(at + 2), ttl: packet.readUInt32BE(at + 4), end };
}

/** `offset` when `n` bytes are there to read from it. */
function need(packet: Buffer, offset: number, n: number): number {
  if (offset + n > packet.length) throw new Malformed('truncated');
  return offset;
}

/**
 * Reads a possibly compressed name. Every pointer must point before the position the previous
 * jump landed on (before the name itself for the first), so the positions read strictly
 * decrease and no packet can make this loop; it also stops after MAX_POINTERS jumps and at 255
 * octets, whichever comes first. Pointers into the header are refused: no name lives there.
 */
export function readName(packet: Buffer, start: number): { labels: Buffer[]; end: number } {
  const labels: Buffer[] = [];
  let offset = start;
  let floor = start;
  let end = -1;
  let wire = 1;
  for (let jumps = 0; ; ) {
    need(packet, offset, 1);
    const len = packet[offset]!;
    if (len === 0) {
      if (end < 0) end = offset + 1;
      return { labels, end };
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      need(packet, offset, 2);
      const target = packet.readUInt16BE(offset) & 0x3fff;
      if (++jumps > MAX_POINTERS) throw new Malformed('too many compression pointers');
      if (target >= floor || target < HEADER_SIZE) throw new Malformed('a compression pointer that does not point back');
      if (end < 0) end = offset + 2;
      offset = target;
      floor = target;
      continue;
    }
    if (kind !== 0) throw new Malformed(`label type 0x${kind.toString(16)}`);
    if (len > MAX_LABEL) throw new Malformed('a label longer than 63 bytes');
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) throw new Malformed('a name longer than 255 bytes');
    need(packet, offset + 1, len);
    labels.push(packet.subarray(offset + 1, offset + 1 + len));
    offset += len + 1;
  }
}

/**
 * A name as text for comparing: ASCII letters in lower case (DNS compares names without case,
 * RFC 4343), labels joined by '.', no trailing dot, the root as ''. A byte that would make two
 * different names read the same ('.' or '\' inside a label) or is not printable is written as
 * in zone files (\. \\ \DDD), so a label 'a.b' can never pass for the name a.b.
 */
export function nameText(labels: readonly Buffer[]): string {
  return labels
    .map((label) => {
      let text = '';
      for (const byte of label) {
        if (byte >= 0x41 && byte <= 0x5a) text += String.fromCharCode(byte + 0x20);
        else if (byte === 0x2e || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`;
        else if (byte > 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
        else text += `\\${byte.toString().padStart(3, '0')}`;
      }
      return text;
    })
    .join('.');
}

/** The UDP size an answer to this query may take. */
export function udpLimit(query: DnsQuery): number {
  if (!query.edns) return CLASSIC_UDP_SIZE;
  return Math.min(Math.max(query.edns.udpSize, CLASSIC_UDP_SIZE), MAX_UDP_SIZE);
}

/** A/AAAA records of the addresses of the family the question asks for (both for ANY). */
export function addressRecords(qtype: number, addresses: readonly string[], ttl: number): AnswerRecord[] {
  const records: AnswerRecord[] = [];
  const seconds = clampTtl(ttl);
  for (const address of addresses) {
    if ((qtype === TYPE_A || qtype === TYPE_ANY) && isIPv4(address)) {
      records.push({ type: TYPE_A, ttl: seconds, data: Buffer.from(address.split('.').map(Number)) });
    } else if ((qtype === TYPE_AAAA || qtype === TYPE_ANY) && isIPv6(address) && !address.includes('%')) {
      records.push({ type: TYPE_AAAA, ttl: seconds, data: ipv6Bytes(address) });
    }
  }
  return records;
}

function clampTtl(ttl: number): number {
  if (!Number.isFinite(ttl) || ttl < 0) return 0;
  return Math.min(Math.floor(ttl), MAX_TTL);
}

/** The 16 bytes of an IPv6 address (checked by isIPv6 beforehand, zone-less). */
function ipv6Bytes(address: string): Buffer {
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes its two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(zeros).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  groups.slice(0, 8).forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16) & 0xffff, i * 2));
  return bytes;
}

/**
 * An answer to `query` with `rcode` and `records` (owned by the question's name), written in
 * at most `maxSize` bytes: records that do not fit are left out and TC is set, so the client
 * asks again over TCP. `authoritative`: the name is one the server owns.
 */
export function buildResponse(
  query: DnsQuery,
  opts: { rcode: number; records?: readonly AnswerRecord[]; authoritative?: boolean; maxSize: number },
): Buffer {
  const { question } = query;
  const qname = encodeLabels(question.labels);
  const opt = query.edns ? optRecord(opts.rcode) : undefined;
  const fixed = HEADER_SIZE + qname.length + 4 + (opt?.length ?? 0);
  const answers: Buffer[] = [];
  let size = fixed;
  let truncated = false;
  for (const record of opts.records ?? []) {
    // The owner is a pointer to the question's name, which always sits right after the header.
    const rr = Buffer.alloc(12 + record.data.length);
    rr.writeUInt16BE(0xc000 | HEADER_SIZE, 0);
    rr.writeUInt16BE(record.type, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(clampTtl(record.ttl), 6);
    rr.writeUInt16BE(record.data.length, 10);
    record.data.copy(rr, 12);
    if (size + rr.length > opts.maxSize) {
      truncated = true;
      break;
    }
    answers.push(rr);
    size += rr.length;
  }
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt16BE(query.id, 0);
  let flags = FLAG_QR | (query.opcode << 11) | FLAG_RA | (opts.rcode & 0xf);
  if (opts.authoritative) flags |= FLAG_AA;
  if (truncated) flags |= FLAG_TC;
  if (query.recursionDesired) flags |= FLAG_RD;
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(opt ? 1 : 0, 10);
  const qtail = Buffer.alloc(4);
  qtail.writeUInt16BE(question.type, 0);
  qtail.writeUInt16BE(question.class, 2);
  return Buffer.concat([header, qname, qtail, ...answers, ...(opt ? [opt] : [])]);
}

/** An answer carrying only a code, for a packet whose question could not be read. */
export function buildErrorResponse(packet: { id: number; opcode: number; recursionDesired: boolean; rcode: number }): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt16BE(packet.id, 0);
  let flags = FLAG_QR | ((packet.opcode & 0xf) << 11) | FLAG_RA | (packet.rcode & 0xf);
  if (packet.recursionDesired) flags |= FLAG_RD;
  header.writeUInt16BE(flags, 2);
  return header;
}

/** The server's own OPT record (RFC 6891 6.1.2): its UDP size and the rcode's upper bits. */
function optRecord(rcode: number): Buffer {
  const opt = Buffer.alloc(11);
  opt.writeUInt8(0, 0);
  opt.writeUInt16BE(TYPE_OPT, 1);
  opt.writeUInt16BE(ADVERTISED_UDP_SIZE, 3);
  opt.writeUInt8((rcode >> 4) & 0xff, 5);
  // Version 0, no flags, no options.
  opt.writeUInt16BE(0, 9);
  return opt;
}

function encodeLabels(labels: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const label of labels) parts.push(Buffer.from([label.length]), label);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** Reads the id and the response bits of a relayed answer; undefined when it is not one. */
export function responseHeader(packet: Buffer): { id: number; rcode: number; truncated: boolean; answers: number } | undefined {
  if (packet.length < HEADER_SIZE) return undefined;
  const flags = packet.readUInt16BE(2);
  if ((flags & FLAG_QR) === 0) return undefined;
  return { id: packet.readUInt16BE(0), rcode: flags & 0xf, truncated: (flags & FLAG_TC) !== 0, answers: packet.readUInt16BE(6) };
}

/** A copy of `packet` with another id: forwarded queries travel under a fresh one. */
export function withId(packet: Buffer, id: number): Buffer {
  const copy = Buffer.from(packet);
  copy.writeUInt16BE(id & 0xffff, 0);
  return copy;
}
