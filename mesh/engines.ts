// The TCP relay engines (the byte pump under the one core in tcp-port.ts) and the port type the
// mesh and its worker processes use whichever engine relays.
import type { Logger } from 'pino';
import type { AllowList } from './allow.js';
import type { BackendSet } from './backend-set.js';
import { libuvTcp } from './libuv-tcp.js';
import { libuvEngine } from './libuv-engine.js';
import { netEngine } from './net-engine.js';
import { TcpPort, type ProxyMode, type TcpPortOptions } from './tcp-port.js';

/** 'libuv': Node's libuv handles (libuv-engine.ts); 'net': node:net sockets (net-engine.ts). */
export const MESH_ENGINES = ['libuv', 'net'] as const;
export type MeshEngine = (typeof MESH_ENGINES)[number];

/** The default: the libuv engine when this Node has its bindings (see docs/routing-mesh.md). */
export function defaultEngine(): MeshEngine {
  return libuvTcp ? 'libuv' : 'net';
}

export function engineAvailable(engine: MeshEngine): boolean {
  return engine === 'net' || libuvTcp !== undefined;
}

/** One TCP listener (a published port or a service address), whichever engine relays it. */
export interface PublishedTcpPort {
  readonly backends: BackendSet;
  serviceName: string;
  proxy: ProxyMode;
  /** Who may connect (service addresses only; undefined: anyone). */
  allow: AllowList | undefined;
  readonly refused: number;
  readonly port: number;
  readonly listening: boolean;
  readonly openConnections: number;
  /** What worker processes are sent to accept on the same socket, once bound. */
  readonly shared: unknown;
  listen(): Promise<void>;
  adopt(shared: unknown): void;
  close(dropConnections: boolean): Promise<void>;
  backendsChanged(): void;
}

export function newTcpPort(engine: MeshEngine, bindAddress: string, port: number, logger: Logger, opts: TcpPortOptions): PublishedTcpPort {
  return engine === 'libuv' ? new TcpPort(libuvEngine, bindAddress, port, logger, opts) : new TcpPort(netEngine, bindAddress, port, logger, opts);
}
