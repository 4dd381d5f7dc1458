// Helpers of the DNS tests: a query writer and a message reader written apart from
// worker/network/dns-message.ts (so the server is checked against a second reading of RFC
// 1035, not against itself), clients over real UDP and TCP sockets, and a fake upstream
// resolver.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pino from 'pino';

export const quietLogger = pino({ enabled: false });

export interface QueryOptions {
  id: number;
  name: string;
  type?: number;
  class?: number;
  recursionDesired?: boolean;
  edns?: { udpSize: number; version?: number };
}

export function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  return Buffer.concat([...labels.flatMap((l) => [Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)]), Buffer.from([0])]);
}

export function encodeQuery(opts: QueryOptions): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id, 0);
  header.writeUInt16BE(opts.recursionDesired === false ? 0 : 0x0100, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(opts.edns ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(opts.type ?? 1, 0);
  tail.writeUInt16BE(opts.class ?? 1, 2);
  const parts = [header, encodeName(opts.name), tail];
  if (opts.edns) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(opts.edns.udpSize, 3);
    opt.writeUInt8(opts.edns.version ?? 0, 6);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Buffer;
}

export interface Message {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** With the OPT record's upper bits when there is one. */
  rcode: number;
  questions: { name: string; type: number; class: number }[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
}

export function readName(buf: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let offset = start;
  let end = -1;
  for (let hops = 0; hops < 100; hops++) {
    const len = buf[offset];
    if (len === undefined) throw new Error('name past the end');
    if (len === 0) return { name: labels.join('.'), end: end < 0 ? offset + 1 : end };
    if (len >= 0xc0) {
      if (end < 0) end = offset + 2;
      offset = buf.readUInt16BE(offset) & 0x3fff;
      continue;
    }
    if (offset + 1 + len > buf.length) throw new Error('label past the end');
    labels.push(buf.subarray(offset + 1, offset + 1 + len).toString('latin1'));
    offset += 1 + len;
  }
  throw new Error('name too long');
}

export function decodeMessage(buf: Buffer): Message {
  if (buf.length < 12) throw new Error(`${buf.length} bytes`);
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o)) as [number, number, number, number];
  let offset = 12;
  const questions: Message['questions'] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, end } = readName(buf, offset);
    questions.push({ name, type: buf.readUInt16BE(end), class: buf.readUInt16BE(end + 2) });
    offset = end + 4;
  }
  const section = (n: number): DnsRecord[] => {
    const records: DnsRecord[] = [];
    for (let i = 0; i < n; i++) {
      const { name, end } = readName(buf, offset);
      const rdlength = buf.readUInt16BE(end + 8);
      if (end + 10 + rdlength > buf.length) throw new Error('record past the end');
      records.push({ name, type: buf.readUInt16BE(end), class: buf.readUInt16BE(end + 2), ttl: buf.readUInt32BE(end + 4), data: buf.subarray(end + 10, end + 10 + rdlength) });
      offset = end + 10 + rdlength;
    }
    return records;
  };
  const answers = section(counts[1]);
  const authority = section(counts[2]);
  const additional = section(counts[3]);
  if (offset !== buf.length) throw new Error(`${buf.length - offset} bytes after the last record`);
  const opt = additional.find((r) => r.type === 41);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: (flags & 0xf) | (opt ? (opt.ttl >>> 24) << 4 : 0),
    questions,
    answers,
    authority,
    additional,
  };
}

/** The dotted or colon text of an A or AAAA record's data. */
export function addressOf(record: DnsRecord): string {
  if (record.type === 1) return [...record.data].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(record.data.readUInt16BE(i).toString(16));
  return groups.join(':');
}

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

/** A UDP client bound to `address`, asking one question at a time. */
export class UdpClient {
  private constructor(readonly socket: UdpSocket) {}

  static async on(address: string): Promise<UdpClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => resolve());
    });
    return new UdpClient(socket);
  }

  /** The first datagram back, or a rejection after `timeoutMs`. */
  ask(to: { address: string; port: number }, packet: Buffer, timeoutMs = 5000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off('message', onMessage);
        reject(new Error('no answer'));
      }, timeoutMs);
      const onMessage = (msg: Buffer): void => {
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(msg);
      };
      this.socket.on('message', onMessage);
      this.socket.send(packet, to.port, to.address);
    });
  }

  /** Every datagram received within `ms`, or the first `count` of them as soon as they are in. */
  collect(ms: number, count = Infinity): Promise<Buffer[]> {
    const got: Buffer[] = [];
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(got);
      };
      const onMessage = (msg: Buffer): void => {
        got.push(msg);
        if (got.length >= count) done();
      };
      const timer = setTimeout(done, ms);
      this.socket.on('message', onMessage);
    });
  }

  send(to: { address: string; port: number }, packet: Buffer): void {
    this.socket.send(packet, to.port, to.address);
  }

  close(): void {
    this.socket.close();
  }
}

