// A node's data dir: who it is (node.json), its TLS material, and for managers the managers'
// sealing key and the Raft log. Files are written to a temp name, flushed and renamed, so a
// crash never leaves a half-written identity; the TLS files change together (see saveTls).
// Every file is the node's user's alone (0600, see private-files.ts); a write that fails says
// why in one line ("no space left on device on <path>").
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BatonError } from '../../rpc/errors.js';
import { storageCause } from '../../raft/index.js';
import type { NodeTlsMaterial } from '../../rpc/tls/index.js';
import { KeyLock } from './key-lock.js';

export type Role = 'manager' | 'worker';

export interface ManagerPeer {
  nodeId: string;
  addr: string;
}

export interface NodeState {
  nodeId: string;
  clusterId: string;
  role: Role;
  /** host:port the daemon binds. */
  listenAddr: string;
  /** host:port other nodes reach it at. */
  advertiseAddr: string;
  /** Last known managers, to reconnect to after a restart. */
  managers: ManagerPeer[];
  /** The name `--hostname` gave the node, kept so a start without the flag keeps it. */
  hostname?: string;
}

export class DataDir {
  /** Autolock: the key files (TLS key, managers' key) are sealed with the unlock key it holds. */
  readonly lock: KeyLock;

  constructor(readonly path: string) {
    this.lock = new KeyLock(path, (name, data) => this.write(name, data));
  }

  get socketPath(): string {
    return join(this.path, 'baton.sock');
  }

  get raftDir(): string {
    return join(this.path, 'raft');
  }

  exists(): boolean {
    return existsSync(join(this.path, 'node.json'));
  }

  load(): NodeState {
    try {
      return JSON.parse(readFileSync(join(this.path, 'node.json'), 'utf8')) as NodeState;
    } catch (err) {
      throw new BatonError('FAILED_PRECONDITION', `data dir ${this.path} is unreadable: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  save(state: NodeState): void {
    this.write('node.json', JSON.stringify(state, null, 2) + '\n');
  }

  loadTls(): NodeTlsMaterial {
    // A save the process did not live to finish: the intent holds the whole new set.
    if (existsSync(this.tlsIntent)) this.saveTls(JSON.parse(this.lock.read('tls/pending.json').toString()) as NodeTlsMaterial);
    const read = (name: string): string => readFileSync(join(this.path, 'tls', name), 'utf8');
    return { caPem: read('ca.crt'), certPem: read('node.crt'), keyPem: this.lock.read('tls/node.key').toString() };
  }

  /**
   * A renewal brings a new key with its certificate: a crash between renaming one and the other
   * would leave a key that does not match its certificate, and a node that can no longer reach
   * its cluster. So the set is first written whole to one intent file (one rename: there or
   * not), then to the three files the client reads, then the intent goes; loadTls finishes a
   * save found half done.
   */
  saveTls(m: NodeTlsMaterial): void {
    this.lock.write('tls/pending.json', JSON.stringify({ caPem: m.caPem, certPem: m.certPem, keyPem: m.keyPem }));
    this.write('tls/ca.crt', m.caPem);
    this.lock.write('tls/node.key', m.keyPem);
    this.write('tls/node.crt', m.certPem);
    rmSync(this.tlsIntent);
  }

  private get tlsIntent(): string {
    return join(this.path, 'tls', 'pending.json');
  }

  loadManagerKey(): Uint8Array | undefined {
    return existsSync(join(this.path, 'manager.key')) ? new Uint8Array(this.lock.read('manager.key')) : undefined;
  }

  saveManagerKey(key: Uint8Array): void {
    this.lock.write('manager.key', key);
  }

  /** The root certificate alone: readable while the node is locked. */
  loadCaPem(): string {
    return readFileSync(join(this.path, 'tls', 'ca.crt'), 'utf8');
  }

  /**
   * Seal the key files under another unlock key (undefined: in clear). All of them are first
   * written to one intent file under the new key, so a crash half way leaves a set that the new
   * key opens whole (KeyLock.unlock finishes it).
   */
  relock(unlockKey: Uint8Array | undefined): void {
    const managerKey = this.loadManagerKey();
    const tls = this.loadTls();
    this.lock.begin(unlockKey, { managerKey, keyPem: tls.keyPem });
    if (managerKey) this.saveManagerKey(managerKey);
    this.saveTls(tls);
    this.lock.end();
  }

  /** What a demoted manager no longer needs. */
  removeManagerState(): void {
    // Autolock is the managers': a worker's TLS key is kept in clear, as Swarm keeps it.
    if (this.lock.key && existsSync(join(this.path, 'tls', 'node.key'))) this.relock(undefined);
    rmSync(join(this.path, 'manager.key'), { force: true });
    rmSync(this.raftDir, { recursive: true, force: true });
  }

  private write(name: string, data: string | Uint8Array): void {
    const file = join(this.path, name);
    const tmp = `${file}.tmp`;
    try {
      mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
      // A temp file left by a crash may have another mode: start afresh.
      rmSync(tmp, { force: true });
      const fd = openSync(tmp, 'w', 0o600);
      try {
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
    } catch (err) {
      // A half-written temp file is useless and takes space the operator is trying to free.
      try {
        rmSync(tmp, { force: true });
      } catch {
        // The cause below is what matters.
      }
      const cause = storageCause(err, file);
      throw new BatonError('FAILED_PRECONDITION', `cannot save the node's state: ${cause.line}${cause.fix ? `; ${cause.fix}` : ''}`);
    }
  }
}
