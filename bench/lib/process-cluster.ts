// What our KV cluster and etcd have in common as benchmark peers: members that are child
// processes on 127.0.0.1, killed with SIGKILL and relaunched from their data dirs.
import type { Agent } from 'node:http';
import type { ManagedProcess } from './proc.js';

export interface ProcessMember {
  agent: Agent;
  proc: ManagedProcess | undefined;
}

export abstract class ProcessCluster<M extends ProcessMember> {
  protected readonly members: M[] = [];

  /** (Re)start member i from its data dir. */
  protected abstract launch(i: number): Promise<void>;

  running(member: number): boolean {
    return this.members[member]?.proc?.running ?? false;
  }

  pids(): number[] {
    return this.members.flatMap((m) => (m.proc?.running && m.proc.pid !== undefined ? [m.proc.pid] : []));
  }

  kill(member: number): void {
    this.members[member]!.proc?.signal('SIGKILL');
  }

  async restart(member: number): Promise<void> {
    const m = this.members[member]!;
    // restart() follows kill(): the exit event may still be on its way.
    if (m.proc) await m.proc.exited;
    await this.launch(member);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map(async (m) => m.proc?.stop()));
    for (const m of this.members) m.agent.destroy();
  }

  /** Log files of a member (for error reports). */
  logTail(member: number): string {
    return this.members[member]?.proc?.logTail() ?? '';
  }
}
