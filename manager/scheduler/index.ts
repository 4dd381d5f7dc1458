// The scheduler: the loop (leader only), its pure decision function, and the constraint
// language it shares with the global orchestrator and the control API's validation.
export { Scheduler } from './scheduler.js';
export { placeTasks, scheduleTasks, type Decision } from './schedule.js';
export { NodeLoads } from './loads.js';
export { parseConstraint, parseConstraints, satisfies, type Constraint, type NodeView } from './constraints.js';
export { isAvailable } from './filters.js';
