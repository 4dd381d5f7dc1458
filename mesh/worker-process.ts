// A mesh worker process: relays the connections it accepts on listening handles shared by the
// mesh (workers.ts), with the routing the mesh sends; reports its counters twice a second.
// It exits when the mesh goes away (IPC channel closed).
import pino from 'pino';
import { MESH_ENGINES, newTcpPort, type PublishedTcpPort } from './engines.js';
import type { BackendCounters, FromWorker, PortConfig, ToWorker } from './worker-protocol.js';

const logger = pino({ level: process.env.BATON_MESH_WORKER_LOG ?? 'warn' }, pino.destination(2)).child({ component: 'mesh-worker', pid: process.pid });
const config = new Map<string, PortConfig>();
const ports = new Map<string, PublishedTcpPort>();
const preconnect = Number(process.env.BATON_MESH_PRECONNECT ?? '8');
// The mesh's engine: what it shares is a net.Server or a libuv handle, and the worker relays alike.
const engine = MESH_ENGINES.find((e) => e === process.env.BATON_MESH_WORKER_ENGINE) ?? 'libuv';

function send(msg: FromWorker): void {
  if (process.connected) process.send!(msg);
}

function configure(port: PublishedTcpPort, c: PortConfig): void {
  port.serviceName = c.serviceName;
  port.proxy = c.proxy;
  port.backends.replace(c.backends, c.leastConnections);
  port.backendsChanged();
}

function onMessage(msg: ToWorker, handle: unknown): void {
  switch (msg.t) {
    case 'table': {
      config.clear();
      for (const c of msg.ports) config.set(c.key, c);
      for (const [key, port] of ports) {
        const c = config.get(key);
        if (c) configure(port, c);
        else {
          ports.delete(key);
          void port.close(false);
        }
      }
      return;
    }
    case 'port': {
      const c = config.get(msg.key);
      // A libuv handle or a net.Server: both close with close().
      const h = handle as { close(): void } | undefined;
      if (!h) return;
      if (!c || ports.has(msg.key)) {
        h.close();
        return;
      }
      const port = newTcpPort(engine, '', c.port, logger, { preconnect });
      try {
        port.adopt(h);
      } catch (err) {
        logger.error({ err, port: c.port }, 'mesh worker cannot accept on the shared port');
        h.close();
        return;
      }
      configure(port, c);
      ports.set(msg.key, port);
      return;
    }
    case 'close-port': {
      const port = ports.get(msg.key);
      ports.delete(msg.key);
      config.delete(msg.key);
      void port?.close(false);
      return;
    }
    case 'stop':
      void Promise.all([...ports.values()].map((p) => p.close(true))).then(() => process.exit(0));
      return;
  }
}

function stats(): void {
  const out: Record<string, BackendCounters[]> = {};
  for (const [key, port] of ports) {
    out[key] = [...port.backends.known.values()].map((b) => ({
      addr: b.addr,
      open: b.open,
      connectionsTotal: b.connectionsTotal,
      failuresTotal: b.failuresTotal,
      bytesIn: b.bytesIn,
      bytesOut: b.bytesOut,
    }));
  }
  send({ t: 'stats', ports: out });
}

process.on('message', onMessage);
process.on('disconnect', () => process.exit(0));
setInterval(stats, 500).unref();
send({ t: 'ready' });
