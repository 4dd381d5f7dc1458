// Placement constraints, as in Swarm: node.id, node.hostname, node.role (manager|worker) and
// node.labels.<key>, each with == or !=. Values compare ignoring case (Swarm does too); a
// label that is absent never equals anything, so `node.labels.k!=v` holds on a node without k.
// The scheduler and the global orchestrator share this code so they agree on eligibility.
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { DeepReadonly } from '../store/index.js';

export type NodeView = DeepReadonly<baton.Node.$Properties>;

export interface Constraint {
  field: 'id' | 'hostname' | 'role' | 'label';
  /** The label key (field 'label' only). */
  key: string;
  op: '==' | '!=';
  value: string;
  /** As written, normalised: `node.labels.zone==a`. */
  text: string;
}

const FORM = /^node\.(id|hostname|role|labels\.([^=!\s]+))\s*(==|!=)\s*(\S+)$/;

/** Throws INVALID_ARGUMENT naming the constraint and the expected forms. */
export function parseConstraint(input: string): Constraint {
  const m = FORM.exec(input.trim());
  if (m === null) {
    throw new BatonError('INVALID_ARGUMENT', `invalid constraint "${input}" (want node.id|node.hostname|node.role|node.labels.KEY ==|!= VALUE)`);
  }
  const [, what = '', key = '', op = '==', value = ''] = m;
  const field = what.startsWith('labels.') ? 'label' : (what as Constraint['field']);
  if (field === 'role' && !/^(manager|worker)$/i.test(value)) {
    throw new BatonError('INVALID_ARGUMENT', `invalid constraint "${input}": node.role is manager or worker`);
  }
  const lhs = field === 'label' ? `node.labels.${key}` : `node.${field}`;
  return { field, key, op: op as Constraint['op'], value, text: `${lhs}${op}${value}` };
}

export function parseConstraints(list: readonly string[] | null | undefined): Constraint[] {
  return (list ?? []).map(parseConstraint);
}

/** The node's value for the constraint's field; undefined for a missing label. */
function fieldOf(node: NodeView, c: Constraint): string | undefined {
  switch (c.field) {
    case 'id':
      return node.meta?.id ?? '';
    case 'hostname':
      return node.description?.hostname ?? '';
    case 'role':
      return node.role === baton.NodeRole.MANAGER ? 'manager' : 'worker';
    case 'label': {
      const labels = node.spec?.annotations?.labels ?? {};
      return Object.prototype.hasOwnProperty.call(labels, c.key) ? labels[c.key] : undefined;
    }
  }
}

export function satisfies(node: NodeView, c: Constraint): boolean {
  const actual = fieldOf(node, c);
  const equal = actual !== undefined && actual.toLowerCase() === c.value.toLowerCase();
  return c.op === '==' ? equal : !equal;
}

/** Why nodes fail `c`, for "N node(s) …": [singular, plural]. */
export function unsatisfiedText(c: Constraint): [string, string] {
  if (c.field === 'label') {
    const label = `${c.key}==${c.value}`;
    return c.op === '==' ? [`has no label ${label}`, `have no label ${label}`] : [`has label ${label}`, `have label ${label}`];
  }
  return [`does not match ${c.text}`, `do not match ${c.text}`];
}
