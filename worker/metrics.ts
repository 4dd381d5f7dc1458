// A node's own metrics (every node, manager or worker): the tasks its agent holds, how long its
// executor's calls take, and the round trip of its heartbeats to the managers. Prometheus'
// format through prom-client; the manager's metrics are manager/metrics.ts.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { baton } from '../proto/gen/baton.js';
import { taskStateName } from '../spec/index.js';

const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const HEARTBEAT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class NodeMetrics {
  private readonly calls: Histogram<'runtime' | 'call' | 'result'>;
  private readonly heartbeats: Histogram;
  private readonly heartbeatFailures: Counter;
  private taskStates: () => readonly baton.TaskState[] = () => [];

  constructor(registry: Registry) {
    const read = (): readonly baton.TaskState[] => this.taskStates();
    registry.registerMetric(
      new Gauge({
        name: 'baton_agent_tasks',
        help: "Tasks this node's agent holds, by state.",
        labelNames: ['state'],
        registers: [],
        collect() {
          this.reset();
          const counts = new Map<string, number>();
          for (const s of read()) counts.set(taskStateName(s), (counts.get(taskStateName(s)) ?? 0) + 1);
          for (const [state, n] of counts) this.set({ state }, n);
        },
      }),
    );
    this.calls = new Histogram({
      name: 'baton_executor_call_duration_seconds',
      help: "Calls into this node's executors (prepare, start, shutdown, remove, ...), by runtime and outcome.",
      labelNames: ['runtime', 'call', 'result'],
      buckets: CALL_BUCKETS,
      registers: [registry],
    });
    this.heartbeats = new Histogram({
      name: 'baton_agent_heartbeat_rtt_seconds',
      help: 'Round trip of this node’s heartbeats to a manager (forwarding to the leader included).',
      buckets: HEARTBEAT_BUCKETS,
      registers: [registry],
    });
    this.heartbeatFailures = new Counter({ name: 'baton_agent_heartbeat_failures_total', help: 'Heartbeats that got no answer.', registers: [registry] });
  }

  /** Where the task states come from, once the agent runs. */
  readTasksFrom(states: () => readonly baton.TaskState[]): void {
    this.taskStates = states;
  }

  observeExecutorCall(runtime: string, call: string, seconds: number, ok: boolean): void {
    this.calls.observe({ runtime, call, result: ok ? 'ok' : 'error' }, seconds);
  }

  observeHeartbeat(seconds: number | undefined): void {
    if (seconds === undefined) this.heartbeatFailures.inc();
    else this.heartbeats.observe(seconds);
  }
}
