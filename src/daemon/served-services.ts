// What each of a node's servers serves, as gRPC reflection lists it: the TCP port has the
// internal services too (Raft, CA and Dispatcher on a manager; NodeAgent everywhere), the local
// socket only the control API. A worker's Control answers that it is a worker. Fixed when the
// node starts: a node whose role changes lists its new set once restarted.
import { HEALTH, REFLECTION_V1, REFLECTION_V1ALPHA } from '../../rpc/reflection.js';

const COMMON = ['baton.Control', HEALTH, REFLECTION_V1, REFLECTION_V1ALPHA];

export function servedServices(server: 'tcp' | 'local', role: 'manager' | 'worker'): string[] {
  if (server === 'local') return COMMON;
  const internal = role === 'manager' ? ['baton.internal.CA', 'baton.internal.Dispatcher', 'baton.internal.NodeAgent', 'raftpb.Raft'] : ['baton.internal.NodeAgent'];
  return [...COMMON, ...internal].sort();
}
