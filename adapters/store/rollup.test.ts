import { describe, expect, it } from 'vitest';
import { bucketsFromMinutes, bucketsFromRows, conflictingMinutes, mergeMinutes, rowsMeet, type MinuteAgg } from './rollup.js';

const MIN = 60_000;
/** A minute's partial aggregate; its span of event times defaults to the whole minute. */
const m = (minute: number, count: number, min: number, max: number, sum: number, lo = 0, hi = 59_999): MinuteAgg =>
  ({ minute: minute * MIN, count, min, max, sum, lo: minute * MIN + lo, hi: minute * MIN + hi });

describe('rollup: merging sealed minutes with the tail', () => {
  const sealed = [m(0, 2, 1, 3, 4), m(1, 1, 5, 5, 5), m(3, 2, 2, 2, 4)];
  const recent = [m(1, 1, 5, 5, 5), m(4, 1, 9, 9, 9)];

  it('finds the minutes where a tail row’s span meets a sealed row’s, once each', () => {
    expect(conflictingMinutes(sealed, [...recent, m(1, 1, 6, 6, 6)])).toEqual([MIN]);
    expect(conflictingMinutes(sealed, [])).toEqual([]);
  });

  it('adds a tail row to a sealed row of the same minute when their spans are disjoint (no copy possible)', () => {
    const early = m(1, 2, 1, 2, 3, 0, 29_999);
    const late = m(1, 1, 7, 7, 7, 30_000, 59_999);
    expect(conflictingMinutes([early], [late])).toEqual([]);
    expect(bucketsFromMinutes(mergeMinutes([early], [late], []), MIN, 10)).toEqual([{ ts: MIN, count: 3, min: 1, max: 7, avg: 10 / 3 }]);
    // Touching at one millisecond: that millisecond may be a copy.
    expect(conflictingMinutes([early], [m(1, 1, 7, 7, 7, 29_999, 40_000)])).toEqual([MIN]);
    // Either span unknown (rollup rows from before migration 017): recomputed.
    expect(conflictingMinutes([{ ...early, lo: null, hi: null }], [late])).toEqual([MIN]);
  });

  it('takes conflicting minutes only from the recomputed ones, and drops one that has no rows left', () => {
    expect(mergeMinutes(sealed, recent, [m(1, 1, 5, 5, 5)])).toEqual([m(0, 2, 1, 3, 4), m(1, 1, 5, 5, 5), m(3, 2, 2, 2, 4), m(4, 1, 9, 9, 9)]);
    expect(mergeMinutes(sealed, recent, []).map((x) => x.minute)).toEqual([0, 180_000, 240_000]);
    // A recomputed minute that does not conflict is ignored (it cannot replace anything).
    expect(mergeMinutes(sealed, [], [m(7, 1, 1, 1, 1)])).toEqual(sealed);
  });

  it('groups minutes into step-aligned buckets with exact count, min, max and mean, the earliest `limit`', () => {
    const minutes = mergeMinutes(sealed, recent, [m(1, 1, 5, 5, 5)]);
    expect(bucketsFromMinutes(minutes, 120_000, 10)).toEqual([
      { ts: 0, count: 3, min: 1, max: 5, avg: 3 },
      { ts: 120_000, count: 2, min: 2, max: 2, avg: 2 },
      { ts: 240_000, count: 1, min: 9, max: 9, avg: 9 },
    ]);
    expect(bucketsFromMinutes(minutes, 120_000, 2).map((b) => b.ts)).toEqual([0, 120_000]);
    expect(bucketsFromMinutes([], 60_000, 5)).toEqual([]);
  });

  it('merges and buckets rows in any order the same as sorted ones (a statement returns them unordered)', () => {
    const shuffled = [m(3, 2, 2, 2, 4), m(0, 2, 1, 3, 4), m(1, 1, 5, 5, 5), m(1, 1, 0, 0, 0, 0, 0)];
    const sorted = [...shuffled].sort((a, b) => a.minute - b.minute);
    const tail = [m(4, 1, 9, 9, 9), m(2, 1, 7, 7, 7)];
    expect(mergeMinutes(shuffled, tail, []).map((x) => x.minute)).toEqual([0, MIN, MIN, 2 * MIN, 3 * MIN, 4 * MIN]);
    const want = [
      { ts: 0, count: 4, min: 0, max: 5, avg: 9 / 4 },
      { ts: 120_000, count: 3, min: 2, max: 7, avg: 11 / 3 },
      { ts: 240_000, count: 1, min: 9, max: 9, avg: 9 },
    ];
    expect(bucketsFromMinutes(shuffled.concat(tail), 120_000, 10)).toEqual(want);
    expect(bucketsFromMinutes(mergeMinutes(sorted, tail, []), 120_000, 10)).toEqual(want);
    expect(bucketsFromMinutes(shuffled.concat(tail), 120_000, 1)).toEqual(want.slice(0, 1));
  });
});

describe('rollup: the columnar path gives what the object path gives', () => {
  const cols = (xs: readonly MinuteAgg[]): Float64Array => new Float64Array(xs.flatMap((x) => [x.minute, x.count, x.min, x.max, x.sum, x.lo ?? Number.NaN, x.hi ?? Number.NaN]));
  // A seeded generator: the same cases every run.
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };

  it('agrees with conflictingMinutes and bucketsFromMinutes(mergeMinutes) on random rows', () => {
    for (let k = 0; k < 300; k++) {
      // Sealed rows: 0-2 per minute with disjoint spans (the seal's rule); the tail: one per minute, near the end.
      const sealed: MinuteAgg[] = [];
      for (let minute = 0; minute < 40; minute++) {
        if (rnd(4) === 0) continue;
        sealed.push(m(minute, 1 + rnd(3), 1 + rnd(5), 6 + rnd(5), 10 + rnd(9), 0, 29_999));
        if (rnd(5) === 0) sealed.push(m(minute, 1, 3, 3, 3, 30_000, 59_999));
      }
      const recent: MinuteAgg[] = [];
      for (let minute = 30 + rnd(8); minute < 48; minute++) if (rnd(3) > 0) recent.push(m(minute, 1 + rnd(2), 2, 8, 9, rnd(2) === 0 ? 30_000 : 0, 59_999));
      if (k % 50 === 0) sealed.push({ ...m(45, 1, 1, 1, 1), lo: null, hi: null });
      sealed.sort((a, b) => a.minute - b.minute);
      const a = cols(sealed);
      const b = cols(recent);
      const from = rnd(10) * MIN;
      const aStart = sealed.findIndex((x) => x.minute >= from);
      const start = aStart < 0 ? sealed.length : aStart;
      const inRange = sealed.slice(start);
      const meets = conflictingMinutes(inRange, recent).length > 0;
      expect(rowsMeet(a, start, sealed.length, b, 0, recent.length)).toBe(meets);
      if (meets) continue;
      for (const [step, limit] of [[MIN, 1_000], [2 * MIN, 1_000], [5 * MIN, 3]] as const) {
        expect(bucketsFromRows(a, start, sealed.length, b, 0, recent.length, step, limit)).toEqual(bucketsFromMinutes(mergeMinutes(inRange, recent, []), step, limit));
      }
    }
  });
});
