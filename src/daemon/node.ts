// The node daemon, the composition root (top floor): one gRPC port with mTLS for every service,
// a local unix socket for the CLI, and the manager parts when this node is a manager.
import * as grpc from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { Manager } from '../../manager/manager.js';
import { LeaderForwarder } from '../../manager/forward.js';
import { controlHandlers, managerPeers } from '../../manager/controlapi/index.js';
import { caHandlers } from '../../manager/caapi/ca.js';
import { unseal } from '../../manager/ca/index.js';
import { Heartbeats, Sessions } from '../../dispatcher/index.js';
import { orchestrationLoops } from '../../manager/orchestrator/index.js';
import { Autoscaler, autoscalerOptionsFromEnv } from '../../manager/orchestrator/autoscale/index.js';
import { serviceLogsHandler } from '../../manager/controlapi/logs.js';
import { eventsHandler } from '../../manager/controlapi/events.js';
import { backupHandler } from '../../manager/controlapi/backup.js';
import { addReflection } from '../../rpc/reflection.js';
import { servedServices } from './served-services.js';
import { taskLogsHandler } from '../../worker/logs-server.js';
import { nodeVolumeHandlers } from '../../worker/volumes-server.js';
import { NodeVolumes } from '../../worker/volumes.js';
import { HeartbeatClient } from '../../worker/heartbeat.js';
import { addService } from '../../rpc/server.js';
import { certificateGuard, localGuard } from '../../rpc/caller.js';
import { BatonError } from '../../rpc/errors.js';
import { caService, controlService, dispatcherService, dispatcherSession, eventsMethod, backupMethod, nodeAgentService, serviceLogsMethod, taskLogsMethod } from '../../rpc/services.js';
import { RpcClient } from '../../rpc/client.js';
import type { Handlers } from '../../rpc/define.js';
import type { ControlService } from '../../rpc/services.js';
import { NODE_CHANNEL_OPTIONS, NodeTlsListener, checkPeer, clientCredentials, isClientRole, type NodeTlsMaterial } from '../../rpc/tls/index.js';
import { clientCertificateRole } from '../../manager/caapi/client-certs.js';
import { CONTROL_MESSAGE_BYTES, NODE_PORT_MESSAGE_BYTES, messageLimits } from '../../rpc/limits.js';
import { DataDir, type ManagerPeer, type NodeState } from './state.js';
import { socketAnswers } from './socket-probe.js';
import { describeHost, keepHostname } from './host.js';
import { readEngineLabels } from './engine-labels.js';
import { TaskRuntime, availableExecutors, volumesDirOf } from './tasks.js';
import Docker from 'dockerode';
import { ExecutorError } from '../../worker/executor/index.js';
import { HttpServer } from './http-server.js';
import { Registry } from 'prom-client';
import { ManagerMetrics } from '../../manager/metrics.js';
import { ViewFeed } from '../../manager/webview/feed.js';
import { webViewRoute } from '../../manager/webview/routes.js';
import { NodeMetrics } from '../../worker/metrics.js';
import { timedExecutor } from '../../worker/executor/timed.js';
import { shareSocket } from './private-files.js';
import { createRoutingMesh, type RoutingMesh } from '../../mesh/index.js';
import { startNodeNetworks } from './networks.js';
import { CertificateRenewal } from './renewal.js';
import { changeRole, joinRaft, type RoleHost } from './role-change.js';
import { keepKeysSealed, untilUnlocked } from './autolock.js';
import type { RaftTiming } from './raft-timing.js';

export interface RunOptions {
  logger: Logger;
  /** Raft snapshot interval in entries (tests use small values to exercise catch-up). */
  snapshotEntries?: number;
  /** The routing mesh's address (--data-path-addr); default: the listen address's IP when specific, else 0.0.0.0. */
  dataPathAddr?: string;
  /** host:port of the HTTP server (GET /metrics; --http-addr); none when unset. */
  httpAddr?: string;
  /** Processes relaying mesh connections, this one included (--mesh-workers); default 1. */
  meshWorkers?: number;
  /** The group ID that may use the local socket besides root (private-files.ts). */
  socketGroup?: number;
  /** This manager's Raft tick and election timeout (--raft-tick, --election-timeout); Raft's defaults when unset. */
  raft?: RaftTiming;
}

