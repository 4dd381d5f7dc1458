// `baton init` and `baton join`: create a node's identity, then run it. Nothing is written to
// the data dir until every check has passed (token, CA digest, reachability), and node.json is
// written last, so a failed attempt leaves no node behind.
import { chmodSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { createRootCA, generateJoinToken, generateUnlockKey, loadRootCA, newSealKey, parseJoinToken, parseUnlockKey, seal, sealJoinTokens, JoinTokenError } from '../../manager/ca/index.js';
import { DEFAULT_CERT_VALIDITY_MS } from '../../manager/caapi/ca.js';
import { hostOf } from '../../manager/caapi/signer.js';
import { createAction, newObjectId } from '../../manager/store/index.js';
import { RpcClient } from '../../rpc/client.js';
import { BatonError } from '../../rpc/errors.js';
import { caService } from '../../rpc/services.js';
import { NODE_CHANNEL_OPTIONS, bootstrapCredentials, caDigest, clientCredentials, generateNodeKey } from '../../rpc/tls/index.js';
import { DataDir, type NodeState } from './state.js';
import { NodeDaemon, type RunOptions } from './node.js';
import { describeHost } from './host.js';
import { DEFAULT_SOCKET_GROUP, groupId } from '../../client/local-socket.js';
import { makePrivate, reopenPrivate } from './private-files.js';
import type { RaftTiming } from './raft-timing.js';

export interface NodeAddresses {
  dataDir: string;
  listenAddr: string;
  /** Defaults to the listen address when that is a specific host. */
  advertiseAddr?: string;
  logger: Logger;
  snapshotEntries?: number;
  /** Where the routing mesh listens; defaults to the listen address's IP when specific, else all interfaces. */
  dataPathAddr?: string;
  /** host:port of the Prometheus /metrics endpoint; none when unset. */
  httpAddr?: string;
  /** Processes relaying mesh connections (this one included); default 1. */
  meshWorkers?: number;
  /** The group that may use the local socket (--socket-group); default `baton` when it exists. */
  socketGroup?: string;
  /** --raft-tick and --election-timeout, checked (raft-timing.ts); Raft's defaults when unset. */
  raft?: RaftTiming;
}

export interface InitOptions extends NodeAddresses {
  certExpiryMs?: number;
  heartbeatPeriodMs?: number;
  heartbeatGrace?: number;
  maxHeartbeatsPerSecond?: number;
  /** --autolock: the key files sealed under an unlock key printed once (autolock.ts). */
  autolock?: boolean;
}

export interface JoinOptions extends NodeAddresses {
  token: string;
  /** host:port of a manager. */
  remote: string;
}

export interface Started {
  daemon: NodeDaemon;
  resumed: boolean;
}

/** Create a new cluster with this node as its first manager, or resume the node in dataDir. */
export async function init(opts: InitOptions): Promise<Started & { tokens?: { worker: string; manager: string }; unlockKey?: string }> {
  const run = runOptions(opts);
  const dir = new DataDir(opts.dataDir);
  const addrs = addresses(opts);
  if (dir.exists()) {
    reopenPrivate(dir.path, run.socketGroup);
    return { daemon: await NodeDaemon.run(dir, run), resumed: true };
  }
  const undo = undoOfInit(dir.path);
  makePrivate(dir.path, run.socketGroup);
  try {
    return await createCluster(opts, run, dir, addrs);
  } catch (err) {
    undo();
    throw err;
  }
}

/**
 * What puts the data dir back as it was before a failed init (a port in use, a bad value found
 * late): a dir init made is removed whole; in a dir that was there (empty, or with what an
 * earlier init that died left), only what this init added goes, and its mode is restored.
 * Never anything that was there before.
 */
function undoOfInit(path: string): () => void {
  if (!existsSync(path)) return () => rmSync(path, { recursive: true, force: true });
  const before = new Set(readdirSync(path));
  const mode = statSync(path).mode & 0o7777;
  return () => {
    for (const name of readdirSync(path)) if (!before.has(name)) rmSync(joinPath(path, name), { recursive: true, force: true });
    chmodSync(path, mode);
  };
}

async function createCluster(opts: InitOptions, run: RunOptions, dir: DataDir, addrs: { listen: string; advertise: string }): Promise<Started & { tokens?: { worker: string; manager: string } }> {
  // A previous init that died before writing node.json left nothing usable.
  dir.removeManagerState();
  rmSync(`${opts.dataDir}/tls`, { recursive: true, force: true });

  const nodeId = newObjectId();
  const clusterId = newObjectId();
  const root = await createRootCA(clusterId);
  const managerKey = newSealKey();
  const key = await generateNodeKey();
  const ca = await loadRootCA(root.certPem, root.keyPkcs8);
  const validity = opts.certExpiryMs ?? DEFAULT_CERT_VALIDITY_MS;
  const unlockKey = opts.autolock ? generateUnlockKey() : undefined;
  if (unlockKey) dir.lock.key = parseUnlockKey(unlockKey);
  const certPem = await ca.issueNodeCertificate(key.csrPem, { nodeId, role: 'manager', clusterId, hosts: [hostOf(addrs.advertise)] }, validity);
  dir.saveTls({ caPem: root.certPem, certPem, keyPem: key.keyPem });
  dir.saveManagerKey(managerKey);
  const state: NodeState = {
    nodeId,
    clusterId,
    role: 'manager',
    listenAddr: addrs.listen,
    advertiseAddr: addrs.advertise,
    managers: [{ nodeId, addr: addrs.advertise }],
  };
  dir.save(state);
  let daemon: NodeDaemon | undefined;
  try {
    daemon = await NodeDaemon.run(dir, run, true);
    const tokens = { worker: generateJoinToken(root.digest), manager: generateJoinToken(root.digest) };
    const manager = daemon.clusterManager!;
    await waitFor(() => manager.isLeader(), 10_000, 'the new manager did not become leader');
    const now = Date.now();
    await manager.propose([
      createAction('cluster', {
        meta: { id: clusterId, createdAt: now, updatedAt: now },
        spec: {
          annotations: { name: 'default' },
          heartbeatPeriodMs: opts.heartbeatPeriodMs ?? 0,
          heartbeatGrace: opts.heartbeatGrace ?? 0,
          maxHeartbeatsPerSecond: opts.maxHeartbeatsPerSecond ?? 0,
          nodeCertExpiryMs: validity,
        },
        rootCa: {
          caCertPem: root.certPem,
          encryptedCaKey: seal(managerKey, root.keyPkcs8),
          caCertDigest: root.digest,
          ...sealJoinTokens(managerKey, tokens),
        },
        ...(unlockKey ? { sealedUnlockKey: seal(managerKey, new Uint8Array(Buffer.from(unlockKey))) } : {}),
      }),
      createAction('node', {
        meta: { id: nodeId, createdAt: now, updatedAt: now },
        spec: { annotations: { labels: {} }, desiredRole: baton.NodeRole.MANAGER, availability: baton.NodeAvailability.ACTIVE },
        description: describeHost(),
        status: { state: baton.NodeState.NODE_READY, addr: addrs.advertise, lastHeartbeat: now },
        role: baton.NodeRole.MANAGER,
        managerStatus: { addr: addrs.advertise },
      }),
    ]);
    return { daemon, resumed: false, tokens, ...(unlockKey ? { unlockKey } : {}) };
  } catch (err) {
    await daemon?.stop();
    rmSync(`${opts.dataDir}/node.json`, { force: true });
    throw err;
  }
}

/** Join an existing cluster with a token, or resume the node in dataDir if it already joined. */
export async function join(opts: JoinOptions): Promise<Started> {
  const run = runOptions(opts);
  let parsed;
  try {
    parsed = parseJoinToken(opts.token);
  } catch (err) {
    if (err instanceof JoinTokenError) throw new BatonError('INVALID_ARGUMENT', `invalid join token: ${err.message}`);
    throw err;
  }
  const dir = new DataDir(opts.dataDir);
  if (dir.exists()) {
    reopenPrivate(dir.path, run.socketGroup);
    const ours = caDigest(dir.loadCaPem());
    if (ours !== parsed.digest) {
      throw new BatonError('FAILED_PRECONDITION', `data dir ${opts.dataDir} belongs to another cluster (${dir.load().clusterId}); use an empty --data-dir to join this one`);
    }
    return { daemon: await NodeDaemon.run(dir, run), resumed: true };
  }
  const addrs = addresses(opts);
  const caPem = await fetchRootCA(opts.remote);
  if (caDigest(caPem) !== parsed.digest) {
    throw new BatonError('PERMISSION_DENIED', `the manager at ${opts.remote} presented a CA certificate that does not match the join token: not joining`);
  }
  const key = await generateNodeKey();
  const client = new RpcClient(opts.remote, clientCredentials({ caPem, serverRole: 'manager' }), caService, NODE_CHANNEL_OPTIONS);
  let res: baton.internal.JoinResponse;
  try {
    res = (await client.call('Join', { token: opts.token.trim(), csrPem: key.csrPem, advertiseAddr: addrs.advertise, description: describeHost() }, 15_000)) as baton.internal.JoinResponse;
  } finally {
    client.close();
  }
  const role = res.role === baton.NodeRole.MANAGER ? 'manager' : 'worker';
  makePrivate(dir.path, run.socketGroup);
  dir.saveTls({ caPem, certPem: res.certPem ?? '', keyPem: key.keyPem });
  if (role === 'manager') dir.saveManagerKey(res.managerKey ?? new Uint8Array(0));
  const state: NodeState = {
    nodeId: res.nodeId ?? '',
    clusterId: res.clusterId ?? '',
    role,
    listenAddr: addrs.listen,
    advertiseAddr: addrs.advertise,
    managers: (res.managers ?? []).map((m) => ({ nodeId: m.nodeId ?? '', addr: m.addr ?? '' })),
  };
  dir.save(state);
  const daemon = await NodeDaemon.run(dir, run);
  if (role === 'manager') {
    try {
      await daemon.joinRaft();
    } catch (err) {
      await daemon.stop();
      throw err;
    }
  }
  return { daemon, resumed: false };
}

async function fetchRootCA(remote: string): Promise<string> {
  // Not verified on purpose: the certificate's digest is checked against the token next.
  const client = new RpcClient(remote, bootstrapCredentials(), caService, NODE_CHANNEL_OPTIONS);
  try {
    const res = await client.call('GetRootCACertificate', {}, 5_000);
    return res.caCertPem ?? '';
  } catch (err) {
    // grpc-js appends resolver notes after the cause; the cause is what a user can act on.
    const reason = (err instanceof Error ? err.message : String(err)).replace(/\.?\s*Resolution note:.*$/s, '');
    throw new BatonError('UNAVAILABLE', `cannot reach a manager at ${remote}: ${reason}`);
  } finally {
    client.close();
  }
}

export function addresses(opts: NodeAddresses): { listen: string; advertise: string } {
  const listen = opts.listenAddr;
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw new BatonError('INVALID_ARGUMENT', `bad --listen-addr "${listen}" (want host:port)`);
  const host = m[1]!;
  let advertise = opts.advertiseAddr ?? '';
  if (!advertise) {
    if (host === '0.0.0.0' || host === '::' || host === '') {
      throw new BatonError('INVALID_ARGUMENT', `--advertise-addr is required when listening on all interfaces (${listen})`);
    }
    advertise = listen;
  } else if (!/:\d+$/.test(advertise)) {
    advertise = `${advertise}:${m[2]!}`;
  }
  return { listen, advertise };
}

/** More relay processes than cores only adds context switches; this bounds a typo. */
const MAX_MESH_WORKERS = 64;

export function runOptions(opts: NodeAddresses): RunOptions {
  if (opts.dataPathAddr !== undefined && isIP(opts.dataPathAddr) === 0) {
    throw new BatonError('INVALID_ARGUMENT', `bad --data-path-addr "${opts.dataPathAddr}" (want an IP address, e.g. 127.0.0.2 or 0.0.0.0)`);
  }
  if (opts.httpAddr !== undefined) {
    const m = /^(.+):(\d+)$/.exec(opts.httpAddr);
    if (!m || Number(m[2]) > 65535) throw new BatonError('INVALID_ARGUMENT', `bad --http-addr "${opts.httpAddr}" (want host:port)`);
  }
  const workers = opts.meshWorkers;
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1 || workers > MAX_MESH_WORKERS)) {
    throw new BatonError('INVALID_ARGUMENT', `bad --mesh-workers "${String(workers)}" (want a whole number of processes, 1-${MAX_MESH_WORKERS})`);
  }
  const groupName = opts.socketGroup ?? DEFAULT_SOCKET_GROUP;
  const socketGroup = groupId(groupName);
  // The default group is optional (root only without it); one asked for by name is not.
  if (socketGroup === undefined && opts.socketGroup !== undefined) {
    throw new BatonError('INVALID_ARGUMENT', `bad --socket-group "${opts.socketGroup}": no such group in /etc/group (create it with groupadd, or leave the flag out)`);
  }
  return {
    logger: opts.logger,
    ...(socketGroup !== undefined ? { socketGroup } : {}),
    ...(opts.snapshotEntries ? { snapshotEntries: opts.snapshotEntries } : {}),
    ...(opts.dataPathAddr ? { dataPathAddr: opts.dataPathAddr } : {}),
    ...(opts.httpAddr ? { httpAddr: opts.httpAddr } : {}),
    ...(workers !== undefined ? { meshWorkers: workers } : {}),
    ...(opts.raft ? { raft: opts.raft } : {}),
  };
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new BatonError('DEADLINE_EXCEEDED', what);
    await new Promise((r) => setTimeout(r, 20));
  }
}
