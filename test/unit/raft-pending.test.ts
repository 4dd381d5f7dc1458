// What a leader's waiting proposals learn when it stops leading: at once, a retryable
// LEADERSHIP_LOST, instead of their deadline (the driver's bookkeeping, pure).
import test from 'node:test';
import assert from 'node:assert/strict';
import { PendingProposals } from '../../raft/pending.js';
import { RaftError } from '../../raft/errors.js';
import { EntryType } from '../../raft/core/types.js';

function waiter(log: string[], name: string) {
  return {
    resolve: (v: string) => log.push(`${name} ok ${v}`),
    reject: (e: Error) => log.push(`${name} ${(e as RaftError).code} ${(e as RaftError).leader}`),
    cancel: () => log.push(`${name} timer stopped`),
  };
}

const entry = (index: number, term: number) => ({ index, term, type: EntryType.ENTRY_NORMAL, data: new Uint8Array() });

test('applied in its own term: the proposer gets the result', () => {
  const log: string[] = [];
  const p = new PendingProposals<string>();
  p.add(5, 2, waiter(log, 'a'));
  p.applied(entry(5, 2), 'r');
  assert.deepEqual(log, ['a timer stopped', 'a ok r']);
  assert.equal(p.size, 0);
});

test('a step-down fails every waiting proposal at once with the new leader as hint', () => {
  const log: string[] = [];
  const p = new PendingProposals<string>();
  p.add(5, 2, waiter(log, 'a'));
  p.add(6, 2, waiter(log, 'b'));
  p.leadershipChanged({ role: 'follower', leader: 'n3' }, 3);
  assert.deepEqual(log, ['a timer stopped', 'a LEADERSHIP_LOST n3', 'b timer stopped', 'b LEADERSHIP_LOST n3']);
  assert.equal(p.size, 0);
});

test('re-elected in a later term: proposals of the earlier term still fail; those of this term wait', () => {
  const log: string[] = [];
  const p = new PendingProposals<string>();
  p.add(5, 2, waiter(log, 'old'));
  p.add(9, 4, waiter(log, 'new'));
  p.leadershipChanged({ role: 'leader', leader: 'me' }, 4);
  assert.deepEqual(log, ['old timer stopped', 'old LEADERSHIP_LOST me']);
  p.applied(entry(9, 4), 'x');
  assert.deepEqual(log.slice(2), ['new timer stopped', 'new ok x']);
});

test('overwritten by another leader\'s entry at the same index: PROPOSAL_DROPPED', () => {
  const log: string[] = [];
  const p = new PendingProposals<string>();
  p.add(5, 2, waiter(log, 'a'));
  p.applied(entry(5, 3), 'r');
  assert.deepEqual(log, ['a timer stopped', 'a PROPOSAL_DROPPED ']);
});
