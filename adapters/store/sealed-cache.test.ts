import { describe, expect, it } from 'vitest';
import type { MinuteAgg } from './rollup.js';
import { SealedRollupCache } from './sealed-cache.js';

const MIN = 60_000;
const m = (minute: number, count = 1): MinuteAgg => ({ minute: minute * MIN, count, min: 1, max: 1, sum: count, lo: minute * MIN, hi: minute * MIN + 1 });
const day = (first: number, n: number): MinuteAgg[] => Array.from({ length: n }, (_, i) => m(first + i));
const minutes = (xs: MinuteAgg[] | null): number[] | undefined => xs?.map((x) => x.minute / MIN);
/** Room a put gives an entry beyond its rows (sealed-cache.ts ROOM), plus the one row counted per series. */
const PUT = 16 + 1;

describe('sealed rollup cache', () => {
  it('answers a range inside what it holds, and nothing it cannot know (an earlier start)', () => {
    const c = new SealedRollupCache(1_000);
    c.put('p', 'hr', 10 * MIN, [m(12), m(10), m(11)]);
    expect(minutes(c.get('p', 'hr', 10 * MIN, 12 * MIN))).toEqual([10, 11]);
    expect(minutes(c.get('p', 'hr', 11 * MIN, 60 * MIN))).toEqual([11, 12]);
    expect(c.get('p', 'hr', 9 * MIN, 60 * MIN)).toBeNull();
    expect(c.get('p', 'spo2', 10 * MIN, 60 * MIN)).toBeNull();
    expect(c).toMatchObject({ hits: 2, misses: 2, rows: 3 + PUT, series: 1 });
    // Unknown spans survive the columns (NaN inside, null outside).
    c.put('u', 'hr', 0, [{ ...m(1), lo: null, hi: null }]);
    expect(c.get('u', 'hr', 0, MIN * 5)).toEqual([{ ...m(1), lo: null, hi: null }]);
  });

  it('stays within its capacity, evicting the least recently used series, and counts empty series', () => {
    const c = new SealedRollupCache(4 * (5 + PUT) + 2);
    c.put('a', 'hr', 0, day(0, 5));
    c.put('b', 'hr', 0, day(0, 5));
    c.put('c', 'hr', 0, []);
    expect(c.rows).toBe(2 * (5 + PUT) + PUT);
    c.get('a', 'hr', 0, MIN); // a is now more recent than b and c
    c.put('d', 'hr', 0, day(0, 5));
    expect(c.rows).toBe(3 * (5 + PUT) + PUT);
    c.put('e', 'hr', 0, day(0, 5)); // over: b, the least recently used, goes
    expect(c.get('b', 'hr', 0, MIN)).toBeNull();
    expect(c.get('c', 'hr', 0, MIN)).toEqual([]);
    expect(c.get('a', 'hr', 0, MIN)).not.toBeNull();
    // A series bigger than a quarter of the cache is not held; a cache of 0 holds nothing.
    c.put('g', 'hr', 0, day(0, 30));
    expect(c.get('g', 'hr', 0, MIN)).toBeNull();
    const off = new SealedRollupCache(0);
    off.put('a', 'hr', 0, []);
    off.coverAll(0, []);
    expect(off.series).toBe(0);
    expect(off.get('z', 'hr', 0, MIN)).toBeNull();
  });

  it('writes a seal through: appends to held series, replaces the minutes it recomputed, and expires whole minutes', () => {
    const c = new SealedRollupCache(1_000);
    c.put('p', 'hr', 0, day(0, 3));
    c.put('q', 'hr', 0, day(0, 3));
    c.sealed([
      { patientKey: 'p', metric: 'hr', appended: [m(1), m(3)] },
      // q's minute 2 recomputed from raw rows (a copy met it): its rows now, one of count 2.
      { patientKey: 'q', metric: 'hr', appended: [m(3)], recomputed: { minutes: new Set([2 * MIN]), rows: [m(2, 2)] } },
      // Not held and no coverage: nothing known of r's earlier rows, so it is not created.
      { patientKey: 'r', metric: 'hr', appended: [m(3)] },
    ], 3 * MIN);
    expect(minutes(c.get('p', 'hr', 0, 10 * MIN))).toEqual([0, 1, 1, 2, 3]);
    expect(c.get('q', 'hr', 0, 10 * MIN)?.map((x) => [x.minute / MIN, x.count])).toEqual([[0, 1], [1, 1], [2, 2], [3, 1]]);
    expect(c.get('r', 'hr', 0, 10 * MIN)).toBeNull();
    // Retention deletes minutes that end at or before the cutoff (1.5 min: minute 0 only).
    c.expire(1.5 * MIN);
    expect(minutes(c.get('p', 'hr', 0, 10 * MIN))).toEqual([1, 1, 2, 3]);
    expect(minutes(c.get('q', 'hr', 0, 10 * MIN))).toEqual([1, 2, 3]);
    c.clear();
    expect(c).toMatchObject({ rows: 0, series: 0 });
  });

  it('grows a series past its room, and keeps it ascending when a seal brings an earlier minute', () => {
    const c = new SealedRollupCache(1_000);
    c.put('p', 'hr', 0, day(0, 2));
    for (let k = 0; k < 10; k++) c.sealed([{ patientKey: 'p', metric: 'hr', appended: day(2 + 3 * k, 3) }], null);
    expect(minutes(c.get('p', 'hr', 0, 100 * MIN))).toEqual(Array.from({ length: 32 }, (_, i) => i));
    c.sealed([{ patientKey: 'p', metric: 'hr', appended: [m(5), m(40)] }], null);
    expect(minutes(c.get('p', 'hr', 30 * MIN, 100 * MIN))).toEqual([30, 31, 40]);
    expect(minutes(c.get('p', 'hr', 4 * MIN, 7 * MIN))).toEqual([4, 5, 5, 6]);
  });

  it('covers: a series not held has no sealed rows, a seal creates its entry, pending series miss, eviction ends it', () => {
    const c = new SealedRollupCache(3 * (40 + PUT));
    c.put('a', 'hr', 10 * MIN, day(10, 5));
    c.coverAll(10 * MIN, ['a', 'b'].map((p) => `${p}\u0000hr`));
    expect(c.coverFrom).toBe(10 * MIN);
    expect(c.pendingSeries).toBe(1); // a is held already
    // Unknown series: answered empty from memory from coverFrom on, not before.
    expect(c.get('z', 'hr', 10 * MIN, 20 * MIN)).toEqual([]);
    expect(c.get('z', 'hr', 9 * MIN, 20 * MIN)).toBeNull();
    // Pending (listed, not loaded yet): a miss until the warm's rows arrive.
    expect(c.get('b', 'hr', 10 * MIN, 20 * MIN)).toBeNull();
    c.sealed([{ patientKey: 'b', metric: 'hr', appended: [m(16)] }, { patientKey: 'n', metric: 'hr', appended: [m(9), m(16)] }], 16 * MIN);
    expect(c.get('b', 'hr', 10 * MIN, 20 * MIN)).toBeNull(); // the warm reads it from DuckDB, this seal included
    expect(minutes(c.get('n', 'hr', 10 * MIN, 20 * MIN))).toEqual([16]); // created by the seal, from coverFrom
    c.warm('b', 'hr', 10 * MIN, day(10, 7));
    c.warm('a', 'hr', 10 * MIN, []); // held already: kept as it is
    expect(minutes(c.get('b', 'hr', 10 * MIN, 20 * MIN))).toEqual([10, 11, 12, 13, 14, 15, 16]);
    expect(minutes(c.get('a', 'hr', 10 * MIN, 20 * MIN))).toEqual([10, 11, 12, 13, 14]);
    expect(c.pendingSeries).toBe(0);
    // Over capacity with a window to trim to: entries lose minutes before it, coverage stays.
    const windowed = new SealedRollupCache(2 * (40 + PUT), 20 * MIN);
    windowed.coverAll(0, []);
    windowed.sealed([{ patientKey: 'a', metric: 'hr', appended: day(0, 40) }, { patientKey: 'b', metric: 'hr', appended: day(0, 40) }], 39 * MIN);
    expect(windowed.series).toBe(2);
    windowed.sealed([{ patientKey: 'c', metric: 'hr', appended: day(30, 10) }], 39 * MIN);
    expect(windowed).toMatchObject({ series: 3, coverFrom: 19 * MIN });
    expect(minutes(windowed.get('a', 'hr', 19 * MIN, 40 * MIN))?.length).toBe(21);
    expect(windowed.get('a', 'hr', 18 * MIN, 40 * MIN)).toBeNull();
    expect(windowed.get('z', 'hr', 19 * MIN, 40 * MIN)).toEqual([]);
    // Evicting a series ends coverage: a series not held is no longer known to be empty.
    c.put('big', 'hr', 0, day(0, 40));
    c.put('big2', 'hr', 0, day(0, 40));
    expect(c.coverFrom).toBeNull();
    expect(c.get('z', 'hr', 10 * MIN, 20 * MIN)).toBeNull();
  });

  it('builds a series\' sealed buckets once per change (again at the seal), frozen, counted, and never evicting rows for them', () => {
    const c = new SealedRollupCache(2 * (10 + PUT) + 6 + 5);
    c.put('a', 'hr', 0, day(0, 10));
    const v = c.view('a', 'hr', 0, 10 * MIN)!;
    const list = c.bucketsOf(v, 2 * MIN)!;
    expect(list.map((b) => [b.ts / MIN, b.count])).toEqual([[0, 2], [2, 2], [4, 2], [6, 2], [8, 2]]);
    expect(Object.isFrozen(list[0])).toBe(true);
    expect(c.bucketsOf(c.view('a', 'hr', 0, 10 * MIN)!, 2 * MIN)).toBe(list);
    expect(c.rows).toBe(10 + PUT + 5);
    // A seal changes a's rows: its buckets are built again at once (a read series stays warm).
    c.sealed([{ patientKey: 'a', metric: 'hr', appended: [m(10)] }], null);
    expect(c.rows).toBe(10 + PUT + 6);
    const after = c.bucketsOf(c.view('a', 'hr', 0, 20 * MIN)!, 2 * MIN)!;
    expect(after).not.toBe(list);
    expect(after.at(-1)).toMatchObject({ ts: 10 * MIN, count: 1 });
    // No room for b's buckets beside its rows: answered, not kept, nothing evicted.
    c.put('b', 'hr', 0, day(0, 10));
    expect(c.bucketsOf(c.view('b', 'hr', 0, 10 * MIN)!, MIN)).toHaveLength(10);
    expect(c).toMatchObject({ series: 2, rows: 2 * (10 + PUT) + 6 });
    expect(c.bucketsOf(c.view('zz', 'hr', 0, MIN) ?? { data: new Float64Array(0), start: 0, end: 0 }, MIN)).toBeNull();
  });
});
