// A snapshot goes to a follower as a window of chunks in flight (issue 17: a new manager caught
// up in 10 s at 100,000 tasks). Before, the leader sent one chunk per round trip and sent the
// current chunk again on every heartbeat answer, so a transfer longer than a heartbeat ran
// several chains of the same chunks at once. Now: up to snapshotChunksInFlight chunks are
// unacknowledged; a heartbeat sends nothing that is in flight; a chunk is sent again only when
// the follower rejects (it lacks it) or after a resend timeout without progress; a transfer
// never continues with another leader's chunks. The pure core on a network with one tick of
// latency (every message is delivered the tick after it was sent), which the test can make
// lose chosen messages; nothing here depends on speed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { RawNode, bootstrapState } from '../../raft/core/raw-node.js';
import { ConfChangeType, EMPTY, MessageType, type Message, type PersistedState, type Snapshot } from '../../raft/core/types.js';
import { testRaftConfig } from '../lib/raft-config.js';

const CHUNK = 7;
const WINDOW = 4;
const RESEND_TICKS = 6;

const EMPTY_STATE: PersistedState = {
  hardState: { term: 0, vote: '', commit: 0 },
  snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: EMPTY },
  entries: [],
};

class Net {
  readonly nodes = new Map<string, RawNode>();
  /** The snapshot each node installed from a leader. */
  readonly installed = new Map<string, Snapshot>();
  /** Every message put on the wire, lost or not, in order. */
  readonly sent: Message[] = [];
  /** Says which messages are lost (called once per message, when it is sent). */
  lose: (m: Message) => boolean = () => false;
  private wire: Message[] = [];

  add(id: string, state: PersistedState): RawNode {
    const node = new RawNode(testRaftConfig(id, { snapshotChunkSize: CHUNK, snapshotChunksInFlight: WINDOW, snapshotResendTicks: RESEND_TICKS }), state);
    this.nodes.set(id, node);
    return node;
  }

  /** One tick of time: every node ticks, what was sent last tick arrives, answers go out. */
  tick(): void {
    for (const node of this.nodes.values()) node.tick();
    this.flush();
    const arriving = this.wire;
    this.wire = [];
    for (const m of arriving) this.nodes.get(m.to)?.step(m);
    this.flush();
  }

  ticks(n: number): void {
    for (let i = 0; i < n; i++) this.tick();
  }

  /** Ready/advance on every node: entries count as durable at once, messages go on the wire. */
  private flush(): void {
    for (const [id, node] of this.nodes) {
      while (node.hasReady()) {
        const rd = node.ready();
        if (rd.snapshot) this.installed.set(id, rd.snapshot);
        for (const m of [...rd.earlyMessages, ...rd.messages]) {
          this.sent.push(m);
          if (!this.lose(m)) this.wire.push(m);
        }
        node.advance();
      }
    }
  }

