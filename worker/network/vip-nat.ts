// The kernel data path of service VIPs (docs/routing-mesh.md, "VIPs in the kernel"): a task's
// connection to a VIP port is NAT'd by the node's own rules straight to one of the service's
// healthy tasks, so it never passes through the mesh's user-space relay (which costs an accept,
// a dial and two copies per connection; measured in bench:mesh --east-west-path). A task on
// this node is reached at its address on the same bridge; a task on another node at that
// node's address and the task's host port, what the mesh itself dials (kube-proxy's iptables
// mode does the same for remote endpoints). The mesh still chooses what is healthy: the rules
// are rewritten from the same backend list the mesh gets, at every change, and the mesh keeps
// listening on the VIP for everything the rules do not take (the node's own processes, UDP,
// least-connections, a task calling its own service).
//
// Rules are iptables (the nat table; IPVS is absent here and no kernel module is loaded), the
// peer being kube-proxy's iptables mode: per VIP port, one DNAT rule per task, each taken with
// probability 1/(tasks left) (`statistic --mode random`), so every task, local or remote, gets
// an equal share.
// A task of the service calling its own VIP is left to the mesh (see renderVipRules).
// A connection DNAT'd to a task on the same bridge is SNAT'd to the bridge's gateway: a reply
// going straight from the task to the caller would bypass the NAT (hairpin); with the gateway
// as source the reply comes back through the host and is un-NATed. One DNAT'd to another node
// leaves by the node's own interface and is masqueraded to the node's address, which the other
// node can answer (the bridges' subnets are per node and need not be routable between nodes).
//
// Nodes whose address is a loopback one (tests: several nodes on 127.0.0.x on one machine): a
// packet that came in on a bridge and is DNAT'd to 127.0.0.x is a martian, dropped by the
// kernel, unless route_localnet is set on that bridge. It is set on the project's own bridges
// only, only while a rule needs it, and set back when it does not (and at stop). Since it would
// also let a container send packets to the host's loopback services (CVE-2020-8558), a filter
// rule per such bridge drops any packet from it to 127.0.0.0/8 that our DNAT did not make, as
// kube-proxy does. Where route_localnet cannot be set, those ports stay with the mesh.
//
// Several nodes share one engine (and one kernel) in tests: each node has chains of its own,
// named after a hash of its cluster and node ID, reached by one jump each from PREROUTING,
// POSTROUTING (nat) and INPUT (filter) that carries the cluster and node IDs in a comment. The
// whole set is replaced atomically (iptables-restore --noflush on the node's chains only) and
// removed when the daemon stops.
// Where iptables is missing or refused (not root), the path is off: said once in the node's
// log, and the mesh relays every VIP connection as before.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/** One VIP port taken by the kernel path. */
export interface VipNatRule {
  /** The network's bridge interface on this node (where callers' packets come in). */
  bridge: string;
  /** The bridge's subnet (a.b.c.d/22): only the network's own tasks are redirected. */
  subnet: string;
  /** The bridge's own address: the source the tasks see. */
  gateway: string;
  vip: string;
  port: number;
  /** "ip:port" of each task of this node, on the same bridge. */
  targets: string[];
  /** "node address:host port" of each task on another node (what the mesh dials for them). */
  remote?: string[];
}

/** What running a command gave: exit code 0 is success. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` with `args`, `input` on its stdin (tests pass their own). */
export type CommandRunner = (cmd: string, args: string[], input?: string) => Promise<CommandResult>;

export interface VipNatOptions {
  clusterId: string;
  nodeId: string;
  logger: Logger;
  run?: CommandRunner;
}

const IPTABLES_TIMEOUT_MS = 10_000;

/** `BATON_VIP_NAT=off` in the daemon's environment: no kernel path, the mesh relays every VIP. */
export const VIP_NAT_ENV = 'BATON_VIP_NAT';

export function vipNatWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[VIP_NAT_ENV] !== 'off';
}

/** The node's chains: DNAT and SNAT (nat table), the loopback guard (filter table). */
export interface VipChains {
  dnat: string;
  snat: string;
  guard: string;
}

