import { describe, expect, it } from 'vitest';
import { bucketsFromMinutes, mergeMinutes, overlappingMinutes, type MinuteAgg } from './rollup.js';

const m = (minute: number, count: number, min: number, max: number, sum: number): MinuteAgg => ({ minute: minute * 60_000, count, min, max, sum });

describe('rollup: merging sealed minutes with the tail', () => {
  const sealed = [m(0, 2, 1, 3, 4), m(1, 1, 5, 5, 5), m(3, 2, 2, 2, 4)];
  const recent = [m(1, 1, 5, 5, 5), m(4, 1, 9, 9, 9)];

  it('finds the minutes both sides hold, once each', () => {
    expect(overlappingMinutes(sealed, [...recent, m(1, 1, 6, 6, 6)])).toEqual([60_000]);
    expect(overlappingMinutes(sealed, [])).toEqual([]);
  });

  it('takes overlapping minutes only from the recomputed ones, and drops one that has no rows left', () => {
    expect(mergeMinutes(sealed, recent, [m(1, 1, 5, 5, 5)])).toEqual([m(0, 2, 1, 3, 4), m(1, 1, 5, 5, 5), m(3, 2, 2, 2, 4), m(4, 1, 9, 9, 9)]);
    expect(mergeMinutes(sealed, recent, []).map((x) => x.minute)).toEqual([0, 180_000, 240_000]);
    // A recomputed minute that does not overlap is ignored (it cannot replace anything).
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
});
