// The values a service gets for what its spec leaves unset (Docker Swarm's defaults). The CLI
// and Compose send them explicitly; the workers and orchestrators read them when a field is 0
// (replicas: an unset count, told from 0 by proto3 `optional`): all take them from here.

/** Tasks of a replicated service created without --replicas. */
export const DEFAULT_REPLICAS = 1;

/** Restart policy: condition any, 5 s between a task's end and its replacement, unlimited attempts, no window. */
export const DEFAULT_RESTART_DELAY_MS = 5_000;
export const DEFAULT_RESTART_MAX_ATTEMPTS = 0;
export const DEFAULT_RESTART_WINDOW_MS = 0;

/** Rolling updates (and rollbacks): one task at a time, no delay, each watched for 5 s, no failure tolerated. */
export const DEFAULT_UPDATE_PARALLELISM = 1;
export const DEFAULT_UPDATE_DELAY_MS = 0;
export const DEFAULT_UPDATE_MONITOR_MS = 5_000;
export const DEFAULT_UPDATE_MAX_FAILURE_RATIO = 0;

/** Health checks (Docker's): every 30 s, 30 s to answer, 3 failures in a row, no start period. */
export const DEFAULT_HEALTH_INTERVAL_MS = 30_000;
export const DEFAULT_HEALTH_TIMEOUT_MS = 30_000;
export const DEFAULT_HEALTH_RETRIES = 3;
export const DEFAULT_HEALTH_START_PERIOD_MS = 0;

/** SIGTERM, then SIGKILL after this when a task is stopped. */
export const DEFAULT_STOP_GRACE_MS = 10_000;

/** The runtime of a task spec that names none. */
export const DEFAULT_RUNTIME = 'docker';
