import { describe, expect, it } from 'vitest';
import { TailRollup } from './tail-rollup.js';

const MIN = 60_000;

describe('tail rollup (in memory)', () => {
  it('aggregates per series and minute, skipping a copy of a held sample wherever it arrives', () => {
    const t = new TailRollup();
    expect(t.add('p', 'hr', 1_000, 60)).toBe(true);
    expect(t.add('p', 'hr', 3_000, 64)).toBe(true);
    expect(t.add('p', 'hr', 2_000, 50)).toBe(true); // late, inside the span
    expect(t.add('p', 'hr', 2_000, 50)).toBe(false); // a copy inside the span
    expect(t.add('p', 'hr', 3_000, 64)).toBe(false); // a copy of the latest
    expect(t.add('p', 'hr', 1_000, 60)).toBe(false); // a copy of the earliest
    expect(t.add('p', 'hr', 500, 70)).toBe(true); // earlier than the span
    expect(t.add('p', 'hr', MIN + 1, 80)).toBe(true);
    expect(t.add('p', 'rr', 1_000, 12)).toBe(true);
    expect(t.add('q', 'hr', 1_000, 90)).toBe(true);
    expect(t.minutes('p', 'hr', 0, 2 * MIN)).toEqual([
      { minute: 0, count: 4, min: 50, max: 70, sum: 244, lo: 500, hi: 3_000 },
      { minute: MIN, count: 1, min: 80, max: 80, sum: 80, lo: MIN + 1, hi: MIN + 1 },
    ]);
    expect(t.minutes('p', 'hr', MIN, 2 * MIN).map((m) => m.minute)).toEqual([MIN]);
    expect(t.minutes('x', 'hr', 0, 2 * MIN)).toEqual([]);
    expect(t.size).toBe(4);
    expect([...t.rows()].map((r) => [r.patientKey, r.metric, r.agg.minute, r.agg.count]).sort()).toEqual([
      ['p', 'hr', 0, 4],
      ['p', 'hr', MIN, 1],
      ['p', 'rr', 0, 1],
      ['q', 'hr', 0, 1],
    ]);
  });

  it('answers minutes ascending whatever order they arrived in', () => {
    const t = new TailRollup();
    for (const m of [5, 1, 3, 0, 4, 2]) t.add('p', 'hr', m * MIN + 7, m);
    expect(t.minutes('p', 'hr', 0, 10 * MIN).map((m) => m.minute / MIN)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