export class NodeDaemon {
  private readonly tcp: grpc.Server;
  private readonly local: grpc.Server;
  /** The TCP port's TLS: one peer certificate read per connection, not per call (rpc/tls/listener.ts). */
  private readonly tcpListener: NodeTlsListener;
  /** The standard gRPC health service: '' is the node, baton.Control is served by managers only. */
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING', 'baton.Control': 'NOT_SERVING' });
  private manager: Manager | undefined;
  private forwarder: LeaderForwarder | undefined;
  private heartbeat: HeartbeatClient | undefined;
  private tasks: TaskRuntime | undefined;
  /** The node's volumes (`baton volume`), once its tasks have started. */
  private volumes: NodeVolumes | undefined;
  private mesh: RoutingMesh | undefined;
  private http: HttpServer | undefined;
  /** The node's metrics, the manager's while it is one, scraped at GET /metrics. */
  private readonly registry = new Registry();
  private readonly nodeMetrics = new NodeMetrics(this.registry);
  private managerMetrics: ManagerMetrics | undefined;
  /** The web view's live feed while this node is a manager (GET / on --http-addr). */
  private viewFeed: ViewFeed | undefined;
  private runtimes: string[] = ['process'];
  private engineLabels: Record<string, string> = {};
  /** The docker executor's image lookup, once tasks have started and if an engine answered. */
  private imageLookup: ((image: string) => Promise<void>) | undefined;
  private state: NodeState;
  private tls: NodeTlsMaterial;
  private roleChange: Promise<void> | undefined;
  /** Stops following the cluster's unlock key (autolock.ts) when the manager stops. */
  private unfollowUnlockKey: (() => void) | undefined;
  private readonly renewal: CertificateRenewal;
  private stopped = false;
  private socketBound = false;
  readonly logger: Logger;

  private constructor(
    readonly dataDir: DataDir,
    private readonly opts: RunOptions,
  ) {
    const loaded = dataDir.load();
    this.state = keepHostname(loaded);
    if (this.state !== loaded) dataDir.save(this.state);
    this.tls = dataDir.loadTls();
    this.logger = opts.logger.child({ node: this.state.nodeId });
    // Raft appends and snapshot chunks can be large (up to the transport's 64 MiB; control
    // requests are held to their own limit, rpc/limits.ts); keepalive notices a peer that
    // vanished without closing its streams.
    this.tcp = new grpc.Server({
      ...messageLimits(NODE_PORT_MESSAGE_BYTES),
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    });
    this.tcpListener = new NodeTlsListener(this.tcp, this.tls);
    this.local = new grpc.Server(messageLimits(CONTROL_MESSAGE_BYTES));
    this.renewal = new CertificateRenewal({
      logger: this.logger,
      managers: () => this.heartbeatTargets(),
      credentials: () => this.clientCredentials(),
      tls: () => this.tls,
      onRenewed: (tls) => this.useCertificate(tls),
    });
  }

  /** Start the node described by an existing data dir. */
  static async run(dataDir: DataDir, opts: RunOptions, bootstrap = false): Promise<NodeDaemon> {
    if (await socketAnswers(dataDir.socketPath)) {
      throw new BatonError('FAILED_PRECONDITION', `a baton node is already running with data dir ${dataDir.path} (${dataDir.socketPath} answers); stop it first`);
    }
    if (dataDir.lock.locked()) await untilUnlocked(dataDir, opts.logger, opts.socketGroup);
    const d = new NodeDaemon(dataDir, opts);
    try {
      await d.start(bootstrap);
    } catch (err) {
      await d.stop();
      throw err;
    }
    return d;
  }

  get nodeId(): string {
    return this.state.nodeId;
  }

  get role(): NodeState['role'] {
    return this.state.role;
  }

  get clusterManager(): Manager | undefined {
    return this.manager;
  }