/** Chain-name suffix: 10 hex characters of the (cluster, node) hash; names stay within iptables' 28. */
export function vipChains(clusterId: string, nodeId: string): VipChains {
  const h = createHash('sha256').update(`${clusterId}\0${nodeId}`).digest('hex').slice(0, 10);
  return { dnat: `BATON-VIP-${h}`, snat: `BATON-VIPS-${h}`, guard: `BATON-VIPF-${h}` };
}

/** The comment on the node's jumps and rules: what `iptables -t nat -S | grep` finds (test teardown among them). */
export function vipComment(clusterId: string, nodeId: string): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, '_');
  return `baton cluster ${safe(clusterId)} node ${safe(nodeId)}`;
}

/** Whether "ip:port" is on the loopback network (127.0.0.0/8). */
function loopbackTarget(target: string): boolean {
  return target.startsWith('127.');
}

/** The bridges whose rules DNAT to a loopback address: they need route_localnet (see the header). */
export function localnetBridges(rules: readonly VipNatRule[]): Set<string> {
  return new Set(rules.filter((r) => (r.remote ?? []).some(loopbackTarget)).map((r) => r.bridge));
}

/** iptables-restore input replacing the node's chains with these rules (and nothing else). */
export function renderVipRules(chains: VipChains, comment: string, rules: readonly VipNatRule[]): string {
  const lines = ['*nat', `:${chains.dnat} - [0:0]`, `:${chains.snat} - [0:0]`];
  const c = `-m comment --comment "${comment}"`;
  for (const r of rules) {
    const all = [...r.targets, ...(r.remote ?? [])];
    const n = all.length;
    const match = `-s ${r.subnet} -d ${r.vip}/32 -i ${r.bridge} -p tcp -m tcp --dport ${r.port}`;
    // A task calling its own service's VIP is left to the mesh: DNAT'd to itself, the packet
    // would have to leave the bridge by the port it came in on (br_netfilter NATs it as a
    // bridged frame), which a bridge port without hairpin mode does not allow.
    for (const t of r.targets) lines.push(`-A ${chains.dnat} -s ${t.slice(0, t.lastIndexOf(':'))}/32 -d ${r.vip}/32 -i ${r.bridge} -p tcp -m tcp --dport ${r.port} ${c} -j RETURN`);
    all.forEach((t, i) => {
      // Rule i sees what rules 0..i-1 left: 1/(n-i) of it gives every task 1/n overall.
      const share = i < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - i)).toFixed(11)}` : '';
      lines.push(`-A ${chains.dnat} ${match}${share} ${c} -j DNAT --to-destination ${t}`);
    });
    const orig = `-p tcp -m conntrack --ctstate DNAT --ctorigdst ${r.vip} --ctorigdstport ${r.port}`;
    if (r.targets.length > 0) lines.push(`-A ${chains.snat} -o ${r.bridge} ${orig} ${c} -j SNAT --to-source ${r.gateway}`);
    // To another node: the node's own address as the source (a loopback target is delivered
    // locally and never reaches POSTROUTING; this serves nodes on separate machines).
    if ((r.remote ?? []).length > 0) lines.push(`-A ${chains.snat} ! -o ${r.bridge} ${orig} ${c} -j MASQUERADE`);
  }
  lines.push('COMMIT', '*filter', `:${chains.guard} - [0:0]`);
  // route_localnet's hole closed: from such a bridge, only connections our DNAT sent to a
  // loopback address get there (kube-proxy's "block incoming localnet connections").
  for (const bridge of [...localnetBridges(rules)].sort()) {
    lines.push(`-A ${chains.guard} -i ${bridge} -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT ${c} -j DROP`);
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

function runCommand(cmd: string, args: string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: IPTABLES_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (!err) {
        resolve({ code: 0, stdout, stderr });
        return;
      }
      const e = err as NodeJS.ErrnoException & { code?: unknown };
      const why = e.code === 'ENOENT' ? `${cmd} is not installed` : stderr.trim().split('\n')[0] || err.message.split('\n')[0] || 'failed';
      resolve({ code: typeof e.code === 'number' ? e.code : 1, stdout, stderr: why });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export class VipNat {
  private readonly chains: VipChains;
  private readonly comment: string;
  private readonly run: CommandRunner;
  /** undefined: not tried yet; false: unavailable (said once), the mesh relays everything. */
  private usable: boolean | undefined = undefined;
  private jumps = false;
  private last: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Per "vip:port": connections counted by rules since replaced (a restore zeroes the counters). */
  private readonly base = new Map<string, number>();
  /** Per "vip:port": what the rules in place have counted, as last read. */
  private current = new Map<string, number>();
  /** Bridges on which this daemon set route_localnet (set back when no rule needs it). */
  private readonly localnet = new Set<string>();
  /** Bridges where route_localnet was refused (said once each). */
  private readonly localnetRefused = new Set<string>();

  constructor(private readonly opts: VipNatOptions) {
    this.chains = vipChains(opts.clusterId, opts.nodeId);
    this.comment = vipComment(opts.clusterId, opts.nodeId);
    this.run = opts.run ?? runCommand;
  }

  /** False once the kernel path was found unavailable here. */
  get available(): boolean {
    return this.usable !== false;
  }

  /**
   * Replaces the node's rules with exactly `rules` (an empty list leaves the chains empty).
   * Resolves with whether the kernel now carries them; never rejects: a failure is logged and
   * the mesh, still listening on every VIP, relays what the rules would have taken.
   */
  apply(rules: readonly VipNatRule[]): Promise<boolean> {
    return this.serialized(async () => {
      if (this.closed || this.usable === false) return false;
      // route_localnet before the rules that need it: without it their DNAT would make martians.
      const need = localnetBridges(rules);
      const refused = new Set<string>();
      for (const bridge of need) if (!this.localnet.has(bridge) && !(await this.setLocalnet(bridge, true))) refused.add(bridge);
      // A port is all or nothing (the shares are over all its tasks): one that needs a refused
      // route_localnet is left to the mesh.
      const kept = refused.size === 0 ? rules : rules.filter((r) => !(refused.has(r.bridge) && (r.remote ?? []).some(loopbackTarget)));
      const text = renderVipRules(this.chains, this.comment, kept);
      if (text === this.last && this.jumps) return true;
      if (this.usable === true) {
        // The restore zeroes the rules' counters: what they counted is kept first.
        await this.readCounters();
        for (const [k, n] of this.current) this.base.set(k, (this.base.get(k) ?? 0) + n);
        this.current = new Map();
      }
      const restored = await this.run('iptables-restore', ['-w', '--noflush'], text);
      if (restored.code !== 0) return await this.failed(`iptables-restore: ${restored.stderr.trim()}`);
      this.last = text;
      if (!this.jumps) {
        for (const [table, hook, chain] of this.hooks()) {
          const spec = [hook, '-m', 'comment', '--comment', this.comment, '-j', chain];
          if ((await this.run('iptables', ['-w', '-t', table, '-C', ...spec])).code === 0) continue;
          // First in PREROUTING: Docker's DOCKER chain there DNATs ports published on every
          // address, the VIPs included, for callers on other bridges.
          const added = await this.run('iptables', ['-w', '-t', table, '-I', hook, '1', ...spec.slice(1)]);
          if (added.code !== 0) return await this.failed(`iptables -I ${hook}: ${added.stderr.trim()}`);
        }
        this.jumps = true;
      }
      // The rules in place no longer DNAT to loopback from these bridges.
      const still = localnetBridges(kept);
      for (const bridge of [...this.localnet]) if (!still.has(bridge)) await this.setLocalnet(bridge, false);
      if (this.usable === undefined) this.opts.logger.info({ chain: this.chains.dnat }, 'networks: VIP connections from tasks go through kernel NAT rules');
      this.usable = true;
      return true;
    });
  }

  /** The jumps into the node's chains: table, hook, chain. */
  private hooks(): [string, string, string][] {
    return [
      ['nat', 'PREROUTING', this.chains.dnat],
      ['nat', 'POSTROUTING', this.chains.snat],
      ['filter', 'INPUT', this.chains.guard],
    ];
  }

  /** Sets (or sets back) route_localnet on one of the project's bridges; false when refused. */
  private async setLocalnet(bridge: string, on: boolean): Promise<boolean> {
    // The slash form: a bridge name is taken literally (sysctl's dotted form would split it).
    const r = await this.run('sysctl', ['-q', '-w', `net/ipv4/conf/${bridge}/route_localnet=${on ? 1 : 0}`]);
    if (on && r.code === 0) this.localnet.add(bridge);
    if (!on) this.localnet.delete(bridge);
    if (on && r.code !== 0 && !this.localnetRefused.has(bridge)) {
      this.localnetRefused.add(bridge);
      this.opts.logger.warn({ bridge, why: r.stderr.trim() }, 'networks: cannot set route_localnet on the bridge; VIP ports with tasks on other (loopback) nodes stay with the mesh');
    }
    return r.code === 0;
  }

  /**
   * Connections the rules have sent to tasks, per "vip:port", cumulative since this daemon
   * started (as of the last refresh() or apply()): the mesh counts them with the service's.
   */
  connections(): ReadonlyMap<string, number> {
    const out = new Map(this.base);
    for (const [k, n] of this.current) out.set(k, (out.get(k) ?? 0) + n);
    return out;
  }

  /** Reads the rules' counters again (the nat table sees a connection's first packet only). */
  refresh(): Promise<void> {
    return this.serialized(() => (this.usable === true && !this.closed ? this.readCounters() : Promise.resolve()));
  }

  private async readCounters(): Promise<void> {
    const saved = await this.run('iptables-save', ['-c', '-t', 'nat']);
    if (saved.code !== 0) return;
    const now = new Map<string, number>();
    const prefix = ` -A ${this.chains.dnat} `;
    for (const line of saved.stdout.split('\n')) {
      // DNAT rules only: what a RETURN rule counts went on to the mesh, which counts it itself.
      if (!line.includes(prefix) || !line.includes(' -j DNAT ')) continue;
      const m = /^\[(\d+):\d+\] .* -d (\S+)\/32 .*--dport (\d+) /.exec(line);
      if (!m) continue;
      const key = `${m[2]}:${m[3]}`;
      now.set(key, (now.get(key) ?? 0) + Number(m[1]));
    }
    this.current = now;
  }

  /** Removes the node's jumps and chains (daemon stop); the mesh would relay from now on. */
  close(): Promise<void> {
    return this.serialized(async () => {
      this.closed = true;
      if (this.usable !== true) return;
      await this.remove();
    });
  }

  private async remove(): Promise<void> {
    for (const [table, hook, chain] of this.hooks()) {
      // Every copy (a crashed daemon of this node may have left one more).
      for (let i = 0; i < 8; i++) {
        const r = await this.run('iptables', ['-w', '-t', table, '-D', hook, '-m', 'comment', '--comment', this.comment, '-j', chain]);
        if (r.code !== 0) break;
      }
      await this.run('iptables', ['-w', '-t', table, '-F', chain]);
      const r = await this.run('iptables', ['-w', '-t', table, '-X', chain]);
      if (r.code !== 0) this.opts.logger.warn({ chain, why: r.stderr.trim() }, 'networks: cannot remove the VIP NAT chain');
    }
    // After the rules: nothing DNATs to loopback any more. A bridge already gone took its setting with it.
    for (const bridge of [...this.localnet]) await this.setLocalnet(bridge, false);
    this.jumps = false;
    this.last = undefined;
  }

  private async failed(why: string): Promise<boolean> {
    if (this.usable === true) {
      // It worked before: a passing failure (the xtables lock, a race with the engine). The old
      // rules may name tasks that are gone: emptied, so the mesh takes every connection until
      // the next change tries again.
      this.opts.logger.warn({ why }, 'networks: cannot update the VIP NAT rules; the mesh relays until the next change');
      this.last = undefined;
      for (const chain of [this.chains.dnat, this.chains.snat]) await this.run('iptables', ['-w', '-t', 'nat', '-F', chain]);
      // Nothing DNATs to loopback now; the guard chain stays as it was (harmless without route_localnet).
      for (const bridge of [...this.localnet]) await this.setLocalnet(bridge, false);
      return false;
    }
    this.usable = false;
    for (const bridge of [...this.localnet]) await this.setLocalnet(bridge, false);
    this.opts.logger.warn({ why }, 'networks: VIP kernel path unavailable (iptables missing or refused): the mesh relays every VIP connection');
    return false;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
