import { describe, expect, it } from 'vitest';
import { ROW_WIDTH } from './rollup.js';
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

  it('columnar: re-delivered samples counted once and minutes kept in order through growth, late samples and copies (against a model)', () => {
    const t = new TailRollup();
    // The model: every identity once (the first value kept), aggregated per minute afterwards.
    const model = new Map<string, Map<number, number>>();
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n;
    const seen: Array<[string, number, number]> = [];
    for (let i = 0; i < 6_000; i++) {
      const key = `p${rand(3)}`;
      // Mostly time moving on; a late sample, or a copy of one already held, about one time in five.
      const late = rand(5) === 0;
      const copy = late && seen.length > 0 && rand(2) === 0 ? seen[rand(seen.length)]! : null;
      const [k, ts, v] = copy ?? [key, late ? rand(i * 100 + 1) : i * 100 + rand(100), rand(200) / 2];
      const m = model.get(k) ?? new Map<number, number>();
      model.set(k, m);
      const isNew = !m.has(ts);
      if (isNew) m.set(ts, v);
      expect(t.add(k, 'hr', ts, v)).toBe(isNew);
      seen.push([k, ts, v]);
    }
    let minutes = 0;
    for (const [k, m] of model) {
      const want = new Map<number, { count: number; min: number; max: number; sum: number; lo: number; hi: number }>();
      for (const [ts, v] of [...m.entries()].sort((a, b) => a[0] - b[0])) {
        const minute = Math.floor(ts / MIN) * MIN;
        const w = want.get(minute);
        if (!w) want.set(minute, { count: 1, min: v, max: v, sum: v, lo: ts, hi: ts });
        else Object.assign(w, { count: w.count + 1, min: Math.min(w.min, v), max: Math.max(w.max, v), sum: w.sum + v, hi: ts });
      }
      const got = t.minutes(k, 'hr', 0, Number.MAX_SAFE_INTEGER);
      expect(got).toEqual([...want.entries()].sort((a, b) => a[0] - b[0]).map(([minute, w]) => ({ minute, ...w })));
      // Read in place: the same rows, ascending, ROW_WIDTH numbers each.
      const s = t.series(k, 'hr')!;
      expect(s.n).toBe(got.length);
      expect(Array.from({ length: s.n }, (_, i) => s.rows[i * ROW_WIDTH])).toEqual(got.map((g) => g.minute));
      minutes += got.length;
    }
    expect(t.size).toBe(minutes);
  });
});