  private async start(bootstrap: boolean): Promise<void> {
    this.health.addToServer(this.tcp);
    this.health.addToServer(this.local);
    addReflection(this.tcp, servedServices('tcp', this.state.role));
    addReflection(this.local, servedServices('local', this.state.role));
    const clusterId = this.state.clusterId;
    this.tcp.addService({ TaskLogs: taskLogsMethod }, {
      TaskLogs: taskLogsHandler(() => this.tasks?.agent, this.state.nodeId, certificateGuard(() => clusterId)),
    });
    addService(this.tcp, nodeAgentService, nodeVolumeHandlers(() => this.volumes, certificateGuard(() => clusterId)), this.logger);
    if (this.state.role === 'manager') await this.startManager(bootstrap);
    else this.addWorkerControlStub();
    await listenTcp(this.tcpListener, this.state.listenAddr);
    rmSync(this.dataDir.socketPath, { force: true });
    await bind(this.local, `unix://${this.dataDir.socketPath}`, grpc.ServerCredentials.createInsecure());
    this.socketBound = true;
    shareSocket(this.dataDir.socketPath, this.opts.socketGroup);
    this.startMesh();
    if (this.opts.httpAddr) this.http = await HttpServer.start(this.opts.httpAddr, () => this.metricsText(), [webViewRoute(() => this.viewFeed)]);
    await this.startTasks();
    this.startHeartbeats();
    this.renewal.schedule();
    this.health.setStatus('', 'SERVING');
    this.logger.info({ role: this.state.role, listen: this.state.listenAddr, advertise: this.state.advertiseAddr }, 'node started');
  }

  private clientCredentials(): grpc.ChannelCredentials {
    return clientCredentials(this.tls);
  }

  private async startManager(bootstrap: boolean): Promise<void> {
    const managerKey = this.dataDir.loadManagerKey();
    if (!managerKey) throw new BatonError('FAILED_PRECONDITION', `data dir ${this.dataDir.path} has no manager key`);
    const peers = Object.fromEntries(this.state.managers.map((m) => [m.nodeId, m.addr]));
    const clusterId = this.state.clusterId;
    const manager = await Manager.start({
      nodeId: this.state.nodeId,
      raftDir: this.dataDir.raftDir,
      server: this.tcp,
      channelCredentials: this.clientCredentials(),
      channelOptions: NODE_CHANNEL_OPTIONS,
      authenticate: (call) => {
        const r = checkPeer(call, ['manager'], clusterId);
        return r.ok ? { id: r.identity.nodeId } : r.error;
      },
      peers,
      bootstrap,
      logger: this.logger,
      // Fail-stop: a manager whose log cannot be written exits, and its supervisor restarts it
      // from what is durable; limping on would serve a frozen store.
      onFatal: (err) => {
        this.logger.fatal({ err }, `raft storage failed; exiting: ${err.message}`);
        // Also plainly, for whoever watches the terminal rather than the JSON log.
        process.stderr.write(`Error: ${err.message}\n`);
        process.exit(70);
      },
      ...(this.opts.snapshotEntries ? { snapshotEntries: this.opts.snapshotEntries } : {}),
      ...(this.opts.raft ? { tickMs: this.opts.raft.tickMs, electionTicks: this.opts.raft.electionTicks } : {}),
    });
    this.manager = manager;
    this.unfollowUnlockKey = keepKeysSealed(manager, this.dataDir, managerKey, this.logger);
    const forwarder = new LeaderForwarder(manager, this.clientCredentials(), NODE_CHANNEL_OPTIONS);
    this.forwarder = forwarder;
    // While a node's own Node object is not yet recorded (the first manager during init) its
    // certificate is all there is; afterwards the store's role decides.
    const guard = certificateGuard(
      () => clusterId,
      ({ nodeId: id, role, serial }) => {
        if (isClientRole(role)) return clientCertificateRole(manager, id, serial);
        const node = manager.store.get('node', id);
        if (!node) return manager.store.list('node').length === 0 && id === this.state.nodeId ? 'manager' : undefined;
        return node.spec?.desiredRole === baton.NodeRole.MANAGER ? 'manager' : 'worker';
      },
    );
    const deps = {
      manager,
      forwarder,
      clusterId,
      managerKey,
      checkImage: (image: string) => this.checkImage(image),
      dialNode: (addr: string) => new RpcClient(addr, this.clientCredentials(), nodeAgentService, NODE_CHANNEL_OPTIONS),
    };
    const [tcpControl, localControl] = controlHandlers({ ...deps, guard }, [guard, localGuard]);
    addService(this.tcp, controlService, tcpControl!, this.logger);
    addService(this.local, controlService, localControl!, this.logger);
    addService(this.tcp, caService, caHandlers({ ...deps, guard, caPem: this.tls.caPem }), this.logger);
    const logs = { manager, credentials: () => this.clientCredentials(), channelOptions: NODE_CHANNEL_OPTIONS };
    this.tcp.addService(SERVICE_LOGS, { ServiceLogs: serviceLogsHandler({ ...logs, guard }) });
    this.local.addService(SERVICE_LOGS, { ServiceLogs: serviceLogsHandler({ ...logs, guard: localGuard }) });
    this.tcp.addService(EVENTS, { Events: eventsHandler({ history: manager.events, guard }) });
    this.local.addService(EVENTS, { Events: eventsHandler({ history: manager.events, guard: localGuard }) });
    this.tcp.addService(BACKUP, { Backup: backupHandler({ manager, managerKey, clusterId, guard }) });
    this.local.addService(BACKUP, { Backup: backupHandler({ manager, managerKey, clusterId, guard: localGuard }) });
    // Fed by heartbeats (below) before its host exists: it only reads the host when it runs.
    const autoscaleHost = { store: manager.store, propose: (a: Parameters<Manager['propose']>[0]) => manager.propose(a), now: Date.now, logger: this.logger.child({ component: 'autoscaler' }) };
    const autoscaler = new Autoscaler(autoscaleHost, autoscalerOptionsFromEnv(process.env, (line) => this.logger.warn(line)));
    const heartbeats = new Heartbeats({
      host: manager,
      guard,
      logger: this.logger.child({ component: 'dispatcher' }),
      managers: () => managerPeers(manager),
      forward: (req, caller) => forwarder.forward(dispatcherService, 'Heartbeat', req, caller),
      onConnections: (nodeId, totals) => autoscaler.record(nodeId, totals),
    });
    const sessions = new Sessions({
      host: manager,
      // A session's end shortens the node's allowance of silence (dispatcher/heartbeats.ts).
      liveness: heartbeats,
      guard,
      logger: this.logger.child({ component: 'dispatcher' }),
      forwardStatus: (req, caller) => forwarder.forward(dispatcherService, 'UpdateTaskStatus', req, caller),
      unseal: (sealed) => unseal(managerKey, sealed),
    });
    addService(this.tcp, dispatcherService, { ...heartbeats.handlers(), ...sessions.handlers() }, this.logger);
    this.tcp.addService({ Session: dispatcherSession }, {
      Session: (call: Parameters<Sessions['session']>[0]) => sessions.session(call),
    });
    manager.addLeaderLoop(heartbeats);
    manager.addLeaderLoop(sessions);
    const metrics = new ManagerMetrics(this.registry, { manager, sessions: () => sessions.count });
    this.managerMetrics = metrics;
    this.viewFeed = new ViewFeed({ store: manager.store, clusterId, nodeId: this.state.nodeId, leaderId: () => manager.leaderId() });
    const host = {
      store: manager.store,
      propose: (a: Parameters<Manager['propose']>[0]) => manager.propose(a),
      now: Date.now,
      logger: this.logger.child({ component: 'orchestrator' }),
      observePass: (loop: string, seconds: number, writes: number) => metrics.observePass(loop, seconds, writes),
    };
    for (const loop of orchestrationLoops(host)) manager.addLeaderLoop(loop);
    manager.addLeaderLoop(autoscaler);
    this.health.setStatus('baton.Control', 'SERVING');
  }

