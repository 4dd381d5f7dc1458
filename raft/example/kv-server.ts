#!/usr/bin/env node
// A Raft-replicated key-value server over HTTP, in the spirit of etcd's raftexample: the
// process the multi-process tests kill with SIGKILL and the benchmark puts beside etcd.
//   node dist/raft/example/kv-server.js --id a --data-dir /tmp/a --raft-listen 127.0.0.1:7001 \
//     --http-listen 127.0.0.1:8001 --peers a=127.0.0.1:7001,b=127.0.0.1:7002 --bootstrap a,b
// It prints one line `READY {"raftPort":..,"httpPort":..}` once serving.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { RaftNode } from '../node.js';
import { RaftError } from '../errors.js';
import { ConfChangeType } from '../core/types.js';
import { StorageCorruptError } from '../storage/index.js';
import { KvStateMachine, encodeKvCommand } from './kv-state-machine.js';

const { values: args } = parseArgs({
  options: {
    id: { type: 'string' },
    'data-dir': { type: 'string' },
    'raft-listen': { type: 'string', default: '127.0.0.1:0' },
    'http-listen': { type: 'string', default: '127.0.0.1:0' },
    peers: { type: 'string', default: '' },
    bootstrap: { type: 'string', default: '' },
    'snapshot-entries': { type: 'string' },
    'keep-entries': { type: 'string' },
    'tick-ms': { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
  },
});

function fatal(message: string): never {
  process.stderr.write(`kv-server: ${message}\n`);
  process.exit(2);
}

const id = args.id ?? fatal('--id is required');
const dataDir = args['data-dir'] ?? fatal('--data-dir is required');
const peers = Object.fromEntries(
  args.peers
    .split(',')
    .filter(Boolean)
    .map((p) => {
      const at = p.indexOf('=');
      if (at <= 0) fatal(`bad --peers entry "${p}", want id=host:port`);
      return [p.slice(0, at), p.slice(at + 1)];
    }),
);
const logger = pino({ level: args['log-level'], base: { node: id, component: 'raft' } }, pino.destination(2));
const sm = new KvStateMachine();

let node: RaftNode<number>;
try {
  node = await RaftNode.start({
    id,
    dataDir,
    listen: args['raft-listen'],
    peers,
    bootstrap: args.bootstrap.split(',').filter(Boolean),
    stateMachine: sm,
    logger,
    ...(args['snapshot-entries'] ? { snapshotEntries: Number(args['snapshot-entries']) } : {}),
    ...(args['keep-entries'] ? { keepEntriesAfterCompaction: Number(args['keep-entries']) } : {}),
    ...(args['tick-ms'] ? { tickMs: Number(args['tick-ms']) } : {}),
  });
} catch (err) {
  if (err instanceof StorageCorruptError) fatal(err.message);
  fatal(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function replyError(res: ServerResponse, err: unknown): void {
  if (err instanceof RaftError) {
    const status = err.code === 'NOT_LEADER' ? 503 : err.code === 'TIMEOUT' ? 504 : err.code === 'INVALID' ? 400 : 500;
    reply(res, status, { error: err.message, code: err.code, leader: err.leader });
  } else {
    reply(res, 500, { error: err instanceof Error ? err.message : String(err) });
  }
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const [, first, second] = url.pathname.split('/');
  if (first === 'kv' && second) {
    const key = decodeURIComponent(second);
    if (req.method === 'PUT') {
      const value = await body(req);
      const writeId = req.headers['x-write-id'];
      const index = await node.propose(encodeKvCommand({ key, value, id: typeof writeId === 'string' ? writeId : `${id}-${Date.now()}` }));
      reply(res, 200, { index });
      return;
    }
    if (req.method === 'GET') {
      await node.readBarrier();
      const value = sm.get(key);
      reply(res, value === undefined ? 404 : 200, { value: value ?? null });
      return;
    }
  }
  if (first === 'status' && req.method === 'GET') {
    const s = node.status();
    reply(res, 200, { ...s, voters: s.conf.voters, learners: s.conf.learners, ...node.stats() });
    return;
  }
  if (first === 'history' && req.method === 'GET') {
    reply(res, 200, { applied: node.status().applied, ids: sm.history() });
    return;
  }
  if (first === 'members') {
    if (req.method === 'POST') {
      const m = JSON.parse(await body(req)) as { id: string; address: string; role?: 'voter' | 'learner' };
      const type = m.role === 'learner' ? ConfChangeType.ADD_LEARNER : ConfChangeType.ADD_VOTER;
      await node.changeMembership(type, m.id, m.address);
      reply(res, 200, { ok: true });
      return;
    }
    if (req.method === 'DELETE' && second) {
      await node.changeMembership(ConfChangeType.REMOVE_NODE, second);
      reply(res, 200, { ok: true });
      return;
    }
  }
  if (first === 'transfer' && second && req.method === 'POST') {
    reply(res, node.transferLeadership(second) ? 200 : 409, { ok: true });
    return;
  }
  reply(res, 404, { error: `no route ${req.method ?? ''} ${url.pathname}` });
}

const http = createServer((req, res) => {
  route(req, res).catch((err: unknown) => replyError(res, err));
});
http.keepAliveTimeout = 60_000;
const [host, portText] = args['http-listen'].split(/:(?=\d+$)/);
http.listen(Number(portText), host, () => {
  const address = http.address();
  const httpPort = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`READY ${JSON.stringify({ raftPort: node.raftPort, httpPort })}\n`);
});

const shutdown = (): void => {
  http.close();
  node.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
