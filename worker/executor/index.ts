// The worker's executors behind one interface (./types.ts): the agent picks one per task by
// TaskRunSpec.runtime and drives prepare → start → wait → shutdown → remove through it.
export {
  ExecutorError,
  taskName,
  type Executor,
  type ExecutorErrorCode,
  type LogChunk,
  type LogOptions,
  type PortBinding,
  type TaskObservation,
  type TaskRunSpec,
} from './types.js';
export { createDockerExecutor, type DockerExecutorOptions } from './docker.js';
export { LABEL as DOCKER_LABELS } from './docker-spec.js';
export { createProcessExecutor, ADOPTED_EXIT_UNKNOWN, type ProcessExecutorOptions } from './process.js';