  /** `service create`'s image check: unknown images are refused; an engine hiccup is not the user's fault. */
  private async checkImage(image: string): Promise<void> {
    if (!this.imageLookup) return;
    try {
      await this.imageLookup(image);
    } catch (err) {
      if (err instanceof ExecutorError && err.code === 'IMAGE_NOT_FOUND') throw new BatonError('INVALID_ARGUMENT', err.message);
      this.logger.warn({ err, image }, 'image check failed; creating the service anyway');
    }
  }

  /**
   * A worker has no control API: say so clearly rather than "unimplemented", on its socket and
   * on its TCP port alike (`--host tcp://<a worker>`).
   */
  private addWorkerControlStub(): void {
    const refuse = (): Promise<never> =>
      Promise.reject(new BatonError('FAILED_PRECONDITION', 'this node is a worker: run the command on a manager (or point --host at one)'));
    const handlers = Object.fromEntries(Object.keys(controlService).map((k) => [k, refuse])) as unknown as Handlers<ControlService>;
    addService(this.local, controlService, handlers, this.logger);
    addService(this.tcp, controlService, handlers, this.logger);
  }

  private removeWorkerControlStub(): void {
    this.local.removeService(controlService);
    this.tcp.removeService(controlService);
  }

  /** Every node, manager or worker, answers on every published port (docs/routing-mesh.md). */
  private startMesh(): void {
    const listenHost = this.state.listenAddr.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    const specific = listenHost !== '' && listenHost !== '0.0.0.0' && listenHost !== '::';
    const bindAddress = this.opts.dataPathAddr ?? (specific ? listenHost : '0.0.0.0');
    this.mesh = createRoutingMesh({ bindAddress, logger: this.logger, workers: this.opts.meshWorkers ?? 1 });
  }

