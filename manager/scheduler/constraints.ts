// Placement constraints, as in Swarm: node.id, node.hostname, node.role (manager|worker) and
// node.labels.<key>, each with == or != (the grammar is spec/constraints.ts). Values compare
// ignoring case (Swarm does too); a label that is absent never equals anything, so
// `node.labels.k!=v` holds on a node without k.
// The scheduler and the global orchestrator share this code so they agree on eligibility.
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { DeepReadonly } from '../store/index.js';
import { parseConstraintText, type Constraint } from '../../spec/constraints.js';

export type NodeView = DeepReadonly<baton.Node.$Properties>;

export type { Constraint };

/** Throws INVALID_ARGUMENT naming the constraint and the expected forms. */
export function parseConstraint(input: string): Constraint {
  const parsed = parseConstraintText(input);
  if (!parsed.ok) throw new BatonError('INVALID_ARGUMENT', parsed.problem);
  return parsed.value;
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
