// The grammar of a placement constraint, as in Swarm: node.id, node.hostname, node.role
// (manager|worker), node.platform.os, node.platform.arch, node.labels.<key> and
// engine.labels.<key>, each with == or !=. Checked here when a spec comes in; the scheduler
// (manager/scheduler/constraints.ts) evaluates them against nodes.
import { ok, problem, type Parsed } from './parsed.js';

export interface Constraint {
  field: 'id' | 'hostname' | 'role' | 'os' | 'arch' | 'label' | 'engine-label';
  /** The label key (fields 'label' and 'engine-label' only). */
  key: string;
  op: '==' | '!=';
  value: string;
  /** As written, normalised: `node.labels.zone==a`. */
  text: string;
}

// The value may hold spaces (Swarm's does: `engine.labels.operatingsystem==ubuntu 22.04`).
const FORM = /^(node\.(?:id|hostname|role|platform\.os|platform\.arch|labels\.([^=!\s]+))|engine\.labels\.([^=!\s]+))\s*(==|!=)\s*(\S(?:.*\S)?)$/;

const FIELDS: Record<string, Constraint['field']> = {
  'node.id': 'id',
  'node.hostname': 'hostname',
  'node.role': 'role',
  'node.platform.os': 'os',
  'node.platform.arch': 'arch',
};

export const CONSTRAINT_FORMS = 'node.id|node.hostname|node.role|node.platform.os|node.platform.arch|node.labels.KEY|engine.labels.KEY ==|!= VALUE';

export function parseConstraintText(input: string): Parsed<Constraint> {
  const m = FORM.exec(input.trim());
  if (m === null) return problem(`invalid constraint "${input}" (want ${CONSTRAINT_FORMS})`);
  const [, lhs = '', nodeKey, engineKey, op = '==', value = ''] = m;
  const field: Constraint['field'] = nodeKey !== undefined ? 'label' : engineKey !== undefined ? 'engine-label' : (FIELDS[lhs] ?? 'id');
  if (field === 'role' && !/^(manager|worker)$/i.test(value)) {
    return problem(`invalid constraint "${input}": node.role is manager or worker`);
  }
  return ok({ field, key: nodeKey ?? engineKey ?? '', op: op as Constraint['op'], value, text: `${lhs}${op}${value}` });
}

// Node's names for a CPU architecture (process.arch) against the engine's (uname -m), which
// is what Swarm compares `node.platform.arch` with.
const ARCH_NAMES: Record<string, string> = {
  x64: 'x86_64',
  arm64: 'aarch64',
  ia32: 'i386',
  arm: 'armv7l',
  ppc64: 'ppc64le',
};

/** An architecture under Docker's name: `x64` → `x86_64`, `arm64` → `aarch64`; others as given. */
export function dockerArch(arch: string): string {
  return ARCH_NAMES[arch.toLowerCase()] ?? arch.toLowerCase();
}

/** `os/arch` of a node's description (Node's names, `linux/x64`) as Docker's: [`linux`, `x86_64`]. */
export function dockerPlatform(platform: string): [os: string, arch: string] {
  const [os = '', arch = ''] = platform.split('/');
  return [os.toLowerCase(), dockerArch(arch)];
}