  private async startTasks(): Promise<void> {
    const common = {
      nodeId: this.state.nodeId,
      clusterId: this.state.clusterId,
      dataDir: this.dataDir.path,
      bindAddress: this.state.advertiseAddr.replace(/:\d+$/, ''),
      logger: this.logger,
    };
    const executors = (await availableExecutors(common)).map((e) =>
      timedExecutor(e, (call, seconds, ok) => this.nodeMetrics.observeExecutorCall(e.runtime, call, seconds, ok)),
    );
    this.runtimes = executors.map((e) => e.runtime);
    const docker = executors.find((e) => e.runtime === 'docker');
    if (docker) this.engineLabels = await readEngineLabels(this.logger);
    this.imageLookup = docker?.checkImage?.bind(docker);
    this.tasks = await TaskRuntime.start(
      {
        ...common,
        managers: () => this.state.managers,
        credentials: () => this.clientCredentials(),
        channelOptions: NODE_CHANNEL_OPTIONS,
        description: () => describeHost(this.runtimes, this.engineLabels),
        onMeshTable: (table) => this.mesh?.apply(table),
        ...(docker ? { networks: startNodeNetworks({ ...common, applyInternal: (listeners) => this.mesh?.applyInternal(listeners) }) } : {}),
      },
      executors,
    );
    this.nodeMetrics.readTasksFrom(() => this.tasks?.agent.taskStates() ?? []);
    const engine = new Docker();
    this.volumes = new NodeVolumes({
      clusterId: this.state.clusterId,
      nodeId: this.state.nodeId,
      volumesDir: volumesDirOf(this.dataDir.path),
      // The agent asks the engine every few seconds whether it is there.
      docker: () => (this.tasks?.agent.runtimes().includes('docker') ? engine : undefined),
      tasks: () => this.tasks?.agent.tasks() ?? [],
    });
  }

  /** GET /metrics: this node's and (while it is one) its manager's, then the routing mesh's. */
  private async metricsText(): Promise<string> {
    return (await this.registry.metrics()) + (this.mesh?.metricsText() ?? '');
  }

  private startHeartbeats(): void {
    this.heartbeat = new HeartbeatClient({
      managers: () => this.heartbeatTargets(),
      credentials: () => this.clientCredentials(),
      channelOptions: NODE_CHANNEL_OPTIONS,
      addr: this.state.advertiseAddr,
      description: describeHost(this.runtimes, this.engineLabels),
      logger: this.logger.child({ component: 'heartbeat' }),
      onResponse: (res) => this.onHeartbeat(res),
      onRoundTrip: (seconds) => this.nodeMetrics.observeHeartbeat(seconds),
      connections: () => [...(this.mesh?.connectionTotals() ?? [])].map(([service, total]) => ({ service, total })),
    });
    this.heartbeat.start();
  }

  /** A manager heartbeats itself first (any manager forwards to the leader). */
  private heartbeatTargets(): ManagerPeer[] {
    const others = this.state.managers.filter((m) => m.nodeId !== this.state.nodeId);
    if (this.state.role === 'manager') return [{ nodeId: this.state.nodeId, addr: this.state.advertiseAddr }, ...others];
    return others;
  }

