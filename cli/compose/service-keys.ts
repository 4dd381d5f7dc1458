// Which keys of a Compose service `stack deploy` reads, and what it says about the others, in
// Docker's words: the options Swarm has no use for are ignored with one warning for the whole
// stack ("Ignoring unsupported options: build, restart"), the deprecated ones likewise with
// their reason, and the ones Docker refuses are refused with Docker's reason.
import type { Node } from './reader.js';

/** Docker's stack deploy ignores these, with one warning naming them all. */
export const DOCKER_UNSUPPORTED = [
  'build', 'cgroupns_mode', 'cgroup_parent', 'devices', 'domainname', 'external_links', 'ipc', 'links',
  'mac_address', 'network_mode', 'pid', 'privileged', 'restart', 'security_opt', 'shm_size', 'userns_mode',
];

/** Docker's stack deploy ignores these too, saying why. */
export const DOCKER_DEPRECATED: Readonly<Record<string, string>> = {
  container_name: 'Setting the container name is not supported.',
};

/** Docker's stack deploy refuses a file with these, saying what to write instead. */
export const DOCKER_FORBIDDEN: Readonly<Record<string, string>> = {
  extends: 'Support for `extends` is not implemented yet.',
  volume_driver: 'Instead of setting the volume driver on the service, define a volume using the top-level `volumes` option and specify the driver there.',
  volumes_from: "To share a volume between services, define it using the top-level `volumes` option and reference it from each service that shares it using the service-level `volumes` option.",
  cpu_quota: 'Set resource limits using deploy.resources',
  cpu_shares: 'Set resource limits using deploy.resources',
  cpuset: 'Set resource limits using deploy.resources',
  mem_limit: 'Set resource limits using deploy.resources',
  memswap_limit: 'Set resource limits using deploy.resources',
};

/**
 * Keys that change nothing a task can observe on baton (start order, a kept stdin): warned
 * about one by one and ignored (Docker's stack deploy drops them silently).
 */
export const QUIETLY_IGNORED = ['depends_on', 'stdin_open', 'profiles', 'pull_policy'];

/** The once-per-stack warnings, as Docker prints them before deploying. */
export function ignoredOptionsWarnings(services: readonly Node[]): string[] {
  const present = (key: string): boolean => services.some((s) => s.isMap() && s.child(key).present);
  const out: string[] = [];
  const unsupported = DOCKER_UNSUPPORTED.filter(present).sort();
  if (unsupported.length > 0) out.push(`Ignoring unsupported options: ${unsupported.join(', ')}`);
  const deprecated = Object.keys(DOCKER_DEPRECATED).filter(present).sort();
  if (deprecated.length > 0) out.push(`Ignoring deprecated options: ${deprecated.map((k) => `${k}: ${DOCKER_DEPRECATED[k]}`).join(' ')}`);
  return out;
}

/** A forbidden key of one service, refused (the first one found; Docker's reason given). */
export function refuseForbidden(service: Node): void {
  for (const key of Object.keys(DOCKER_FORBIDDEN)) {
    const n = service.child(key);
    if (n.present) n.fail(`is not supported by stack deploy: ${DOCKER_FORBIDDEN[key]}`);
  }
}

/**
 * Windows container settings, read but refused unless they ask for nothing. Docker's stack
 * deploy passes them to the service, and a Linux engine then refuses every task of it
 * (`Invalid isolation: "process" - linux only supports 'default'`, `invalid --security-opt 2:
 * "credentialspec=…"`); baton's containers are Linux ones, so the refusal comes at deploy,
 * once, naming the key, instead of as failed tasks.
 */
export const WINDOWS_KEYS = ['isolation', 'credential_spec'];

/** `isolation:` as a Linux engine takes it: `default` (any case) or empty, nothing else. */
export function checkIsolation(n: Node): void {
  if (!n.present) return;
  const mode = n.text();
  if (mode !== '' && mode.toLowerCase() !== 'default') {
    n.fail(`is ${JSON.stringify(mode)}: Linux containers only support 'default' (process and hyperv are Windows isolation modes)`);
  }
}

/**
 * `credential_spec:` (config, file or registry: a Windows gMSA credential spec). Empty, it asks
 * for nothing and Docker sends none: accepted. Its keys are Compose's own, anything else is
 * named as not supported.
 */
export function checkCredentialSpec(n: Node): void {
  if (!n.present) return;
  n.checkKeys(['config', 'file', 'registry']);
  for (const key of ['config', 'file', 'registry']) {
    const source = n.child(key);
    if (source.present && source.text() !== '') {
      source.fail('is not supported: credential specs (gMSA) are for Windows containers, and a Linux engine refuses a task with one');
    }
  }
}
