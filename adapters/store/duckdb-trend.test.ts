import { describe, expect, it } from 'vitest';
import type { BucketPoint } from '../../core/ports.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { createDuckDbStore } from './duckdb.js';

// Trend queries answered from memory without the store's queue (ADR 0011, sixth amendment).
const MIN = 60_000;
const HOUR = 3_600_000;
type Store = Awaited<ReturnType<typeof createDuckDbStore>>;
const at = (p: string, ts: number, hr: number): CanonicalSample => ({ v: 1, deviceId: 'd', patientId: p, ward: 'w', ts, recvTs: ts, source: 'device', metrics: { hr }, traceId: 't' });
const trend = async (s: Store, p: string, step = 2 * MIN, from = 0, to = HOUR, limit = 1_000): Promise<BucketPoint[]> =>
  (await s.history({ patientKey: p, metric: 'hr', from, to, step, limit })) as BucketPoint[];
const counted = (bs: BucketPoint[]): number => bs.reduce((n, b) => n + b.count, 0);
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
// Values in halves: sums are exact in any order, so the memory and SQL answers compare with toEqual.
const minuteOf = (p: string, m: number, off = 0): CanonicalSample[] => Array.from({ length: 30 }, (_, i) => at(p, m * MIN + i * 2_000 + off, 60 + ((i * 7 + m) % 17) / 2));

/** The trend from the store's de-duplicated raw rows, computed here. */
async function fromRaw(s: Store, p: string, step = 2 * MIN): Promise<BucketPoint[]> {
  const raw = (await s.history({ patientKey: p, metric: 'hr', from: 0, to: HOUR, step: 'raw', limit: 100_000 })) as Array<{ ts: number; value: number }>;
  const by = new Map<number, number[]>();
  for (const { ts, value } of raw) by.set(Math.floor(ts / step) * step, [...(by.get(Math.floor(ts / step) * step) ?? []), value]);
  return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([ts, v]) => ({ ts, min: Math.min(...v), max: Math.max(...v), avg: v.reduce((x, y) => x + y, 0) / v.length, count: v.length }));
}

/** 20,000 samples of 40 other patients with p's next `pMinutes` minutes spread through them (every chunk of the append and of the fold has some). */
function bigBatch(firstMinute: number, pMinutes: number): CanonicalSample[] {
  const mine = Array.from({ length: pMinutes }, (_, k) => minuteOf('p', firstMinute + k)).flat();
  const every = Math.floor(20_000 / mine.length);
  return Array.from({ length: 20_000 }, (_, i) => (i % every === 0 && mine[i / every] ? mine[i / every]! : at(`o${i % 40}`, firstMinute * MIN + i, 70)));
}

describe('duckdb store: trends answered from memory, outside the queue (ADR 0011, sixth amendment)', () => {
  it('answers a trend issued during a large insert without waiting for it, with exactly what was committed before', async () => {
    const store = await createDuckDbStore({ path: ':memory:', sealRows: 200 });
    await store.migrate();
    // Sealed runs (written through to the cache) and a tail.
    for (let m = 0; m < 10; m++) await store.insertSamples(minuteOf('p', m));
    const before = await trend(store, 'p');
    expect(counted(before)).toBe(300);
    let inserted = false;
    const insert = store.insertSamples(bigBatch(10, 1)).then(() => {
      inserted = true;
    });
    // Let the insert get going (it appends in chunks, a turn of the loop between them).
    for (let i = 0; i < 5; i++) await turn();
    const during = await trend(store, 'p');
    expect(inserted).toBe(false);
    expect(during).toEqual(before);
    await insert;
    // The big batch sealed (sealRows 200): p's new minute comes through the seal's write-through.
    expect(await trend(store, 'p')).toEqual(await fromRaw(store, 'p'));
    expect(counted(await trend(store, 'p'))).toBe(330);
    await store.close();
  });

  it('never answers half a batch: a trend during its fold waits for the fold, and one after insertSamples resolved sees all of it', async () => {
    const store = await createDuckDbStore({ path: ':memory:' });
    await store.migrate();
    for (let m = 0; m < 10; m++) await store.insertSamples(minuteOf('p', m));
    const before = JSON.stringify(await trend(store, 'p'));
    let inserted = false;
    const insert = store.insertSamples(bigBatch(10, 20)).then(() => {
      inserted = true;
    });
    const seen: string[] = [];
    while (!inserted) {
      seen.push(JSON.stringify(await trend(store, 'p')));
      await turn();
    }
    await insert;
    const after = await trend(store, 'p');
    expect(counted(after)).toBe(300 + 600);
    expect(after).toEqual(await fromRaw(store, 'p'));
    // Answered all along (not queued behind the insert), each either before the batch or after all of it.
    expect(seen.length).toBeGreaterThan(20);
    expect(seen.filter((x) => x !== before && x !== JSON.stringify(after))).toEqual([]);
    await store.close();
  });

  it('answers what the cache-off store answers from SQL, for any aligned range, step and limit, through seals, copies and late samples', async () => {
    const stores = [await createDuckDbStore({ path: ':memory:', sealRows: 100 }), await createDuckDbStore({ path: ':memory:', sealRows: 100, trendCacheRows: 0 })];
    const asks: Array<[string, number, number, number, number]> = [];
    for (const p of ['p', 'q']) {
      for (const step of [MIN, 2 * MIN, 5 * MIN]) for (const [from, to] of [[0, HOUR], [4 * MIN, 14 * MIN], [10 * MIN, 30 * MIN], [20 * MIN, HOUR]] as const) asks.push([p, step, from, to, 1_000]);
      asks.push([p, 2 * MIN, 0, HOUR, 3], [p, MIN, 6 * MIN, HOUR, 4]);
      // A range clear of the copies builds shared tail buckets; the whole range after it must still see the copies.
      asks.push([p, 10 * MIN, 20 * MIN, HOUR, 1_000], [p, 10 * MIN, 0, HOUR, 1_000]);
    }
    const answers = async (s: Store): Promise<BucketPoint[][]> => {
      const out: BucketPoint[][] = [];
      // Each asked twice: the second answer is built from the shared buckets the first one left.
      for (const a of asks) out.push(await trend(s, ...a), await trend(s, ...a));
      return out;
    };
    for (const s of stores) await s.migrate();
    const steps: Array<(s: Store) => Promise<void>> = [
      async (s) => {
        for (let m = 0; m < 12; m++) await s.insertSamples([...minuteOf('p', m), ...minuteOf('q', m, 1)]);
      },
      // Copies of a sealed minute and of a tail minute, and a late sample into a tail minute.
      (s) => s.insertSamples([...minuteOf('p', 2).slice(0, 5), ...minuteOf('q', 11, 1).slice(3, 9), at('p', 11 * MIN + 1, 99)]),
      async (s) => {
        for (let m = 12; m < 16; m++) await s.insertSamples([...minuteOf('p', m), ...minuteOf('q', m, 1)]);
      },
      (s) => s.insertSamples([at('q', 15 * MIN + 3, 10), at('p', 3 * MIN + 1, 100)]),
    ];
    for (const step of steps) {
      for (const s of stores) await step(s);
      const [on, off] = [await answers(stores[0]!), await answers(stores[1]!)];
      expect(on).toEqual(off);
      expect(on[0]).toEqual(await fromRaw(stores[1]!, 'p', MIN));
    }
    expect(stores[0]!.trendCacheStats()).toMatchObject({ misses: 0 });
    expect(stores[1]!.trendCacheStats()).toMatchObject({ series: 0, hits: 0 });
    for (const s of stores) await s.close();
  });
});