function frame(message: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(message.length, 0);
  return Buffer.concat([len, message]);
}

/** Reads length-prefixed messages off a TCP socket. */
export class TcpClient {
  private buffer = Buffer.alloc(0);
  private readonly messages: Buffer[] = [];
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 2 && this.buffer.length >= 2 + this.buffer.readUInt16BE(0)) {
        const len = this.buffer.readUInt16BE(0);
        this.messages.push(this.buffer.subarray(2, 2 + len));
        this.buffer = this.buffer.subarray(2 + len);
      }
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  static async connect(to: { address: string; port: number }, from?: string): Promise<TcpClient> {
    const socket = connect({ host: to.address, port: to.port, ...(from ? { localAddress: from } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new TcpClient(socket);
  }

  send(...packets: Buffer[]): void {
    this.socket.write(Buffer.concat(packets.map(frame)));
  }

  /** Writes bytes as they are (no length prefix). */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next `n` messages, or a rejection after `timeoutMs` or when the connection closes first. */
  async receive(n: number, timeoutMs = 5000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < n) {
      if (this.closed) throw new Error(`connection closed after ${this.messages.length} of ${n} answers`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.messages.length} of ${n} answers`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.messages.splice(0, n);
  }

  /** Resolves when the server closes the connection; rejects after `timeoutMs`. */
  async closedByServer(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export type UpstreamMode = 'answer' | 'silent' | 'servfail';

/**
 * A resolver on UDP and TCP of one address: A queries for names of `table` get its address,
 * other names NXDOMAIN; 'silent' answers nothing, 'servfail' answers SERVFAIL. It keeps what it
 * was asked.
 */
export class FakeUpstream {
  mode: UpstreamMode = 'answer';
  readonly seen: { name: string; id: number; type: number; class: number; transport: 'udp' | 'tcp' }[] = [];
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    readonly address: string,
    readonly table: Readonly<{ [name: string]: string }>,
  ) {}

  async start(): Promise<this> {
    for (let attempt = 0; attempt < 10 && !this.tcp; attempt++) {
      const udp = createSocket('udp4');
      await new Promise<void>((resolve) => udp.bind(0, this.address, () => resolve()));
      const port = udp.address().port;
      const tcp = createServer((socket) => this.onConnection(socket));
      const ok = await new Promise<boolean>((resolve) => {
        tcp.once('error', () => resolve(false));
        tcp.listen(port, this.address, () => resolve(true));
      });
      if (!ok) {
        udp.close();
        continue;
      }
      this.udp = udp;
      this.tcp = tcp;
      this.port = port;
      udp.on('message', (msg, rinfo) => {
        const reply = this.answer(msg, 'udp');
        if (reply) udp.send(reply, rinfo.port, rinfo.address);
      });
    }
    if (!this.tcp) throw new Error('no port free for UDP and TCP');
    return this;
  }

  get upstream(): { host: string; port: number } {
    return { host: this.address, port: this.port };
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        const msg = buffer.subarray(2, 2 + buffer.readUInt16BE(0));
        buffer = buffer.subarray(2 + msg.length);
        const reply = this.answer(msg, 'tcp');
        if (reply) socket.write(frame(reply));
      }
    });
  }

  private answer(msg: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    let query: Message;
    try {
      query = decodeMessage(msg);
    } catch {
      return undefined;
    }
    const q = query.questions[0]!;
    this.seen.push({ name: q.name, id: query.id, type: q.type, class: q.class, transport });
    if (this.mode === 'silent') return undefined;
    const address = this.table[q.name.toLowerCase()];
    const rcode = this.mode === 'servfail' ? RCODE.SERVFAIL : address === undefined ? RCODE.NXDOMAIN : RCODE.NOERROR;
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.id, 0);
    header.writeUInt16BE(0x8180 | rcode, 2);
    header.writeUInt16BE(1, 4);
    const answer = rcode === RCODE.NOERROR && q.type === 1 && address !== undefined;
    header.writeUInt16BE(answer ? 1 : 0, 6);
    const qtail = Buffer.alloc(4);
    qtail.writeUInt16BE(q.type, 0);
    qtail.writeUInt16BE(q.class, 2);
    const parts = [header, encodeName(q.name), qtail];
    if (answer) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(300, 6);
      rr.writeUInt16BE(4, 10);
      Buffer.from(address.split('.').map(Number)).copy(rr, 12);
      parts.push(rr);
    }
    return Buffer.concat(parts);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    await Promise.all([
      udp ? new Promise<void>((r) => udp.close(() => r())) : undefined,
      tcp ? new Promise<void>((r) => tcp.close(() => r())) : undefined,
    ]);
  }
}

/** A UDP port on `address` that nothing listens on (bound, read, closed): queries to it are refused. */
export async function deadPort(address: string): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
