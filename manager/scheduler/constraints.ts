// Placement constraints, as in Swarm: node.id, node.hostname, node.role (manager|worker),
// node.platform.os, node.platform.arch, node.labels.<key> and engine.labels.<key>, each with ==
// or != (the grammar is spec/constraints.ts). Values compare ignoring case (Swarm does too); a
// label that is absent never equals anything, so `node.labels.k!=v` holds on a node without k.
// The platform compares under Docker's names (`x86_64`, `aarch64`: what a compose file says),
// though a node describes itself with Node's (`linux/x64`); Node's names are accepted too.
// The scheduler and the global orchestrator share this code so they agree on eligibility.
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { DeepReadonly } from '../store/index.js';
import { dockerArch, dockerPlatform, parseConstraintText, type Constraint } from '../../spec/constraints.js';

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
    case 'os':
      return dockerPlatform(node.description?.platform ?? '')[0];
    case 'arch':
      return dockerPlatform(node.description?.platform ?? '')[1];
    case 'label':
      return own(node.spec?.annotations?.labels, c.key);
    case 'engine-label':
      return own(node.description?.engineLabels, c.key);
  }
}

function own(labels: DeepReadonly<Record<string, string>> | null | undefined, key: string): string | undefined {
  return labels && Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;
}

export function satisfies(node: NodeView, c: Constraint): boolean {
  const actual = fieldOf(node, c);
  const wanted = c.field === 'arch' ? dockerArch(c.value) : c.value.toLowerCase();
  const equal = actual !== undefined && actual.toLowerCase() === wanted;
  return c.op === '==' ? equal : !equal;
}

/** Why nodes fail `c`, for "N node(s) …": [singular, plural]. */
export function unsatisfiedText(c: Constraint): [string, string] {
  if (c.field === 'label' || c.field === 'engine-label') {
    const label = `${c.field === 'label' ? '' : 'engine '}label ${c.key}==${c.value}`;
    return c.op === '==' ? [`has no ${label}`, `have no ${label}`] : [`has ${label}`, `have ${label}`];
  }
  return [`does not match ${c.text}`, `do not match ${c.text}`];
}
