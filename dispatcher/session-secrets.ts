// The secrets and configs of one node's session: a node gets exactly those its
// assigned tasks reference, nothing else. They go out with the full set, then with the first
// change that makes a task need one (in the same message as that task, so the agent has the
// data before it prepares the task); a `removed_*` id follows once no task of the node needs it.
// A task needs them while it is meant to run (desired state up to RUNNING); once it is to stop,
// its files are already in place and the agent removes them when the task ends.
//
// Secret data is sealed in the store; `unseal` (given by the composition root, which holds the
// managers' key) opens it for the stream, which is mTLS. Nothing here keeps clear data: each
// message is built from the store when sent.
import { baton } from '../proto/gen/baton.js';
import type { ClusterStore, Stored } from '../manager/store/index.js';

export type Unseal = (sealed: Uint8Array) => Uint8Array;

/** The part of a SessionMessage this module fills in. */
export type DataParts = Pick<baton.internal.SessionMessage.$Properties, 'secrets' | 'configs' | 'removedSecrets' | 'removedConfigs'>;

type Task = Stored<'task'>;

interface Refs {
  secrets: string[];
  configs: string[];
}

const NONE: Refs = { secrets: [], configs: [] };

/** What a task on this node needs now. */
function refsOf(task: Task, nodeId: string): Refs {
  if (task.nodeId !== nodeId || (task.desiredState ?? 0) > baton.TaskState.TASK_RUNNING) return NONE;
  const c = task.spec?.container;
  return {
    secrets: (c?.secrets ?? []).map((r) => r.secretId ?? '').filter(Boolean),
    configs: (c?.configs ?? []).map((r) => r.configId ?? '').filter(Boolean),
  };
}

/** Reference counts by id, and which ids came or went since the last message. */
class Counted {
  private readonly counts = new Map<string, number>();
  readonly added = new Set<string>();
  readonly removed = new Set<string>();

  add(id: string): void {
    const n = this.counts.get(id) ?? 0;
    this.counts.set(id, n + 1);
    if (n > 0) return;
    if (!this.removed.delete(id)) this.added.add(id);
  }

  drop(id: string): void {
    const n = this.counts.get(id) ?? 0;
    if (n <= 1) {
      this.counts.delete(id);
      if (!this.added.delete(id)) this.removed.add(id);
    } else this.counts.set(id, n - 1);
  }

  all(): string[] {
    return [...this.counts.keys()];
  }

  clear(): void {
    this.counts.clear();
    this.settled();
  }

  settled(): void {
    this.added.clear();
    this.removed.clear();
  }
}

export class SessionSecrets {
  private readonly byTask = new Map<string, Refs>();
  private readonly secrets = new Counted();
  private readonly configs = new Counted();

  constructor(
    private readonly store: ClusterStore,
    private readonly nodeId: string,
    private readonly unseal: Unseal,
    private readonly warn: (message: string, secretId: string) => void,
  ) {}

  /** For a full message: everything the node's tasks need. */
  full(tasks: readonly Task[]): DataParts {
    this.byTask.clear();
    this.secrets.clear();
    this.configs.clear();
    for (const t of tasks) this.track(t);
    this.secrets.settled();
    this.configs.settled();
    return { secrets: this.secretData(this.secrets.all()), configs: this.configData(this.configs.all()) };
  }

  /** A task of the node changed, arrived (`gone` false) or left it (`gone` true). */
  track(task: Task, gone = false): void {
    const id = task.meta.id;
    const before = this.byTask.get(id) ?? NONE;
    const after = gone ? NONE : refsOf(task, this.nodeId);
    if (after.secrets.length + after.configs.length > 0) this.byTask.set(id, after);
    else this.byTask.delete(id);
    for (const s of after.secrets) this.secrets.add(s);
    for (const c of after.configs) this.configs.add(c);
    for (const s of before.secrets) this.secrets.drop(s);
    for (const c of before.configs) this.configs.drop(c);
  }

  /** Whether the next incremental message has something of ours to say. */
  pending(): boolean {
    return this.secrets.added.size + this.secrets.removed.size + this.configs.added.size + this.configs.removed.size > 0;
  }

  /** For an incremental message: what came and went since the last one. */
  flush(): DataParts {
    if (!this.pending()) return {};
    const parts: DataParts = {
      secrets: this.secretData([...this.secrets.added]),
      configs: this.configData([...this.configs.added]),
      removedSecrets: [...this.secrets.removed],
      removedConfigs: [...this.configs.removed],
    };
    this.secrets.settled();
    this.configs.settled();
    return parts;
  }

  /** Secrets with their data in clear; one that is gone meanwhile is left out (its task will be rejected). */
  private secretData(ids: string[]): baton.Secret.$Properties[] {
    const out: baton.Secret.$Properties[] = [];
    for (const id of ids) {
      const s = this.store.get('secret', id);
      if (!s) continue;
      let data: Uint8Array;
      try {
        data = this.unseal(s.spec?.data ?? new Uint8Array(0));
      } catch (err) {
        this.warn(`cannot unseal the secret: ${err instanceof Error ? err.message : String(err)}`, id);
        continue;
      }
      out.push({ meta: s.meta as baton.Meta.$Properties, spec: { annotations: (s.spec?.annotations ?? null) as baton.Annotations.$Properties | null, data } });
    }
    return out;
  }

  private configData(ids: string[]): baton.Config.$Properties[] {
    const out: baton.Config.$Properties[] = [];
    for (const id of ids) {
      const c = this.store.get('config', id);
      if (c) out.push(c as baton.Config);
    }
    return out;
  }
}
