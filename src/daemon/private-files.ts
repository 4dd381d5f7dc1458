// Who may read a node's files and use its socket. The data dir holds the node's private key, the
// managers' sealing key and the Raft log (the whole cluster state): only the node's own user
// may read it, as ssh insists for its keys and Docker for /var/lib/docker/swarm. The local
// socket is the control API with no certificate asked, so it is root's, shared with one group
// (`baton` by default, as Docker's `docker` group) when that group exists; its members may
// cross the data dir (mode 0710) to reach the socket but list and read nothing in it.
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BatonError } from '../../rpc/errors.js';
import { storageCause } from '../../raft/index.js';

/** The files that are secrets in themselves: a copy of one is enough to impersonate the node or the managers. */
export const KEY_FILES = ['tls/node.key', 'tls/pending.json', 'manager.key', 'keys.pending'];

/** The node's own state under the data dir, tightened at every start (files of an older version, LevelDB's own). */
const OWN_TREES = ['node.json', 'tls', 'manager.key', 'keys.pending', 'raft', 'tasks/agent-db'];

/** What may be in a data dir before init or join writes it: the node's own entries, a mount point's lost+found. */
const NODE_ENTRIES = new Set(['node.json', 'tls', 'manager.key', 'keys.pending', 'raft', 'tasks', 'baton.sock', 'lost+found']);

/** A walk of the node's own trees stops here: they hold a few hundred files at most. */
const MAX_FILES = 100_000;

/**
 * A data dir about to be written for the first time (init or join): created, or, when it was
 * already there empty (made by mkdir, a package, a mount point), its mode tightened to 0700
 * (0710 with the socket's group). A dir with anything else in it is refused.
 */
export function makePrivate(path: string, socketGroup: number | undefined): void {
  // Only a dir that is empty or holds what a node writes (an init that died before node.json)
  // is taken over: tightening /var/lib, a shared dir or a sticky /tmp would lock others out.
  if (existsSync(path) && !statSync(path).isDirectory()) {
    throw new BatonError('FAILED_PRECONDITION', `data dir ${path} is not a directory: give a new or empty directory`);
  }
  const foreign = existsSync(path) ? readdirSync(path).filter((name) => !NODE_ENTRIES.has(name)) : [];
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).map((n) => JSON.stringify(n)).join(', ');
    throw new BatonError(
      'FAILED_PRECONDITION',
      `data dir ${path} is not empty and holds no baton node (it has ${shown}${foreign.length > 3 ? `, and ${foreign.length - 3} more` : ''}): give a new or empty directory`,
    );
  }
  restrictDir(path, socketGroup);
}

/** Creates the dir, or sets its mode: 0700, or 0710 when the socket's group may cross it. */
function restrictDir(path: string, socketGroup: number | undefined): void {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    const group = sharedWith(path, socketGroup);
    chmodSync(path, group === undefined ? 0o700 : 0o710);
  } catch (err) {
    const cause = storageCause(err, path);
    throw new BatonError('FAILED_PRECONDITION', `cannot make data dir ${path} private: ${cause.line}${cause.fix ? `; ${cause.fix}` : ''}`);
  }
}

/**
 * Refuses, in one line naming every problem and its fix, a data dir that group or others may
 * read or write, or a key file they may read or write at all: another user could copy the
 * keys, or the log with the cluster's state in it. The node never loosens these itself, so
 * a loose mode was set by someone, and silently undoing it would hide that.
 */
export function checkPrivate(path: string): void {
  const problems: string[] = [];
  const fixes: string[] = [];
  let dir;
  try {
    dir = statSync(path);
  } catch (err) {
    const cause = storageCause(err, path);
    throw new BatonError('FAILED_PRECONDITION', `cannot read data dir ${path}: ${cause.line}${cause.fix ? `; ${cause.fix}` : ''}`);
  }
  // Group or others may cross the dir (x) to reach the socket; only listing and writing matter.
  if ((dir.mode & 0o066) !== 0) {
    problems.push(`data dir ${path} has mode ${octal(dir.mode)}, open to ${who(dir.mode)}`);
    fixes.push(`chmod 700 ${path}`);
  }
  for (const name of KEY_FILES) {
    const file = join(path, name);
    let mode: number;
    try {
      // The file a link names is what others could read: a key kept elsewhere behind a symlink
      // is judged by its own mode.
      mode = statSync(file).mode;
    } catch {
      continue;
    }
    if ((mode & 0o077) !== 0) {
      problems.push(`key file ${file} has mode ${octal(mode)}, open to ${who(mode)}`);
      fixes.push(`chmod 600 ${file}`);
    }
  }
  if (problems.length > 0) {
    throw new BatonError('FAILED_PRECONDITION', `${problems.join('; ')}: not starting with keys others can read; run ${fixes.join(' && ')}`);
  }
}

/**
 * Brings the node's own files to 0600 and their dirs to 0700: LevelDB and a previous version
 * created some with the process umask. The daemon runs with umask 077, so this finds nothing
 * to do on a data dir it created.
 */
export function tightenOwnFiles(path: string): void {
  let seen = 0;
  const visit = (p: string): void => {
    if (++seen > MAX_FILES) return;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      if ((st.mode & 0o077) !== 0) chmodSync(p, 0o700);
      for (const name of readdirSync(p)) visit(join(p, name));
    } else if (st.isFile() && (st.mode & 0o077) !== 0) {
      chmodSync(p, 0o600);
    }
  };
  for (const tree of OWN_TREES) {
    const p = join(path, tree);
    if (existsSync(p)) visit(p);
  }
  // The tasks' own dirs (working dirs of process tasks) are theirs: only the dirs above them.
  for (const dir of ['tasks', 'tasks/process']) {
    const p = join(path, dir);
    if (existsSync(p) && (lstatSync(p).mode & 0o077) !== 0) chmodSync(p, 0o700);
  }
}

/** The socket: 0660 and the group's when there is one, else 0600 (the node's user only). */
export function shareSocket(path: string, socketGroup: number | undefined): void {
  const group = sharedWith(path, socketGroup);
  chmodSync(path, group === undefined ? 0o600 : 0o660);
}

/** Gives `path` to the group; undefined when there is none or we may not (not root, not a member). */
function sharedWith(path: string, socketGroup: number | undefined): number | undefined {
  if (socketGroup === undefined) return undefined;
  try {
    chownSync(path, statSync(path).uid, socketGroup);
    return socketGroup;
  } catch {
    return undefined;
  }
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

function who(mode: number): string {
  const parts: string[] = [];
  if (mode & 0o060) parts.push('group');
  if (mode & 0o006) parts.push('others');
  if (mode & 0o011 && parts.length === 0) parts.push('group/others');
  return parts.join(' and ');
}

/** A data dir a node ran from before: refused if loose (checkPrivate), else its own files tightened. */
export function reopenPrivate(path: string, socketGroup: number | undefined): void {
  checkPrivate(path);
  // Also brings the group's crossing right in line with the group as it is now.
  restrictDir(path, socketGroup);
  tightenOwnFiles(path);
}
