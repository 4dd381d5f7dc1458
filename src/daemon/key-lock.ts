// Autolock on disk: a manager's key files (tls/node.key, the TLS intent tls/pending.json, and
// manager.key, the managers' sealing key) are written sealed under the unlock key while
// autolock is on (manager/ca/unlock-key.ts), in clear while it is off, as Swarm keeps them. The
// unlock key itself is never written to the data dir: it lives in this process' memory from
// `baton init --autolock`, `baton unlock` or the cluster object (src/daemon/autolock.ts).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isLockedFile, lockFile, openLockedFile, UnlockKeyError } from '../../manager/ca/index.js';
import { BatonError } from '../../rpc/errors.js';
import { KEY_FILES as PRIVATE_FILES } from './private-files.js';

/** The whole set under the new key while DataDir.relock rewrites the files one by one. */
const INTENT = 'keys.pending';
/** The key files, relative to the data dir. */
const KEY_FILES = PRIVATE_FILES.filter((name) => name !== INTENT);

export const LOCKED_MESSAGE = 'this node is locked: run baton unlock';

interface KeySet {
  managerKey?: string | undefined;
  keyPem: string;
}

export class KeyLock {
  /** The unlock key's bytes while autolock is on and this node holds it; undefined otherwise. */
  key: Uint8Array | undefined;

  constructor(
    private readonly dir: string,
    private readonly writeFile: (name: string, data: Uint8Array) => void,
  ) {}

  /** A key file's content, opened with the unlock key when it is sealed. */
  read(name: string): Buffer {
    const raw = readFileSync(join(this.dir, name));
    if (!isLockedFile(raw)) return raw;
    if (!this.key) throw new BatonError('FAILED_PRECONDITION', LOCKED_MESSAGE);
    try {
      return Buffer.from(openLockedFile(this.key, raw));
    } catch (err) {
      if (err instanceof UnlockKeyError) throw new BatonError('FAILED_PRECONDITION', `${join(this.dir, name)}: ${err.message}`);
      throw err;
    }
  }

  /** Writes a key file, sealed when autolock is on. */
  write(name: string, data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? new Uint8Array(Buffer.from(data)) : data;
    this.writeFile(name, this.key ? lockFile(this.key, bytes) : bytes);
  }

  /**
   * Whether the node must be unlocked before it can read its keys. A switch to autolock off
   * that a crash cut short is finished here: its intent is in clear.
   */
  locked(): boolean {
    if (this.key) return false;
    const intent = this.raw(INTENT);
    if (intent && !isLockedFile(intent)) {
      this.finish(JSON.parse(intent.toString()) as KeySet);
      return false;
    }
    return intent !== undefined || KEY_FILES.some((name) => {
      const raw = this.raw(name);
      return raw !== undefined && isLockedFile(raw);
    });
  }

  /**
   * Takes `key` if it opens this node's key files (or the intent of a relock cut short, which
   * is then finished); false when it does not, and the node stays locked.
   */
  unlock(key: Uint8Array): boolean {
    const intent = this.raw(INTENT);
    if (intent) {
      const set = this.tryOpen(key, intent);
      if (set) {
        this.key = key;
        this.finish(JSON.parse(Buffer.from(set).toString()) as KeySet);
        return true;
      }
    }
    const opens = KEY_FILES.every((name) => {
      const raw = this.raw(name);
      return raw === undefined || !isLockedFile(raw) || this.tryOpen(key, raw) !== undefined;
    });
    if (opens) this.key = key;
    return opens;
  }

  /** DataDir.relock's first step: the whole set, under the new key, in one file. */
  begin(key: Uint8Array | undefined, set: { managerKey: Uint8Array | undefined; keyPem: string }): void {
    this.key = key;
    const json: KeySet = { keyPem: set.keyPem, ...(set.managerKey ? { managerKey: Buffer.from(set.managerKey).toString('base64') } : {}) };
    this.write(INTENT, JSON.stringify(json));
  }

  /** DataDir.relock's last step: every file is under the new key. */
  end(): void {
    rmSync(join(this.dir, INTENT), { force: true });
  }

  private finish(set: KeySet): void {
    if (set.managerKey) this.write('manager.key', Buffer.from(set.managerKey, 'base64'));
    this.write('tls/node.key', set.keyPem);
    // A TLS intent (renewal) under another key would no longer open: node.key and the rest are current.
    const tlsIntent = this.raw('tls/pending.json');
    if (tlsIntent && isLockedFile(tlsIntent) && (!this.key || !this.tryOpen(this.key, tlsIntent))) rmSync(join(this.dir, 'tls/pending.json'));
    this.end();
  }

  private raw(name: string): Buffer | undefined {
    const file = join(this.dir, name);
    return existsSync(file) ? readFileSync(file) : undefined;
  }

  private tryOpen(key: Uint8Array, raw: Uint8Array): Uint8Array | undefined {
    try {
      return openLockedFile(key, raw);
    } catch (err) {
      if (err instanceof UnlockKeyError) return undefined;
      throw err;
    }
  }
}
