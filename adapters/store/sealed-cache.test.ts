import { describe, expect, it } from 'vitest';
import type { MinuteAgg } from './rollup.js';
import { SealedRollupCache } from './sealed-cache.js';
import { seriesKey } from './tail-rollup.js';

const MIN = 60_000;
const m = (minute: number, count = 1): MinuteAgg => ({ minute: minute * MIN, count, min: 1, max: 1, sum: count, lo: minute * MIN, hi: minute * MIN + 1 });
const day = (first: number, n: number): MinuteAgg[] => Array.from({ length: n }, (_, i) => m(first + i));

describe('sealed rollup cache', () => {
  it('answers a range inside what it holds, and nothing it cannot know (an earlier start)', () => {
    const c = new SealedRollupCache(100);
    c.put('p', 'hr', 10 * MIN, [m(12), m(10), m(11)]);
    expect(c.get('p', 'hr', 10 * MIN, 12 * MIN)?.map((x) => x.minute)).toEqual([10 * MIN, 11 * MIN]);
    expect(c.get('p', 'hr', 11 * MIN, 60 * MIN)?.map((x) => x.minute)).toEqual([11 * MIN, 12 * MIN]);
    expect(c.get('p', 'hr', 9 * MIN, 60 * MIN)).toBeNull();
    expect(c.get('p', 'spo2', 10 * MIN, 60 * MIN)).toBeNull();
    expect(c).toMatchObject({ hits: 2, misses: 2, rows: 4, series: 1 });
  });

  it('stays within its capacity, evicting the least recently used series, and counts empty series', () => {
    const c = new SealedRollupCache(30);
    c.put('a', 'hr', 0, day(0, 5));
    c.put('b', 'hr', 0, day(0, 5));
    c.put('c', 'hr', 0, []);
    expect(c.rows).toBe(13); // 5 + 1, 5 + 1, 0 + 1
    c.get('a', 'hr', 0, MIN); // a is now more recent than b and c
    c.put('d', 'hr', 0, day(0, 6));
    c.put('e', 'hr', 0, day(0, 6));
    expect(c.rows).toBe(27);
    c.put('f', 'hr', 0, day(0, 6)); // 34 > 30: b, the least recently used, goes
    expect(c.get('b', 'hr', 0, MIN)).toBeNull();
    expect(c.get('c', 'hr', 0, MIN)).toEqual([]);
    expect(c.get('a', 'hr', 0, MIN)).not.toBeNull();
    expect(c.rows).toBe(28);
    // A series bigger than a quarter of the cache is not held; a cache of 0 holds nothing.
    c.put('g', 'hr', 0, day(0, 8));
    expect(c.get('g', 'hr', 0, MIN)).toBeNull();
    const off = new SealedRollupCache(0);
    off.put('a', 'hr', 0, []);
    expect(off.series).toBe(0);
  });

  it('takes a seal’s rows for held series, drops the series it recomputed, and expires whole minutes', () => {
    const c = new SealedRollupCache(100);
    c.put('p', 'hr', 0, day(0, 3));
    c.put('q', 'hr', 0, day(0, 3));
    const tail: Record<string, MinuteAgg[]> = { p: [m(1), m(3)], q: [m(3)] };
    c.sealed((patientKey, _metric, from) => tail[patientKey]!.filter((x) => x.minute >= from), new Set([seriesKey('q', 'hr')]));
    expect(c.get('p', 'hr', 0, 10 * MIN)?.map((x) => x.minute / MIN)).toEqual([0, 1, 1, 2, 3]);
    expect(c.get('q', 'hr', 0, 10 * MIN)).toBeNull();
    expect(c.rows).toBe(6);
    // Retention deletes minutes that end at or before the cutoff (1.5 min: minute 0 only).
    c.expire(1.5 * MIN);
    expect(c.get('p', 'hr', 0, 10 * MIN)?.map((x) => x.minute / MIN)).toEqual([1, 1, 2, 3]);
    expect(c.rows).toBe(5);
    c.clear();
    expect(c).toMatchObject({ rows: 0, series: 0 });
  });
});
