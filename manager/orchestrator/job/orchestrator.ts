// The job orchestrator (Swarm's job modes): a leader-only loop like the replicated and global
// ones, driven by the same store watches, for the services they leave alone: replicated jobs
// (./replicated-job.ts) and global jobs (./global-job.ts). Tasks of a deleted job are removed
// by the other two, by slot, as theirs.
import type { StoreChange, Stored } from '../../store/index.js';
import type { LoopOptions, OrchestratorHost } from '../../reconcile/host.js';
import type { PassContext } from '../instance.js';
import { WholeServiceLoop, isJob } from '../service-loop.js';
import { reconcileReplicatedJob } from './replicated-job.js';
import { reconcileGlobalJob } from './global-job.js';

export class JobOrchestrator extends WholeServiceLoop {
  constructor(host: OrchestratorHost, opts: LoopOptions = {}) {
    super(host, 'job-orchestrator', opts);
  }

  protected owns(service: Stored<'service'>): boolean {
    return isJob(service);
  }

  protected ownsTask(): boolean {
    return false;
  }

  protected onChange(c: StoreChange): boolean {
    const store = this.host.store;
    switch (c.kind) {
      case 'service':
        if (!isJob(c.object) && (c.old === undefined || !isJob(c.old))) return false;
        this.markService(c.object.meta.id);
        return true;
      case 'task':
        if (!isJob(store.get('service', c.object.serviceId))) return false;
        this.markService(c.object.serviceId);
        return true;
      case 'node': {
        // Eligibility (global jobs), a node down or drained (both): every job takes a look.
        let any = false;
        for (const s of store.list('service')) {
          if (!isJob(s)) continue;
          this.markService(s.meta.id);
          any = true;
        }
        return any;
      }
      default:
        return false;
    }
  }

  protected reconcileService(ctx: PassContext, tasks: readonly Stored<'task'>[]): number | undefined {
    if (ctx.service.spec?.replicatedJob) return reconcileReplicatedJob(ctx, tasks);
    const warn = (err: Error): void => this.logger.warn({ service: ctx.service.meta.id, err: err.message }, 'global job has an invalid constraint; starting no new tasks');
    return reconcileGlobalJob(ctx, tasks, this.host.store.list('node'), warn);
  }
}
