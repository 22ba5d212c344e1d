import { describe, expect, it } from 'vitest';
import type { Bus, OutgoingRecord } from '../core/ports.js';
import { PublishBatcher } from './publish-batcher.js';

/** A bus that records each publish and lets the test settle them one by one. */
function fakeBus() {
  const calls: Array<{ topic: string; keys: string[]; settle: (e?: Error) => void }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const bus = {
    publish: (topic: string, records: OutgoingRecord[]) =>
      new Promise<void>((resolve, reject) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        calls.push({ topic, keys: records.map((r) => r.key), settle: (e) => (inFlight--, e ? reject(e) : resolve()) });
      }),
  } as unknown as Bus;
  return { bus, calls, maxInFlight: () => maxInFlight };
}

const rec = (key: string): OutgoingRecord => ({ key, value: key });
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('PublishBatcher', () => {
  it('joins the publishes of one turn into one bus publish per topic, in call order', async () => {
    const { bus, calls } = fakeBus();
    const b = new PublishBatcher(bus);
    const done: string[] = [];
    const ps = ['a', 'b', 'c'].map((k) => b.publish('t', [rec(k)]).then(() => void done.push(k)));
    const d = b.publish('dlq', [rec('x')]);
    await tick();
    expect(calls.map((c) => [c.topic, c.keys])).toEqual([['t', ['a', 'b', 'c']], ['dlq', ['x']]]);
    expect(done).toEqual([]); // nobody is acknowledged before the bus accepted
    calls.forEach((c) => c.settle());
    await Promise.all([...ps, d]);
    expect(done).toEqual(['a', 'b', 'c']);
  });

  it('keeps one publish in flight per topic; what arrives meanwhile forms the next, bounded batch', async () => {
    const { bus, calls, maxInFlight } = fakeBus();
    const b = new PublishBatcher(bus, 3);
    const first = b.publish('t', [rec('1')]);
    await tick();
    const later = ['2', '3', '4', '5', '6'].map((k) => b.publish('t', [rec(k)]));
    await tick();
    expect(calls).toHaveLength(1);
    calls[0]?.settle();
    await first;
    await tick();
    expect(calls.map((c) => c.keys)).toEqual([['1'], ['2', '3', '4']]);
    calls[1]?.settle();
    await tick();
    expect(calls.map((c) => c.keys)).toEqual([['1'], ['2', '3', '4'], ['5', '6']]);
    calls[2]?.settle();
    await Promise.all(later);
    expect(maxInFlight()).toBe(1);
  });

  it('a failed publish fails every caller in it, and the next batch is still tried', async () => {
    const { bus, calls } = fakeBus();
    const b = new PublishBatcher(bus);
    const a = b.publish('t', [rec('a')]);
    const c = b.publish('t', [rec('c')]);
    await tick();
    const next = b.publish('t', [rec('n')]);
    calls[0]?.settle(new Error('bus down'));
    await expect(a).rejects.toThrow('bus down');
    await expect(c).rejects.toThrow('bus down');
    await tick();
    calls[1]?.settle();
    await expect(next).resolves.toBeUndefined();
  });
});

describe('PublishBatcher with several publishes in flight', () => {
  it('sends up to maxInFlight batches at once, in call order, and the next when one settles', async () => {
    const { bus, calls, maxInFlight } = fakeBus();
    const b = new PublishBatcher(bus, 2, 900_000, 2);
    const ps = ['1', '2', '3', '4', '5', '6'].map((k) => b.publish('t', [rec(k)]));
    await tick();
    expect(calls.map((c) => c.keys)).toEqual([['1', '2'], ['3', '4']]);
    calls[1]?.settle(); // the later one first: the slot frees, order of hand-over is unchanged
    await tick();
    expect(calls.map((c) => c.keys)).toEqual([['1', '2'], ['3', '4'], ['5', '6']]);
    calls[0]?.settle();
    calls[2]?.settle();
    await Promise.all(ps);
    expect(maxInFlight()).toBe(2);
  });
});

describe('PublishBatcher size bound', () => {
  it('starts a new batch before the value bytes would pass maxBytes', async () => {
    const { bus, calls } = fakeBus();
    const b = new PublishBatcher(bus, 1000, 10);
    const big = (k: string): OutgoingRecord => ({ key: k, value: 'x'.repeat(6) });
    const ps = [b.publish('t', [big('a')]), b.publish('t', [big('b')]), b.publish('t', [big('c')])];
    await tick();
    calls[0]?.settle();
    await tick();
    calls[1]?.settle();
    await tick();
    calls[2]?.settle();
    await Promise.all(ps);
    expect(calls.map((c) => c.keys)).toEqual([['a'], ['b'], ['c']]);
  });
});
