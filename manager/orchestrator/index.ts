// The leader-only loops that keep services running: the replicated, global and job
// orchestrators (with the restart supervisor and node-down/drain handling inside them), the
// rolling updater, the scheduler and the rebalancer. `orchestrationLoops` builds the six for
// Manager.addLeaderLoop.
import { Scheduler } from '../scheduler/scheduler.js';
import { GlobalOrchestrator } from './global.js';
import type { LoopOptions, OrchestratorHost } from '../reconcile/host.js';
import { ReplicatedOrchestrator } from './replicated.js';
import { Updater } from './update/updater.js';
import { JobOrchestrator } from './job/orchestrator.js';
import { Rebalancer } from './rebalance/loop.js';

export { type OrchestratorHost, type LoopOptions, type TimerApi } from '../reconcile/host.js';
export { ReconcileLoop } from '../reconcile/loop.js';
export { ReplicatedOrchestrator } from './replicated.js';
export { GlobalOrchestrator } from './global.js';
export { JobOrchestrator } from './job/orchestrator.js';
export { firstJobStatus, isJobSpec, modeName } from './job/status.js';
export { TASK_HISTORY_LIMIT } from './instance.js';
export { DEFAULT_RESTART_DELAY_MS, EXITED_LABEL, RESTARTS_LABEL, decideRestart, type RestartDecision } from './restart.js';
export { isFinished, isWanted, isActive, newTaskId } from '../reconcile/tasks.js';
export { Scheduler, Updater, Rebalancer };
export { planRebalance, type Move, type RebalancePlan } from './rebalance/plan.js';
export { startRebalance } from './rebalance/start.js';
export { isUpToDate } from '../reconcile/fresh.js';

export function orchestrationLoops(host: OrchestratorHost, opts: LoopOptions = {}): [ReplicatedOrchestrator, GlobalOrchestrator, JobOrchestrator, Updater, Scheduler, Rebalancer] {
  return [new ReplicatedOrchestrator(host, opts), new GlobalOrchestrator(host, opts), new JobOrchestrator(host, opts), new Updater(host, opts), new Scheduler(host, opts), new Rebalancer(host, opts)];
}
