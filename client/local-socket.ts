// Who may use a node's local socket, and what a client is told when it may not. The socket
// serves the control API without asking for a certificate, so the node makes it root's (its
// user's), shared with one group: `baton` by default, as Docker's `docker` group, when that
// group exists. A client that lacks the right is told so, not that no node runs.
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { BatonError } from '../rpc/errors.js';

export const DEFAULT_SOCKET_GROUP = 'baton';

/** The numeric ID of a group from /etc/group (Node has no getgrnam), if the group exists. */
export function groupId(name: string): number | undefined {
  const row = groups().find((g) => g.name === name);
  return row?.gid;
}

/** What stat says of the socket path: there, absent, or hidden from this user. */
export function socketAccess(path: string): 'present' | 'missing' | 'denied' {
  try {
    statSync(path);
    return 'present';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'denied' : 'missing';
  }
}

/** The one line for a user who may not use the socket; names the group the node shares it with. */
export function socketPermissionDenied(path: string): BatonError {
  return new BatonError('PERMISSION_DENIED', `permission denied on ${path} (run as root or as a member of group ${sharingGroup(path)})`);
}

/** The socket's group if this user may see it, else its data dir's (the node gives both the same), else the default. */
function sharingGroup(path: string): string {
  for (const p of [path, dirname(path)]) {
    try {
      const gid = statSync(p).gid;
      if (gid === 0) continue;
      const name = groups().find((g) => g.gid === gid)?.name;
      if (name) return name;
    } catch {
      // Hidden from this user: try the next.
    }
  }
  return DEFAULT_SOCKET_GROUP;
}

function groups(): Array<{ name: string; gid: number }> {
  let text: string;
  try {
    text = readFileSync('/etc/group', 'utf8');
  } catch {
    return [];
  }
  const rows: Array<{ name: string; gid: number }> = [];
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name && gid !== undefined && /^\d+$/.test(gid)) rows.push({ name, gid: Number(gid) });
  }
  return rows;
}
