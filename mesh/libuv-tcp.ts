// Node's own libuv TCP bindings (what node:net is built on), typed for the mesh's libuv
// engine (libuv-engine.ts).
//
// Why: with a new connection per request, node:net's Socket (a Duplex with two stream states,
// event emitters, destroy machinery) costs more CPU per connection than the relaying itself;
// measured on bench:mesh beside the node:net engine, the relay on these handles needs about a
// third less CPU per connection (docs/routing-mesh.md has the figures). They are reached
// through process.binding(), deprecated but still present in Node 20–22; when they are missing
// or look different (or BATON_MESH_ENGINE=net), `libuvTcp` is undefined and the mesh uses the
// node:net engine (net-engine.ts) under the same core, which has the same behaviour.

export const UV_EOF = -4095;

export interface ConnectReq {
  oncomplete: (status: number, handle: TcpHandle, req: ConnectReq, readable: boolean, writable: boolean) => void;
  address: string;
  port: number;
  [key: string]: unknown;
}

export interface WriteReq {
  handle: TcpHandle;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  [key: string]: unknown;
}

export interface ShutdownReq {
  handle: TcpHandle;
  /** Called when the FIN is sent; without it Node calls no JavaScript at all then. */
  oncomplete?: (this: ShutdownReq, status: number) => void;
  [key: string]: unknown;
}

export interface SockAddr {
  address?: string;
  port?: number;
  family?: string;
}

export interface TcpHandle {
  onread: ((this: TcpHandle, arrayBuffer: ArrayBuffer | undefined) => void) | null;
  onconnection: ((status: number, client: TcpHandle | undefined) => void) | null;
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  listen(backlog: number): number;
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  /** Reads go into `buf` from now on (what node:net's `onread` option uses); onread then gets no ArrayBuffer. Once per handle. */
  useUserBuffer(buf: Uint8Array): void;
  shutdown(req: ShutdownReq): number;
  close(callback?: () => void): void;
  reset(callback?: () => void): number;
  setNoDelay(on: boolean): number;
  getpeername(out: SockAddr): number;
  getsockname(out: SockAddr): number;
  [key: string]: unknown;
}

export interface LibuvTcp {
  newServer(): TcpHandle;
  newSocket(): TcpHandle;
  newConnectReq(): ConnectReq;
  newWriteReq(): WriteReq;
  newShutdownReq(): ShutdownReq;
  /** Bytes read (> 0), 0, UV_EOF or a negative errno, for the onread call in progress. */
  readResult(): number;
  readOffset(): number;
  /** Whether the last writeBuffer() was queued (not completed at once). */
  lastWriteWasAsync(): boolean;
}

type Ctor<T> = new (...args: unknown[]) => T;

function load(): LibuvTcp | undefined {
  if (process.env.BATON_MESH_ENGINE === 'net') return undefined;
  try {
    const proc = process as unknown as { binding(name: string): Record<string, unknown> };
    const tcp = proc.binding('tcp_wrap');
    const stream = proc.binding('stream_wrap');
    const TCP = tcp.TCP as Ctor<TcpHandle>;
    const TCPConnectWrap = tcp.TCPConnectWrap as Ctor<ConnectReq>;
    const constants = tcp.constants as { SOCKET: number; SERVER: number };
    const WriteWrap = stream.WriteWrap as Ctor<WriteReq>;
    const ShutdownWrap = stream.ShutdownWrap as Ctor<ShutdownReq>;
    const state = stream.streamBaseState as Int32Array;
    const kRead = stream.kReadBytesOrError as number;
    const kOffset = stream.kArrayBufferOffset as number;
    const kAsync = stream.kLastWriteWasAsync as number;
    if (typeof TCP !== 'function' || typeof TCPConnectWrap !== 'function' || typeof WriteWrap !== 'function' || typeof ShutdownWrap !== 'function') return undefined;
    if (!(state instanceof Int32Array) || typeof kRead !== 'number' || typeof kOffset !== 'number' || typeof kAsync !== 'number') return undefined;
    const probe = new TCP(constants.SOCKET);
    const ok = ['readStart', 'writeBuffer', 'useUserBuffer', 'shutdown', 'reset', 'connect', 'connect6', 'bind', 'bind6', 'listen', 'getpeername'].every((m) => typeof probe[m] === 'function');
    probe.close();
    if (!ok) return undefined;
    return {
      newServer: () => new TCP(constants.SERVER),
      newSocket: () => new TCP(constants.SOCKET),
      newConnectReq: () => new TCPConnectWrap(),
      newWriteReq: () => new WriteWrap(),
      newShutdownReq: () => new ShutdownWrap(),
      readResult: () => state[kRead]!,
      readOffset: () => state[kOffset]!,
      lastWriteWasAsync: () => state[kAsync] !== 0,
    };
  } catch {
    return undefined;
  }
}

export const libuvTcp: LibuvTcp | undefined = load();
