// Task labels that both the leader's loops and the dispatcher read (the dispatcher may import
// only manager/store). Task annotations are the manager's own notes: workers ignore them.

/**
 * On a task on its way out that still runs: the time (ms) it was taken out of the routing mesh.
 * It gets no new connection from then on, and is stopped a moment later, once every node's
 * mesh has the table without it and its last requests have been answered.
 */
export const MESH_DRAIN_LABEL = 'baton.mesh-drain';
