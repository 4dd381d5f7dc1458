// Shared by the executor tests (the process runtime in test/unit, Docker in test/e2e): a task
// spec with every field set, a task's logs as text, and an HTTP GET retried until it answers.
import { randomBytes } from 'node:crypto';
import { ExecutorError, type LogChunk, type TaskRunSpec } from '../../worker/executor/index.js';
import { waitFor } from './wait.js';

let counter = 0;

/** A task of service 'web' on node n-a: unique task ID and slot, neutral defaults, then `over`. */
export function taskSpec(clusterId: string, over: Partial<TaskRunSpec> & Pick<TaskRunSpec, 'runtime'>): TaskRunSpec {
  counter++;
  return {
    taskId: `t${counter}${randomBytes(3).toString('hex')}`,
    serviceId: 'svc1',
    serviceName: 'web',
    slot: counter,
    nodeId: 'n-a',
    clusterId,
    image: '',
    command: [],
    args: [],
    env: [],
    dir: '',
    limits: { nanoCpus: 0, memoryBytes: 0 },
    ports: [],
    stopGraceMs: 5_000,
    ...over,
  };
}

/** Everything a log stream gives, per stream; `check` sees each chunk first. */
export async function collect(logs: AsyncIterable<LogChunk>, check: (c: LogChunk) => void = () => undefined): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  for await (const c of logs) {
    check(c);
    const text = Buffer.from(c.data).toString('utf8');
    if (c.stream === 'stdout') stdout += text;
    else stderr += text;
  }
  return { stdout, stderr };
}

/** The body of a 2xx answer from `url`, asked again while it refuses or fails. */
export async function getText(url: string, timeoutMs = 10_000): Promise<string> {
  const answer = await waitFor(
    `an answer from ${url}`,
    async () => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return { body: await res.text() };
    },
    { timeoutMs, intervalMs: 50 },
  );
  return answer.body;
}

export function codeOf(err: unknown): string | undefined {
  return err instanceof ExecutorError ? err.code : undefined;
}
