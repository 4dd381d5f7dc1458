// Placement preferences, as Docker's scheduler applies them: `spread=node.labels.zone` makes a
// tree whose branches are the label's values (nodes without the label are one more branch), the
// next preference splits each branch again, and tasks go down the branch that holds the fewest
// tasks of the service; at the leaves the usual least-loaded order picks the node. Placing one
// task at a time down that tree splits a burst evenly over the branches, as Docker's division
// of a task group does.
//
// A branch counts the service's tasks on all its eligible nodes (those that pass filters 1-3),
// and only branches with a node that can take the task now (filters 4-5, max replicas) are
// candidates: a zone whose nodes are full is passed over rather than waited for.
import type { NodeView } from './constraints.js';
import type { NodeLoad } from './filters.js';

const NODE_LABELS = 'node.labels.';
const ENGINE_LABELS = 'engine.labels.';

/** The node's value for a spread descriptor; '' (its own branch) when it has no such label. */
export function spreadValue(node: NodeView, descriptor: string): string {
  if (descriptor === 'node.id') return node.meta?.id ?? '';
  if (descriptor === 'node.hostname') return node.description?.hostname ?? '';
  const [labels, key] = descriptor.startsWith(NODE_LABELS)
    ? [node.spec?.annotations?.labels, descriptor.slice(NODE_LABELS.length)]
    : descriptor.startsWith(ENGINE_LABELS)
      ? [node.description?.engineLabels, descriptor.slice(ENGINE_LABELS.length)]
      : [undefined, ''];
  return labels && Object.prototype.hasOwnProperty.call(labels, key) ? (labels[key] ?? '') : '';
}

interface Branch {
  value: string;
  /** Tasks of the service on every eligible node of the branch. */
  tasks: number;
  eligible: NodeLoad[];
  fits: NodeLoad[];
}

/** Fewest tasks of the service first; ties in the order of the values, the unlabelled branch last. */
function lessLoaded(a: Branch, b: Branch): boolean {
  if (a.tasks !== b.tasks) return a.tasks < b.tasks;
  if ((a.value === '') !== (b.value === '')) return b.value === '';
  return a.value < b.value;
}

/**
 * The nodes a task of `serviceId` may go to once the preferences have chosen their branch:
 * a subset of `fits` (the nodes that can take it now). `eligible`: the nodes that pass filters 1-3.
 */
export function spreadChoice(eligible: readonly NodeLoad[], fits: readonly NodeLoad[], serviceId: string, descriptors: readonly string[]): readonly NodeLoad[] {
  let scopeEligible = eligible;
  let scopeFits = fits;
  for (const descriptor of descriptors) {
    if (scopeFits.length <= 1) break;
    const branches = new Map<string, Branch>();
    const branchOf = (load: NodeLoad): Branch => {
      const value = spreadValue(load.node, descriptor);
      let b = branches.get(value);
      if (b === undefined) branches.set(value, (b = { value, tasks: 0, eligible: [], fits: [] }));
      return b;
    };
    for (const load of scopeEligible) {
      const b = branchOf(load);
      b.tasks += load.ofService(serviceId);
      b.eligible.push(load);
    }
    for (const load of scopeFits) branchOf(load).fits.push(load);
    let best: Branch | undefined;
    for (const b of branches.values()) if (b.fits.length > 0 && (best === undefined || lessLoaded(b, best))) best = b;
    if (best === undefined) break;
    scopeEligible = best.eligible;
    scopeFits = best.fits;
  }
  return scopeFits;
}