  /** The snapshot chunks sent from `from` to `to`, as chunk numbers in sending order. */
  chunks(from: string, to: string): number[] {
    return this.sent.filter((m) => m.type === MessageType.MSG_SNAP && m.from === from && m.to === to).map((m) => m.snapOffset / CHUNK);
  }
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** `id` alone leads; it commits a few entries and compacts them with `data` as its snapshot. */
function soleLeader(net: Net, id: string, data: Uint8Array): RawNode {
  const leader = net.add(id, bootstrapState([id]));
  net.ticks(30);
  assert.equal(leader.status().role, 'leader');
  for (let i = 0; i < 5; i++) leader.propose(enc(`v${i}`));
  net.ticks(2);
  leader.compact(leader.status().applied, data);
  return leader;
}

/** Snapshot bytes of `chunks` chunks, each chunk's bytes telling its number and `tag`. */
function snapshotData(chunks: number, tag: string): Uint8Array {
  return enc(Array.from({ length: chunks }, (_, k) => `${tag}${String(k).padStart(CHUNK - 1, '0')}`).join(''));
}

function addLearner(net: Net, leader: RawNode, id: string): RawNode {
  const node = net.add(id, structuredClone(EMPTY_STATE));
  assert.equal(leader.proposeConfChange({ type: ConfChangeType.ADD_LEARNER, nodeId: id, context: EMPTY }).ok, true);
  return node;
}

/** Ticks until `id` installed a snapshot, at most `max`; returns how many it took. */
function untilInstalled(net: Net, id: string, max: number): number {
  for (let i = 1; i <= max; i++) {
    net.tick();
    if (net.installed.has(id)) return i;
  }
  throw new Error(`${id} installed no snapshot in ${max} ticks; chunks sent: ${net.chunks('a', id).join(',')}`);
}

test('a snapshot of 12 chunks reaches a new member with a window in flight, no chunk sent twice, none lost', () => {
  const net = new Net();
  const data = snapshotData(12, 'a');
  const leader = soleLeader(net, 'a', data);
  addLearner(net, leader, 'd');
  const ticks = untilInstalled(net, 'd', 100);
  net.ticks(5);

  const chunks = net.chunks('a', 'd');
  assert.deepEqual(chunks, Array.from({ length: 12 }, (_, k) => k), 'each chunk once, in order');
  assert.equal(dec(net.installed.get('d')!.data), dec(data), 'the whole snapshot, byte for byte');
  assert.deepEqual(leader.snapshotChunks, { sent: 12, resent: 0, received: 0, ignored: 0 });
  assert.equal(net.nodes.get('d')!.snapshotChunks.ignored, 0);
  // A window, not one chunk per round trip: 12 chunks at one tick of latency each way would
  // take 24 ticks at one in flight (plus the probe that finds d needs a snapshot).
  assert.ok(ticks <= 14, `installed after ${ticks} ticks`);
  // And d goes on with the log after it.
  leader.propose(enc('after'));
  net.ticks(4);
  assert.equal(net.nodes.get('d')!.status().applied, leader.status().applied);
});

test('a lost chunk: the follower rejects the chunks after it, and the leader goes back to it once', () => {
  const net = new Net();
  const data = snapshotData(12, 'a');
  const leader = soleLeader(net, 'a', data);
  addLearner(net, leader, 'd');
  let lost = false;
  net.lose = (m) => {
    if (lost || m.type !== MessageType.MSG_SNAP || m.snapOffset !== 3 * CHUNK) return false;
    lost = true;
    return true;
  };
  untilInstalled(net, 'd', 100);
  assert.ok(lost);

  const chunks = net.chunks('a', 'd');
  const times = (k: number) => chunks.filter((c) => c === k).length;
  assert.equal(times(3), 2, 'the lost chunk sent again, once');
  for (let k = 0; k < 12; k++) assert.ok(times(k) <= 2, `chunk ${k} sent ${times(k)} times`);
  for (let k = 0; k < 3; k++) assert.equal(times(k), 1, `chunk ${k}, acknowledged before the loss, sent once`);
  // Only what was in flight behind the lost chunk (the rest of the window) went twice.
  assert.ok(leader.snapshotChunks.resent <= WINDOW, `${leader.snapshotChunks.resent} chunks sent again`);
  assert.equal(dec(net.installed.get('d')!.data), dec(data));
});

test('a lost last chunk is sent again after the resend timeout, not on every heartbeat', () => {
  const net = new Net();
  const data = snapshotData(6, 'a');
  const leader = soleLeader(net, 'a', data);
  addLearner(net, leader, 'd');
  let lostAt = -1;
  let tick = 0;
  net.lose = (m) => {
    if (lostAt >= 0 || m.type !== MessageType.MSG_SNAP || !m.snapDone) return false;
    lostAt = tick;
    return true;
  };
  for (; tick < 100 && !net.installed.has('d'); tick++) net.tick();
  assert.ok(net.installed.has('d'), 'installed');
  assert.deepEqual(net.chunks('a', 'd'), [0, 1, 2, 3, 4, 5, 5], 'only the lost chunk again');
  // Heartbeats went on every tick meanwhile; the chunk waited for the timeout.
  assert.ok(tick - lostAt >= RESEND_TICKS, `resent ${tick - lostAt} ticks after the loss`);
  assert.equal(dec(net.installed.get('d')!.data), dec(data));
});

test('lost answers: the chunk sent again after the timeout is answered with how far the follower got, and the transfer goes on from there', () => {
  const net = new Net();
  const data = snapshotData(10, 'a');
  const leader = soleLeader(net, 'a', data);
  addLearner(net, leader, 'd');
  // Every answer to the first window is lost.
  let lostAnswers = 0;
  net.lose = (m) => m.type === MessageType.MSG_SNAP_RESP && !m.snapDone && lostAnswers < WINDOW && ++lostAnswers > 0;
  untilInstalled(net, 'd', 100);
  const chunks = net.chunks('a', 'd');
  // The first window, chunk 0 again at the timeout (a duplicate, answered with d's position:
  // 4 chunks held), then the rest once each.
  assert.deepEqual(chunks, [0, 1, 2, 3, 0, 4, 5, 6, 7, 8, 9]);
  assert.equal(net.nodes.get('d')!.snapshotChunks.ignored, 1, 'the duplicate was not taken');
  assert.equal(dec(net.installed.get('d')!.data), dec(data));
});

test('a transfer cut by a leader change starts over with the new leader\'s snapshot, never mixing the two', () => {
  const net = new Net();
  // Three voters; d joins as a learner while the first leader leads.
  const members = ['a', 'b', 'c'];
  for (const id of members) net.add(id, bootstrapState(members));
  const leaderNow = () => [...net.nodes.values()].find((n) => n.status().role === 'leader');
  for (let i = 0; i < 60 && !leaderNow(); i++) net.tick();
  const first = leaderNow();
  assert.ok(first, 'a leader');
  const next = net.nodes.get(members.find((id) => id !== first.id)!)!;
  for (let i = 0; i < 5; i++) first.propose(enc(`v${i}`));
  net.ticks(3);
  // Every member compacts at the same index; their snapshots hold the same state but not the
  // same bytes (as two members' encodings of one state may differ in order).
  const index = first.status().applied;
  for (const id of members) {
    const n = net.nodes.get(id)!;
    assert.equal(n.status().applied, index);
    n.compact(index, snapshotData(12, id));
  }
  addLearner(net, first, 'd');
  // The first leader gets a few chunks through, then hands over; the new leader's first chunk
  // to d is lost.
  for (let i = 0; i < 50 && net.chunks(first.id, 'd').length < 5; i++) net.tick();
  assert.ok(net.chunks(first.id, 'd').length >= 5, 'the first leader sent part of its snapshot');
  assert.equal(net.installed.has('d'), false);
  let lostFirst = false;
  net.lose = (m) => {
    if (m.from === first.id && m.to === 'd') return true; // its last chunks are lost with its leadership
    if (lostFirst || m.from !== next.id || m.type !== MessageType.MSG_SNAP) return false;
    lostFirst = true;
    return true;
  };
  assert.ok(first.transferLeadership(next.id));
  for (let i = 0; i < 100 && !net.installed.has('d'); i++) net.tick();
  assert.equal(next.status().role, 'leader');
  assert.ok(lostFirst, 'the new leader sent d chunks, the first lost');

  const installed = net.installed.get('d');
  assert.ok(installed, 'd installed a snapshot');
  assert.equal(dec(installed.data), dec(snapshotData(12, next.id)), 'all of it the new leader\'s');
  const fromNext = net.chunks(next.id, 'd');
  assert.equal(fromNext[0], 0, 'the new leader started at the first chunk');
  assert.ok(fromNext.includes(0, 1), 'and went back to it after d rejected the chunks after the lost one');
  next.propose(enc('after'));
  net.ticks(4);
  assert.equal(net.nodes.get('d')!.status().applied, next.status().applied);
});
