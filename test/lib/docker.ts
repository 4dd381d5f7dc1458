// Shared by every test that needs a real Docker engine (the e2e level).
// A developer without an engine gets a skip that says why; CI (CI=true) has installed and
// started one in .ci/run, so there an unreachable engine is a broken pipeline and must fail
// rather than let every e2e test skip silently into a green run.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { listedObjects, BatonCluster, type ClusterOptions } from './baton-cluster.js';
import { removeClusterNetworks } from './docker-networks.js';
import { waitFor } from './wait.js';

export { removeClusterNetworks };

/** The image scripts/docker-up.sh imports: static busybox with all applets, /www and a hostname CGI. */
export const TEST_IMAGE = 'local/busybox:1';

/** Every container a test creates carries this label, so a stray one can be found and removed. */
export const TEST_LABELS: Readonly<Record<string, string>> = { 'baton.test': '1' };

// A tcp DOCKER_HOST that drops packets would otherwise hang the test until the runner's timeout.
const PING_TIMEOUT_MS = 5_000;

/** The part of node:test's TestContext this helper uses (kept narrow so any context fits). */
export interface SkippableContext {
  skip(message?: string): void;
  diagnostic(message: string): void;
}

let probe: Promise<string | undefined> | undefined;

/** Resolves to undefined when the engine answers, else to why it does not. Asked once per process. */
function engineProblem(docker: Docker): Promise<string | undefined> {
  probe ??= (async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([docker.ping(), timeout]);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(timer);
    }
  })();
  return probe;
}

function describeEndpoint(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

/**
 * Returns a client of a reachable Docker engine, or undefined after marking the test skipped
 * (the caller must then return). With CI=true an unreachable engine throws instead, failing
 * the test.
 *
 *   const docker = await requireDocker(t);
 *   if (!docker) return;
 */
export async function requireDocker(t: SkippableContext): Promise<Docker | undefined> {
  const docker = new Docker();
  const problem = await engineProblem(docker);
  if (problem === undefined) return docker;
  const reason = `Docker engine unreachable at ${describeEndpoint()} (${problem})`;
  if (process.env.CI === 'true') {
    throw new Error(`${reason}. CI=true, so this test must not skip: .ci/run starts the engine with scripts/docker-up.sh; see /tmp/baton-dockerd.log.`);
  }
  const message = `${reason}; skipped (run scripts/docker-up.sh to start one)`;
  t.diagnostic(message);
  t.skip(message);
  return undefined;
}

/** Fails (never skips) when the engine lacks the test image: scripts/docker-up.sh imports it. */
export async function requireTestImage(docker: Docker): Promise<void> {
  await docker.getImage(TEST_IMAGE).inspect().catch((err: unknown) => {
    throw new Error(`image ${TEST_IMAGE} missing (scripts/docker-up.sh imports it): ${String(err)}`);
  });
}

/**
 * Splits the log buffer of a container created without a TTY: the engine multiplexes stdout
 * and stderr into frames of an 8-byte header (stream type, 3 zero bytes, big-endian length)
 * followed by the payload.
 */
export function demuxLogs(raw: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const stream = raw.readUInt8(offset);
    const length = raw.readUInt32BE(offset + 4);
    const payload = raw.subarray(offset + 8, offset + 8 + length);
    (stream === 2 ? err : out).push(payload);
    offset += 8 + length;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/**
 * Removes every container labelled with one of these clusters. Containers outlive SIGKILLed
 * daemons by design, so a test removes its own; one a stopping daemon is removing at the same
 * moment is already going (409) or gone (404), and that is what we want.
 */
export async function removeClusterContainers(docker: Docker, clusterIds: ReadonlySet<string>): Promise<void> {
  for (const found of await docker.listContainers({ all: true, filters: { label: ['baton.cluster'] } })) {
    if (!clusterIds.has(found.Labels['baton.cluster'] ?? '')) continue;
    try {
      await docker.getContainer(found.Id).remove({ force: true });
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== 404 && status !== 409) throw err;
    }
  }
}

/**
 * Removes every volume labelled with one of these clusters (the docker executor labels the named
 * volumes of service mounts with baton.cluster; they outlive their tasks by design). Called after
 * the containers are gone: a volume still in use cannot be removed (409).
 */
export async function removeClusterVolumes(docker: Docker, clusterIds: ReadonlySet<string>): Promise<void> {
  const { Volumes } = await docker.listVolumes({ filters: { label: ['baton.cluster'] } });
  for (const v of Volumes ?? []) {
    if (!clusterIds.has(v.Labels?.['baton.cluster'] ?? '')) continue;
    try {
      await docker.getVolume(v.Name).remove();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }
}

/**
 * BatonCluster.forTest for tests on Docker: when the test ends the daemons stop, then the
 * containers of the clusters it initialized go (they outlive their daemons by design), then
 * their volumes, then their networks, then the data. Hooks a test adds after this one run after it.
 */
export function dockerCluster(t: { after(fn: () => Promise<void>): void }, docker: Docker, extra: string[] = [], options: ClusterOptions = {}): BatonCluster {
  const c = new BatonCluster(extra, options);
  t.after(async () => {
    await c.stopAll();
    await removeClusterContainers(docker, c.clusterIds);
    await removeClusterVolumes(docker, c.clusterIds);
    await removeClusterNetworks(docker, c.clusterIds);
    c.cleanup();
  });
  return c;
}

/** Waits until the node `on` (its first listed node: itself, in a one-node cluster) offers the docker runtime. */
export async function dockerOffered(c: BatonCluster, on = 'm1'): Promise<void> {
  await waitFor('the node offers docker', () => {
    const list = listedObjects(c, on, ['node', 'ls'], 'node') as { description: { runtimes: string[] } }[];
    return list[0]?.description.runtimes.includes('docker') ?? false;
  });
}

const run = promisify(execFile);

/**
 * A shell command inside a container (`docker exec`): its output, or ok=false with its output
 * when it fails. `dockerHost`: the engine's DOCKER_HOST when not the machine's (test/lib/netns-engines.ts).
 */
export async function shIn(containerId: string, script: string, timeoutMs = 20_000, dockerHost?: string): Promise<{ ok: boolean; out: string }> {
  try {
    const env = dockerHost === undefined ? process.env : { ...process.env, DOCKER_HOST: dockerHost };
    const r = await run('docker', ['exec', containerId, 'sh', '-c', script], { encoding: 'utf8', timeout: timeoutMs, env });
    return { ok: true, out: r.stdout };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The IPv4 addresses a container's resolver gives for a name (busybox nslookup: those after its "Name:" line), sorted. */
export async function resolveIn(containerId: string, name: string, dockerHost?: string): Promise<string[]> {
  const r = await shIn(containerId, `nslookup ${name}`, 20_000, dockerHost);
  const lines = r.out.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Name:'));
  if (start < 0) return [];
  return lines
    .slice(start)
    .flatMap((l) => /^Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)\s*$/.exec(l)?.[1] ?? [])
    .sort();
}
