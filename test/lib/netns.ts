// Hosts of their own on one machine, for tests that cut a node off the network: a network
// namespace per node, each with a veth into a hub namespace that bridges them (10.77.0.0/24,
// seen by nobody else: no address of the machine's own namespace is touched). A node is
// isolated by setting its hub-side link down (both directions at once, with nothing reset:
// its peers learn of it only by silence, as with a pulled cable) and healed by setting it up.
// Needs root and iproute2: without them a test skips saying why, and fails under CI=true.
import { spawnSync } from 'node:child_process';

const SUBNET = '10.77.0';

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `ip netns does not work here: ${(r.stderr || r.error?.message || '').trim()}`;
  return undefined;
}

/** Fail (CI=true) or skip when namespaces cannot be made; true when the test may go on. */
export function requireNetns(t: { skip(message?: string): void }): boolean {
  const why = netnsUnavailable();
  if (why === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`${why} (CI=true: this test must run)`);
  t.skip(why);
  return false;
}

export class NetnsHosts {
  private readonly hub: string;

  /** `count` hosts named `<tag>-1`…, made at once. */
  constructor(private readonly tag: string, readonly count: number) {
    this.hub = `${tag}-hub`;
    try {
      ip(['netns', 'add', this.hub]);
      ip(['-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge']);
      ip(['-n', this.hub, 'link', 'set', 'br0', 'up']);
      for (let i = 0; i < count; i++) {
        const ns = this.namespace(i);
        ip(['netns', 'add', ns]);
        ip(['-n', ns, 'link', 'set', 'lo', 'up']);
        // The pair is made in the hub and one end moved into the host's namespace as eth0.
        ip(['-n', this.hub, 'link', 'add', this.hubLink(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
        ip(['-n', this.hub, 'link', 'set', this.hubLink(i), 'master', 'br0', 'up']);
        ip(['-n', ns, 'addr', 'add', `${this.host(i)}/24`, 'dev', 'eth0']);
        ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      }
    } catch (e) {
      this.remove();
      throw e;
    }
  }

  namespace(i: number): string {
    return `${this.tag}-${i + 1}`;
  }

  private hubLink(i: number): string {
    return `h${i + 1}`;
  }

  host(i: number): string {
    return `${SUBNET}.${i + 1}`;
  }

  /** The launcher's hostOf: the i-th node on the i-th host, on baton's default port. */
  readonly hostOf = (i: number): { host: string; port: number; runIn: string[] } => {
    if (i >= this.count) throw new Error(`only ${this.count} hosts`);
    return { host: this.host(i), port: 4242, runIn: ['ip', 'netns', 'exec', this.namespace(i)] };
  };

  /** Cut host i off: its link to the bridge goes down, so nothing crosses either way. */
  isolate(i: number): void {
    ip(['-n', this.hub, 'link', 'set', this.hubLink(i), 'down']);
  }

  heal(i: number): void {
    ip(['-n', this.hub, 'link', 'set', this.hubLink(i), 'up']);
  }

  /** Delete every namespace (their links go with them). Safe to call twice. */
  remove(): void {
    for (const ns of [this.hub, ...Array.from({ length: this.count }, (_, i) => this.namespace(i))]) {
      spawnSync('ip', ['netns', 'delete', ns], { encoding: 'utf8' });
    }
  }
}
