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
  constructor(readonly path: string) {}

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
    if (existsSync(this.tlsIntent)) this.saveTls(JSON.parse(readFileSync(this.tlsIntent, 'utf8')) as NodeTlsMaterial);
    const read = (name: string): string => readFileSync(join(this.path, 'tls', name), 'utf8');
    return { caPem: read('ca.crt'), certPem: read('node.crt'), keyPem: read('node.key') };
  }

  /**
   * A renewal brings a new key with its certificate: a crash between renaming one and the other
   * would leave a key that does not match its certificate, and a node that can no longer reach
   * its cluster. So the set is first written whole to one intent file (one rename: there or
   * not), then to the three files the client reads, then the intent goes; loadTls finishes a
   * save found half done.
   */
  saveTls(m: NodeTlsMaterial): void {
    this.write('tls/pending.json', JSON.stringify({ caPem: m.caPem, certPem: m.certPem, keyPem: m.keyPem }));
    this.write('tls/ca.crt', m.caPem);
    this.write('tls/node.key', m.keyPem);
    this.write('tls/node.crt', m.certPem);
    rmSync(this.tlsIntent);
  }

  private get tlsIntent(): string {
    return join(this.path, 'tls', 'pending.json');
  }

  loadManagerKey(): Uint8Array | undefined {
    const file = join(this.path, 'manager.key');
    return existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
  }

  saveManagerKey(key: Uint8Array): void {
    this.write('manager.key', key);
  }

  /** What a demoted manager no longer needs. */
  removeManagerState(): void {
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
