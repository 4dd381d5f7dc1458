// The limits of what a service, secret, config, network or node label may hold. They are checked by
// validateServiceSpec (spec/validate.ts) on the leader for every create and update, whoever the
// client is, and by the CLI and Compose before anything is sent. Each exists because a bigger
// value either cannot be stored faithfully (protobuf 64-bit integers arrive in JavaScript as
// doubles: above 2^53 they are rounded, re-encoded they wrap) or would let one request exhaust
// the leader (tasks, timers, Raft entries).

/**
 * Most replicas of one service. Every replica is a task object in the store, on every manager,
 * and in the snapshots; 10,000 keeps a service's tasks a few MB and a full orchestrator pass
 * well under a second, and is above what one baton cluster runs in practice.
 */
export const MAX_REPLICAS = 10_000;

/** Most CPUs a limit or reservation may name: more than any single machine has today. */
export const MAX_CPUS = 1024;
/** NanoCPUs of MAX_CPUS (Docker counts CPUs in billionths). */
export const MAX_NANO_CPUS = MAX_CPUS * 1e9;

/** Largest memory limit or reservation: 16 TiB, beyond the largest single machines. */
export const MAX_MEMORY_BYTES = 16 * 1024 ** 4;

/**
 * Longest duration: Go's (and so Docker's) time.Duration is int64 nanoseconds, about 292
 * years; baton keeps milliseconds and refuses what Go could not hold either.
 */
export const MAX_DURATION_MS = Math.floor((2 ** 63 - 1) / 1e6);

/** Largest count with no limit of its own (restart attempts, health retries, parallelism): fits int32. */
export const MAX_COUNT = 2 ** 31 - 1;

/** A service, secret or config name: a DNS label's length (Docker's limit too). */
export const MAX_NAME_LENGTH = 63;
/** Letters, digits, '_', '.', '-', starting with a letter or digit (Docker's service names). */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Labels on one object, and the length of a key and of a value. */
export const MAX_LABELS = 128;
export const MAX_LABEL_KEY_LENGTH = 256;
export const MAX_LABEL_VALUE_LENGTH = 4096;

/** Environment variables of a task, and the length of one KEY=VALUE. */
export const MAX_ENV = 1000;
/** A program's arguments (command + args) and the length of one (Linux's MAX_ARG_STRLEN is 128 KiB). */
export const MAX_ARGS = 1000;
export const MAX_ARG_LENGTH = 32 * 1024;

/** Placement constraints of a service, and the length of one. */
export const MAX_CONSTRAINTS = 64;
export const MAX_CONSTRAINT_LENGTH = 1024;

/** Published ports of a service (the ingress range holds 2768 in all). */
export const MAX_PORTS = 256;

/**
 * Networks one service may join, and the aliases it may have on one. Each network is a bridge
 * and a DNS server on every node that runs one of its tasks; far above what a service needs.
 */
export const MAX_SERVICE_NETWORKS = 32;
export const MAX_NETWORK_ALIASES = 32;

/**
 * A network's name and an alias: a DNS name component, as swarm's (letters, digits, '-' and
 * '_', starting and ending with a letter or digit; at most MAX_NAME_LENGTH). Written without
 * nested repetition so that a long input cannot make it backtrack.
 */
export const DNS_COMPONENT_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9_-]*[a-zA-Z0-9])?$/;

/** Names Docker keeps for its own networks: `docker network create` refuses them. */
export const PREDEFINED_NETWORKS: readonly string[] = ['bridge', 'host', 'none', 'default'];

/** The one network driver: a cluster-scoped network (Docker's overlay). */
export const NETWORK_DRIVER = 'overlay';

/** Mounts one service may have (--mount): far above real services; each is work at every task's create. */
export const MAX_MOUNTS = 64;
/** Volume options, and volume labels, of one mount. */
export const MAX_MOUNT_OPTIONS = 64;

/** Secrets and configs one service may mount. */
export const MAX_DATA_REFS = 100;

/** Longest image reference or working directory. */
export const MAX_IMAGE_LENGTH = 1024;
export const MAX_PATH_LENGTH = 4096;

/**
 * A whole service spec, encoded: it is one Raft entry, replicated to every manager, and copied
 * into every one of its tasks. Far above any real spec; far below gRPC's 4 MiB message limit.
 */
export const MAX_SERVICE_SPEC_BYTES = 512 * 1024;

/** A secret's or config's data (Docker's limit for both: 500 KiB). */
export const MAX_DATA_BYTES = 500 * 1024;

/**
 * The longest error or message a task's status carries to the managers (a program's last words
 * can be any length). With the reporter's 500 statuses per call, a call stays near 2 MiB, under
 * the 4 MiB message limit, so a batch is never refused for its size and retried for ever.
 */
export const MAX_TASK_STATUS_TEXT = 2048;
