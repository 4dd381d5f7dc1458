// The heartbeat thread of a simulated-node host (see sim-heartbeats.ts): one HeartbeatClient
// per node, over that node's certificate, and the managers lists they bring back passed to the
// host's main thread (a new leader moves the node's session there, as in src/daemon/node.ts).
import { readlinkSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { pino } from 'pino';
import { NODE_CHANNEL_OPTIONS, clientCredentials } from '../../rpc/tls/index.js';
import { HeartbeatClient } from '../../worker/heartbeat.js';
import type { FromHeartbeatThread, HeartbeatNode, ToHeartbeatThread } from './sim-heartbeats.js';

const port = parentPort;
if (!port) throw new Error('sim-heartbeat-thread runs as a worker thread of bench/scale-sim.ts');
const logger = pino({ level: process.env.SIM_LOG_LEVEL ?? 'warn' }, pino.destination(2));
/** Samples kept between two stats requests, at most (the host asks every second or so). */
const MAX_SAMPLES = 200_000;
let heartbeatMs: number[] = [];
let failures = 0;
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
/** Kept for the life of the thread (the host process exits with its parent). */
const clients: HeartbeatClient[] = [];

function send(msg: FromHeartbeatThread): void {
  port?.postMessage(msg);
}

function add(node: HeartbeatNode): void {
  let managers = node.managers;
  let told = JSON.stringify(managers);
  const credentials = clientCredentials({ caPem: node.caPem, certPem: node.certPem, keyPem: node.keyPem });
  const client = new HeartbeatClient({
    managers: () => managers,
    credentials: () => credentials,
    channelOptions: NODE_CHANNEL_OPTIONS,
    addr: node.addr,
    description: node.description,
    logger,
    onResponse: (hb) => {
      const next = (hb.managers ?? []).filter((m) => m.nodeId && m.addr);
      if (next.length === 0) return;
      managers = next;
      // Only a changed list crosses to the main thread (most replies repeat the last one).
      const text = JSON.stringify(next);
      if (text === told) return;
      told = text;
      send({ type: 'managers', index: node.index, managers: next });
    },
    onRoundTrip: (s) => {
      if (s === undefined) failures++;
      else if (heartbeatMs.length < MAX_SAMPLES) heartbeatMs.push(s * 1000);
    },
  });
  clients.push(client);
  client.start();
}

/** This thread's kernel id: /proc/thread-self links to <pid>/task/<tid>. */
function tid(): number | undefined {
  try {
    const n = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
send({ type: 'tid', tid: tid() });

port.on('message', (msg: ToHeartbeatThread) => {
  if (msg.type === 'add') add(msg.node);
  else {
    // The histogram is in ns; an empty one (no timer yet) reads 0.
    const p99 = loop.count > 0 ? loop.percentile(99) / 1e6 : 0;
    const max = loop.count > 0 ? loop.max / 1e6 : 0;
    send({ type: 'stats', heartbeatMs, failures, loop: { p99Ms: p99, maxMs: max } });
    heartbeatMs = [];
    failures = 0;
    loop.reset();
  }
});
