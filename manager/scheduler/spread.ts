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
import { LoadHeap } from './heap.js';

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
  /** The branch's eligible nodes (they pass filters 1-3), in id order. */
  members: NodeLoad[];
  /** The next preference's branches; empty at a leaf. */
  children: Branch[];
  /** A leaf's nodes that may still take the group's tasks, least loaded first. */
  heap: LoadHeap | undefined;
  /** No node of the branch can take the group's tasks for the rest of the pass. */
  dead: boolean;
}

/** Fewest tasks of the service first; ties in the order of the values, the unlabelled branch last. */
function byLoad(a: Branch, b: Branch): number {
  if (a.tasks !== b.tasks) return a.tasks - b.tasks;
  if ((a.value === '') !== (b.value === '')) return a.value === '' ? 1 : -1;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/**
 * The nodes one scheduling group (tasks of one service with one spec) may go to, as the tree
 * of its placement preferences (without preferences, one leaf): built once per group and pass
 * from the group's eligible nodes, then asked once per task. Placing one task at a time down
 * the tree and, at the leaf, on its least loaded node gives the same choice as looking at
 * every node for every task, because a node that cannot take one of the group's tasks cannot
 * take a later one either in the same pass (resources only shrink, ports and counts only grow).
 */
export class SpreadTree {
  private readonly root: Branch;
  /** The branches of the last choice, leaf first. */
  private readonly path: Branch[] = [];

  /** `eligible`: the group's nodes in id order. */
  constructor(
    eligible: readonly NodeLoad[],
    private readonly serviceId: string,
    private readonly descriptors: readonly string[],
  ) {
    const ranks = new Map<NodeLoad, number>();
    eligible.forEach((load, i) => ranks.set(load, i));
    const build = (value: string, members: NodeLoad[], level: number): Branch => {
      const branch: Branch = { value, tasks: 0, members, children: [], heap: undefined, dead: false };
      const descriptor = descriptors[level];
      if (descriptor === undefined) {
        branch.heap = new LoadHeap(members, members.map((l) => ranks.get(l)!), serviceId);
        return branch;
      }
      const split = new Map<string, NodeLoad[]>();
      for (const load of members) {
        const v = spreadValue(load.node, descriptor);
        const list = split.get(v);
        if (list === undefined) split.set(v, [load]);
        else list.push(load);
      }
      for (const [v, list] of split) branch.children.push(build(v, list, level + 1));
      return branch;
    };
    this.root = build('', [...eligible], 0);
    this.recount();
  }

  /** Counts every branch's tasks of the service again (another group of the service placed some). */
  recount(): void {
    if (this.descriptors.length === 0) return;
    const visit = (b: Branch): void => {
      b.tasks = 0;
      for (const load of b.members) b.tasks += load.ofService(this.serviceId);
      for (const c of b.children) visit(c);
    };
    visit(this.root);
  }

  /**
   * The node the next task goes to: down the branch with the fewest tasks of the service among
   * those with a node that `fits` (filters 4-6, max replicas), then its least loaded such node.
   * `fits` is asked in that order and a node it refuses is never offered again this pass.
   */
  choose(fits: (load: NodeLoad) => boolean): NodeLoad | undefined {
    this.path.length = 0;
    return this.pick(this.root, fits);
  }

  /** The node choose() returned took a task of the service: its branches count it. */
  placed(): void {
    for (const b of this.path) b.tasks++;
  }

  private pick(b: Branch, fits: (load: NodeLoad) => boolean): NodeLoad | undefined {
    if (b.dead) return undefined;
    if (b.heap !== undefined) {
      for (let top = b.heap.peek(); top !== undefined; top = b.heap.peek()) {
        if (fits(top)) return top;
        b.heap.pop();
      }
    } else {
      // A handful of values (zones, racks): sorting them in place per task allocates nothing.
      b.children.sort(byLoad);
      for (const c of b.children) {
        const got = this.pick(c, fits);
        if (got === undefined) continue;
        this.path.push(c);
        return got;
      }
    }
    b.dead = true;
    return undefined;
  }
}
