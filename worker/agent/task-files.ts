// Secrets and configs on a node: the data the session brings is kept in memory only
// (never in the agent's LevelDB), and written for each task that uses it into a memory-backed
// directory, `<filesDir>/baton-<node>/<task>/{secrets,configs}/…` (filesDir is /dev/shm, a
// tmpfs), 0700 directories, each file with the reference's mode. Executors mount or point at
// those files (worker/executor/types.ts MountedFiles). A task's directory goes when the task
// ends; on start, directories of tasks the agent no longer has go too.
import { constants } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { baton } from '../../proto/gen/baton.js';
import { ExecutorError, errorMessage, type MountedFiles } from '../executor/types.js';

// statfs(2) f_type of the memory-backed filesystems.
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

const SECRETS_IN_CONTAINER = '/run/secrets';

export const DEFAULT_FILES_DIR = '/dev/shm';

export interface TaskFileSet {
  secrets?: MountedFiles;
  configs?: MountedFiles;
}

/** A secret or config as the agent holds it: name and data, in memory. */
interface Held {
  name: string;
  data: Uint8Array;
}

export class TaskFiles {
  private readonly secrets = new Map<string, Held>();
  private readonly configs = new Map<string, Held>();
  /** Where this node's task directories live. */
  readonly root: string;

  constructor(
    filesDir: string,
    nodeId: string,
    private readonly logger: Logger,
  ) {
    this.root = join(filesDir, `baton-${nodeId}`);
  }

  /** The secrets and configs of a session message: a full one replaces what is held. */
  apply(msg: baton.internal.SessionMessage.$Properties): void {
    if (msg.full) {
      this.secrets.clear();
      this.configs.clear();
    }
    for (const s of msg.secrets ?? []) if (s.meta?.id) this.secrets.set(s.meta.id, held(s));
    for (const c of msg.configs ?? []) if (c.meta?.id) this.configs.set(c.meta.id, held(c));
    for (const id of msg.removedSecrets ?? []) this.secrets.delete(id);
    for (const id of msg.removedConfigs ?? []) this.configs.delete(id);
  }

  /** Writes the task's files (again: idempotent) and says where they are; throws if data is missing. */
  async write(task: baton.Task.$Properties): Promise<TaskFileSet> {
    const taskId = task.meta?.id ?? '';
    const c = task.spec?.container;
    const secretRefs = c?.secrets ?? [];
    const configRefs = c?.configs ?? [];
    if (secretRefs.length + configRefs.length === 0) return {};
    const dir = join(this.root, taskId);
    await this.makeDir(this.root);
    await this.makeDir(dir);
    if (secretRefs.length > 0) await this.checkMemoryBacked();
    const out: TaskFileSet = {};
    if (secretRefs.length > 0) {
      const files: MountedFiles = { dir: join(dir, 'secrets'), files: [] };
      for (const ref of secretRefs) {
        const s = this.secrets.get(ref.secretId ?? '');
        if (!s) throw new ExecutorError('INVALID_SPEC', `secret ${ref.secretName || ref.secretId} is not available on this node`);
        const path = ref.target || s.name;
        await this.writeFile(files.dir, path, s.data, ref.mode || 0o444);
        files.files.push({ path, target: `${SECRETS_IN_CONTAINER}/${path}` });
      }
      out.secrets = files;
    }
    if (configRefs.length > 0) {
      const files: MountedFiles = { dir: join(dir, 'configs'), files: [] };
      for (const ref of configRefs) {
        const cfg = this.configs.get(ref.configId ?? '');
        if (!cfg) throw new ExecutorError('INVALID_SPEC', `config ${ref.configName || ref.configId} is not available on this node`);
        const target = ref.target || `/${cfg.name}`;
        const path = target.replace(/^\/+/, '');
        await this.writeFile(files.dir, path, cfg.data, ref.mode || 0o444);
        files.files.push({ path, target });
      }
      out.configs = files;
    }
    return out;
  }

  /** The task has ended or is gone: its files go. Never throws. */
  async remove(taskId: string): Promise<void> {
    if (!taskId) return;
    await rm(join(this.root, taskId), { recursive: true, force: true }).catch((err: unknown) =>
      this.logger.warn({ taskId, err: errorMessage(err) }, 'could not remove the task\'s secret files'),
    );
  }

  /** On start: directories of tasks the agent does not have any more. Never throws. */
  async sweep(keep: ReadonlySet<string>): Promise<void> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch {
      return;
    }
    for (const taskId of entries) if (!keep.has(taskId)) await this.remove(taskId);
  }

  private async makeDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is masked by the umask and leaves an existing directory as it was.
    await chmod(dir, 0o700);
  }

  /** Secrets go only where memory backs the files: a disk would keep them in clear. */
  private async checkMemoryBacked(): Promise<void> {
    const fs = await statfs(this.root);
    if (fs.type !== TMPFS_MAGIC && fs.type !== RAMFS_MAGIC) {
      throw new ExecutorError('RUNTIME_UNAVAILABLE', `${this.root} is not on a memory-backed filesystem (tmpfs); refusing to write secrets there`);
    }
  }

  /** Written under a temporary name, then renamed: a reader never sees half a file. */
  private async writeFile(dir: string, path: string, data: Uint8Array, mode: number): Promise<void> {
    const file = join(dir, path);
    await this.makeDir(dir);
    if (dirname(file) !== dir) await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, data, { mode: 0o600, flag: constants.O_CREAT | constants.O_TRUNC | constants.O_WRONLY });
    await chmod(tmp, mode);
    await rename(tmp, file);
  }
}

function held(o: baton.Secret.$Properties | baton.Config.$Properties): Held {
  return { name: o.spec?.annotations?.name ?? '', data: o.spec?.data ?? new Uint8Array(0) };
}
