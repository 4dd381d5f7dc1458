// Whether a daemon is running on a data dir, asked of its unix socket: the node refuses to start
// twice on one dir (node.ts) and the offline rewrite of a manager's log refuses to run under a
// live daemon (force-new-cluster.ts). Its own module so neither reaches into the other.
import { connect } from 'node:net';

/** Whether a process listens on the unix socket (a stale file from a killed node refuses). */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
