// `baton info`: Docker's `docker info` Server part for what baton has (the Swarm section, the
// server's version, runtimes, OS, CPUs, memory), as text, `--format json`, or a Go template over
// Docker's field names ({{.Swarm.NodeID}}, {{.NCPU}}, {{.ServerVersion}}). Reference:
// https://docs.docker.com/reference/cli/docker/system/info/ (its sample output and --format).
import type { Argv } from 'yargs';
import { baton } from '../client/index.js';
import { withClient, type GlobalArgs } from './context.js';
import { bytesText, print } from './output.js';
import { renderInspect } from './list-format.js';
// Docker's human duration ("5 seconds", "About an hour") of the CA expiry and heartbeat: the listings' one.
import { humanDuration } from './task-object.js';

/** Node's arch names as Docker's Architecture (uname -m). */
function machine(arch: string): string {
  return ({ x64: 'x86_64', arm64: 'aarch64', ia32: 'i386' } as Record<string, string>)[arch] ?? arch;
}

/** The object Docker's info templates read, with the fields baton has. */
export function infoObject(info: baton.ClusterInfo.$Properties, nodes: baton.Node.$Properties[], cluster: baton.Cluster.$Properties | undefined): InfoView {
  const self = nodes.find((n) => n.meta?.id === info.nodeId);
  const d = self?.description ?? {};
  const spec = cluster?.spec ?? {};
  return {
    ID: info.nodeId ?? '',
    Name: d.hostname ?? '',
    ServerVersion: info.version ?? '',
    OSType: info.os ?? '',
    OperatingSystem: info.os ?? '',
    Architecture: machine(info.arch ?? ''),
    NCPU: Number(d.resources?.nanoCpus ?? 0) / 1e9,
    MemTotal: Number(d.resources?.memoryBytes ?? 0),
    Runtimes: Object.fromEntries((d.runtimes ?? []).map((r) => [r, {}])),
    Swarm: {
      NodeID: info.nodeId ?? '',
      // Docker's Node Address is the IP alone.
      NodeAddr: (self?.status?.addr ?? '').replace(/:\d+$/, ''),
      LocalNodeState: 'active',
      ControlAvailable: self?.role === baton.NodeRole.MANAGER,
      Error: '',
      RemoteManagers: (info.managers ?? []).map((m) => ({ NodeID: m.nodeId ?? '', Addr: m.addr ?? '' })),
      Nodes: nodes.length,
      Managers: nodes.filter((n) => n.role === baton.NodeRole.MANAGER).length,
      Cluster: {
        ID: info.clusterId ?? '',
        Spec: {
          Name: spec.annotations?.name || 'default',
          // Unset is the default (objects.proto): 1s, 3 periods.
          Dispatcher: { HeartbeatPeriod: (Number(spec.heartbeatPeriodMs ?? 0) || 1000) * 1e6, HeartbeatGrace: Number(spec.heartbeatGrace ?? 0) || 3 },
          CAConfig: { NodeCertExpiry: Number(spec.nodeCertExpiryMs ?? 0) * 1e6 },
          // The answering manager's (baton sets Raft per daemon, not in the cluster's spec).
          Raft: {
            SnapshotInterval: Number(info.raft?.snapshotInterval ?? 0),
            HeartbeatTick: Number(info.raft?.heartbeatTick ?? 0),
            ElectionTick: Number(info.raft?.electionTick ?? 0),
            TickMs: Number(info.raft?.tickMs ?? 0),
          },
        },
      },
    },
  };
}

/** Docker's Raft fields of a swarm's spec, and the tick they count in. */
export interface RaftView {
  SnapshotInterval: number;
  HeartbeatTick: number;
  ElectionTick: number;
  TickMs: number;
}

export interface InfoView {
  Swarm: { NodeID: string; NodeAddr: string; LocalNodeState: string; ControlAvailable: boolean; Error: string; RemoteManagers: { NodeID: string; Addr: string }[]; Nodes: number; Managers: number; Cluster: { ID: string; Spec: { Name: string; Dispatcher: { HeartbeatPeriod: number; HeartbeatGrace: number }; CAConfig: { NodeCertExpiry: number }; Raft: RaftView } } };
  ServerVersion: string;
  Runtimes: Record<string, unknown>;
  OSType: string;
  OperatingSystem: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  Name: string;
  ID: string;
}

/** The text of `docker info`'s Server part, for what baton has. */
export function infoText(o: InfoView): string {
  const s = o.Swarm;
  const period = s.Cluster.Spec.Dispatcher.HeartbeatPeriod / 1e6;
  const expiry = s.Cluster.Spec.CAConfig.NodeCertExpiry / 1e6;
  return [
    'Server:',
    ` Server Version: ${o.ServerVersion}`,
    ' Swarm: active',
    `  NodeID: ${s.NodeID}`,
    `  Is Manager: ${s.ControlAvailable}`,
    `  ClusterID: ${s.Cluster.ID}`,
    `  Managers: ${s.Managers}`,
    `  Nodes: ${s.Nodes}`,
    ...raftLines(s.Cluster.Spec.Raft),
    ...(period > 0 ? ['  Dispatcher:', `   Heartbeat Period: ${humanDuration(period)}`, `   Heartbeat Grace: ${s.Cluster.Spec.Dispatcher.HeartbeatGrace} periods`] : []),
    ...(expiry > 0 ? ['  CA Configuration:', `   Expiry Duration: ${humanDuration(expiry)}`] : []),
    `  Node Address: ${s.NodeAddr}`,
    '  Manager Addresses:',
    ...s.RemoteManagers.map((m) => `   ${m.Addr}`).sort(),
    ` Runtimes: ${Object.keys(o.Runtimes).join(' ')}`,
    ` OSType: ${o.OSType}`,
    ` Architecture: ${o.Architecture}`,
    ` CPUs: ${o.NCPU}`,
    ` Total Memory: ${bytesText(o.MemTotal)}`,
    ` Name: ${o.Name}`,
    ` ID: ${o.ID}`,
  ].join('\n');
}

/** Docker's Raft section (`docker info`), with the tick's length, which Docker's fixes at 100 ms. */
function raftLines(r: RaftView): string[] {
  if (r.ElectionTick === 0) return [];
  return ['  Raft:', `   Snapshot Interval: ${r.SnapshotInterval}`, `   Heartbeat Tick: ${r.HeartbeatTick}`, `   Election Tick: ${r.ElectionTick}`, `   Tick: ${r.TickMs} ms`];
}

export function infoCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs & { format?: string }> {
  return y.option('format', { alias: 'f', type: 'string', requiresArg: true, describe: "json, or a Go template: '{{.Swarm.NodeID}}'" });
}

export async function runInfo(args: GlobalArgs & { format?: string }): Promise<void> {
  await withClient(args, async (client) => {
    const [info, nodes, cluster] = await Promise.all([client.control.call('Info', {}), client.list('ListNodes'), client.control.call('GetCluster', {})]);
    const o = infoObject(info, nodes, cluster.cluster ?? undefined);
    if (args.format === undefined || args.format === '') return print(infoText(o));
    // json is one object, as `docker info --format json`.
    print(args.format === 'json' ? JSON.stringify(o) : renderInspect(args.format, [o]));
  });
}
