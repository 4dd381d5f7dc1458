// Errors the Raft driver hands to its callers. Each has a stable code that servers map to
// their own status codes (gRPC, HTTP, CLI exit codes).
export type RaftErrorCode = 'NOT_LEADER' | 'PROPOSAL_DROPPED' | 'LEADERSHIP_LOST' | 'TIMEOUT' | 'STOPPED' | 'CONF_CHANGE_PENDING' | 'INVALID';

export class RaftError extends Error {
  constructor(
    readonly code: RaftErrorCode,
    message: string,
    /** The leader as this node knows it ('' when unknown): where a client should retry. */
    readonly leader = '',
  ) {
    super(message);
    this.name = 'RaftError';
  }
}