  private onHeartbeat(res: baton.internal.HeartbeatResponse): void {
    const managers = (res.managers ?? []).map((m) => ({ nodeId: m.nodeId ?? '', addr: m.addr ?? '' })).filter((m) => m.nodeId && m.addr);
    if (managers.length > 0 && JSON.stringify(managers) !== JSON.stringify(this.state.managers)) {
      const leaderMoved = managers[0]?.nodeId !== this.state.managers[0]?.nodeId;
      this.state = { ...this.state, managers };
      this.dataDir.save(this.state);
      // The session belongs with the leader (first in the list).
      if (leaderMoved) this.tasks?.reconnect();
    }
    const desired = res.desiredRole === baton.NodeRole.MANAGER ? 'manager' : 'worker';
    if (desired !== this.state.role && !this.roleChange) {
      this.roleChange = changeRole(this.roleHost(), desired)
        .catch((err: unknown) => this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'role change failed; will retry'))
        .finally(() => {
          this.roleChange = undefined;
        });
    }
  }

  /** What a role change (role-change.ts) uses of this daemon. */
  private roleHost(): RoleHost {
    return {
      logger: this.logger,
      dataDir: this.dataDir,
      state: () => this.state,
      setState: (state) => {
        this.state = state;
      },
      stopped: () => this.stopped,
      credentials: () => this.clientCredentials(),
      renew: () => this.renewal.renew(),
      startManager: () => this.startManager(false),
      stopManager: () => this.stopManager(),
      workerControl: (on) => (on ? this.addWorkerControlStub() : this.removeWorkerControlStub()),
    };
  }

  /** A renewed certificate: saved, and used for every connection made from now on. */
  private useCertificate(tls: NodeTlsMaterial): void {
    this.tls = tls;
    this.dataDir.saveTls(tls);
    this.tcpListener.reload(tls);
    this.forwarder?.setCredentials(this.clientCredentials());
    this.manager?.setChannelCredentials(this.clientCredentials());
    this.heartbeat?.reconnect();
    this.tasks?.reconnect();
  }

  private async stopManager(): Promise<void> {
    const manager = this.manager;
    if (!manager) return;
    this.manager = undefined;
    this.unfollowUnlockKey?.();
    for (const svc of [controlService, caService, dispatcherService, { Session: dispatcherSession }, SERVICE_LOGS, EVENTS, BACKUP]) {
      this.tcp.removeService(svc);
    }
    for (const svc of [controlService, SERVICE_LOGS, EVENTS, BACKUP]) this.local.removeService(svc);
    this.health.setStatus('baton.Control', 'NOT_SERVING');
    this.managerMetrics?.close();
    this.managerMetrics = undefined;
    this.viewFeed?.close();
    this.viewFeed = undefined;
    this.forwarder?.close();
    await manager.stop();
  }


  /** Ask the leader (through any manager) to make this manager a Raft voter. */
  joinRaft(): Promise<void> {
    return joinRaft(this.roleHost());
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.health.setStatus('', 'NOT_SERVING');
    this.renewal.stop();
    this.heartbeat?.stop();
    await this.tasks?.stop();
    await Promise.all([this.mesh?.close(), this.http?.close()]);
    await this.roleChange;
    await this.stopManager();
    this.tcpListener.close();
    await Promise.all([shutdown(this.tcp), shutdown(this.local)]);
    // Only our own: a start that failed before binding must not cut a running node off.
    if (this.socketBound) rmSync(this.dataDir.socketPath, { force: true });
  }
}

const SERVICE_LOGS = { ServiceLogs: serviceLogsMethod } as unknown as grpc.ServiceDefinition;
const EVENTS = { Events: eventsMethod } as unknown as grpc.ServiceDefinition;
const BACKUP = { Backup: backupMethod } as unknown as grpc.ServiceDefinition;

function bind(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => {
      if (err) reject(new BatonError('FAILED_PRECONDITION', `cannot listen on ${address}: ${listenCause(err.message)}`));
      else resolve(port);
    });
  });
}

function listenTcp(listener: NodeTlsListener, address: string): Promise<number> {
  return listener.listen(address).catch((err: Error) => {
    throw new BatonError('FAILED_PRECONDITION', `cannot listen on ${address}: ${listenCause(err.message)}`);
  });
}

/**
 * What grpc-js' bind error says underneath its wrapper ("No address added out of total 1
 * resolved errors: [listen EADDRINUSE: address already in use 127.0.0.1:4242]"): the system's
 * words, "address already in use", without the code and the address the line already names.
 */
function listenCause(message: string): string {
  const inner = /errors: \[(.*)\]$/.exec(message)?.[1] ?? message;
  return /^listen E[A-Z]+: (.*?)(?: \S+:\d+)?$/.exec(inner)?.[1] ?? inner;
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    server.tryShutdown(() => resolve());
    server.forceShutdown();
  });
}

