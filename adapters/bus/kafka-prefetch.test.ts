import { describe, expect, it } from 'vitest';
import { Admission, CommitQueue } from './kafka/prefetch.js';

describe('CommitQueue (prefetch commits)', () => {
  it('commits a partition only up to its first call not resolved, whatever order calls resolve in', () => {
    const q = new CommitQueue();
    const a = q.open('0:t', 0n, 10n);
    const b = q.open('0:t', 10n, 20n);
    const c = q.open('0:t', 20n, 30n);
    const other = q.open('1:t', 0n, 5n);
    expect(q.settle(c)).toBe(false); // a and b still in flight: nothing past offset 0 is stored for sure
    expect(q.settle(b)).toBe(false);
    expect(q.take()).toEqual(new Map());
    expect(q.settle(other)).toBe(true);
    expect(q.settle(a)).toBe(true);
    expect(q.take()).toEqual(new Map([['0:t', 30n], ['1:t', 5n]]));
    expect(q.take()).toEqual(new Map());
  });

  it('an abandoned call voids its partition\'s later calls and says where to read again; other partitions go on', () => {
    const q = new CommitQueue();
    const a = q.open('0:t', 0n, 10n);
    const b = q.open('0:t', 10n, 20n);
    const c = q.open('0:t', 20n, 30n);
    const other = q.open('1:t', 0n, 5n);
    expect(q.settle(a)).toBe(true);
    expect(q.abandon(b)).toBe(10n); // the oldest unsettled call's first offset
    expect(q.settle(c)).toBe(false); // stored, but past the abandoned call: never committed
    expect(q.abandon(c)).toBe(null);
    expect(q.settle(other)).toBe(true);
    expect(q.take()).toEqual(new Map([['0:t', 10n], ['1:t', 5n]]));
    // The partition read again from 10 starts a fresh queue.
    const again = q.open('0:t', 10n, 30n);
    expect(q.settle(again)).toBe(true);
    expect(q.take()).toEqual(new Map([['0:t', 30n]]));
  });

  it('a new generation voids every call in flight and every position not committed yet', () => {
    const q = new CommitQueue();
    const a = q.open('0:t', 0n, 10n);
    const b = q.open('0:t', 10n, 20n);
    q.settle(a);
    q.reset();
    expect(q.settle(b)).toBe(false);
    expect(q.take()).toEqual(new Map());
  });

  it('a failed commit is retried with the next one unless a later position was earned meanwhile', () => {
    const q = new CommitQueue();
    const a = q.open('0:t', 0n, 10n);
    const b = q.open('0:t', 10n, 20n);
    const c = q.open('1:t', 0n, 5n);
    q.settle(a);
    q.settle(c);
    const failed = q.take();
    q.settle(b);
    q.restore(failed);
    expect(q.take()).toEqual(new Map([['0:t', 20n], ['1:t', 5n]]));
  });
});

describe('Admission (prefetch bound)', () => {
  it('admits one call beyond the limit when nothing is in flight, then waits for room', async () => {
    const a = new Admission(10);
    expect(await a.admit(25, async () => true)).toBe(true);
    let admitted = false;
    const waiting = a.admit(5, async () => true).then((ok) => (admitted = ok));
    await new Promise((r) => setImmediate(r));
    expect(admitted).toBe(false);
    a.release(25);
    await waiting;
    expect(admitted).toBe(true);
    expect(a.records).toBe(5);
  });

  it('gives up, admitting nothing, when its tick says so (stopped, rebalancing)', async () => {
    const a = new Admission(10);
    await a.admit(10, async () => true);
    const waiting = a.admit(1, async () => false);
    a.release(0); // a wake-up with no room
    expect(await waiting).toBe(false);
    expect(a.records).toBe(10);
  });
});
