import { describe, expect, it } from 'vitest';
import { storeRateFifths } from './growth.js';

describe('the growth run\'s store rate by fifth of the rows', () => {
  it('gives every fifth\'s rate, the first and last of them as firstFifth and lastFifth', () => {
    // 1,000 rows: 100 a second for the first 400 rows, then 50 a second.
    const progress: Array<{ t: number; rows: number }> = [];
    let t = 0;
    for (let rows = 0; rows <= 1000; rows += 10) {
      progress.push({ t, rows });
      t += rows < 400 ? 100 : 200;
    }
    const r = storeRateFifths(progress, 1000);
    expect(r.fifths).toEqual([100, 100, 50, 50, 50]);
    expect(r.firstFifth).toBe(100);
    expect(r.lastFifth).toBe(50);
  });

  it('says NaN for a fifth the progress never reached', () => {
    const r = storeRateFifths([{ t: 0, rows: 0 }, { t: 1000, rows: 500 }], 1000);
    expect(r.fifths.slice(3).every(Number.isNaN)).toBe(true);
  });
});
