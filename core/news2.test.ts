import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkObservations,
  news2Risk,
  NEWS2_PARAMS,
  roundHalfUp,
  scoreNews2,
  scoreTemp,
  type News2Observations,
  type News2Param,
} from './news2.js';

interface Vector {
  name: string;
  input: News2Observations;
  expected: {
    score: number;
    risk: string;
    components: Record<News2Param, number>;
    complete: boolean;
    missing?: string[];
    maxScore?: number;
  };
}

const vectors: Vector[] = readFileSync(new URL('./news2-vectors.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Vector);

describe('NEWS2 golden vectors (core/news2-vectors.jsonl)', () => {
  it('has vectors on both sides of every band edge', () => {
    expect(vectors.length).toBeGreaterThan(120);
  });
  it.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const r = scoreNews2(v.input);
    expect(r.components).toEqual(v.expected.components);
    expect(r.score).toBe(v.expected.score);
    expect(r.risk).toBe(v.expected.risk);
    expect(r.complete).toBe(v.expected.complete);
    if (v.expected.missing) expect(r.missing).toEqual(v.expected.missing);
    if (v.expected.maxScore !== undefined) expect(r.maxScore).toBe(v.expected.maxScore);
    if (v.expected.complete) expect(r.maxScore).toBe(r.score);
  });
});

describe('roundHalfUp: decimal, not binary', () => {
  it.each([
    [38.05, 1, 38.1],
    [35.05, 1, 35.1],
    [36.05, 1, 36.1],
    [39.05, 1, 39.1],
    [38.04, 1, 38.0],
    [38.049999, 1, 38.0],
    [1.005, 2, 1.01],
    [20.5, 0, 21],
    [90.5, 0, 91],
    [90.49, 0, 90],
    [0.5, 0, 1],
    [37, 1, 37],
    [38.1, 1, 38.1],
    [1e-7, 1, 0],
    [-38.05, 1, -38.1],
  ])('%d to %d places → %d', (x, d, want) => {
    expect(roundHalfUp(x, d)).toBe(want);
  });
  it('differs from the traps the NEWS2 page lists', () => {
    // The traps themselves, pinned so a "simplification" to one of them is caught.
    expect((38.05).toFixed(1)).toBe('38.0');
    expect(roundHalfUp(38.05, 1)).toBe(38.1);
  });
  it('the fast path agrees with exact decimal rounding on 200k random chart-like values', () => {
    // Reference: round the printed decimal digits by hand (independent of the implementation).
    const ref = (x: number, d: number): number => {
      const [i = '0', f = ''] = String(x).split('.');
      if (f.length <= d) return x;
      let q = BigInt(i + f.slice(0, d));
      if (Number(f[d]) >= 5) q += 1n;
      return Number(q) / 10 ** d;
    };
    let seed = 12345;
    for (let n = 0; n < 200_000; n++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const places = 1 + (seed % 3);
      const x = Math.round((seed / 4294967296) * 250 * 10 ** places) / 10 ** places;
      const d = n % 2;
      if (roundHalfUp(x, d) !== ref(x, d)) throw new Error(`${x} to ${d}: ${roundHalfUp(x, d)} vs ${ref(x, d)}`);
    }
  });
  it('rejects non-finite input', () => {
    expect(() => roundHalfUp(Number.NaN, 1)).toThrow(RangeError);
  });
});

describe('known mistakes in the wild are not repeated', () => {
  it('naidihr: 38.1–39.0 scores 1, not 11', () => {
    expect(scoreTemp(38.5)).toBe(1);
    expect(scoreNews2({ temp: 38.5 }).score).toBe(1);
  });
  it('temperature ≥39.1 scores 2, not 3', () => {
    expect(scoreTemp(39.1)).toBe(2);
    expect(scoreTemp(41)).toBe(2);
  });
  it("naidihr: o2 as a string ('on air' or empty) is an error, not oxygen", () => {
    expect(checkObservations({ o2: 'on air' as unknown as boolean })).toEqual(['o2: must be true or false']);
    expect(checkObservations({ o2: '' as unknown as boolean })).toHaveLength(1);
    expect(() => scoreNews2({ o2: 'on air' as unknown as boolean })).toThrow(RangeError);
  });
  it('unknown air/oxygen is scored as air (lower bound) and named missing', () => {
    const r = scoreNews2({ rr: 16, spo2: 97, sbp: 120, hr: 70, acvpu: 'A', temp: 37 });
    expect(r.components.o2).toBe(0);
    expect(r.missing).toEqual(['o2']);
    expect(r.complete).toBe(false);
  });
  it('a lone red score is low-medium, not medium (RCP chart 4)', () => {
    expect(scoreNews2({ rr: 25 }).risk).toBe('low-medium');
  });
  it('scale absent means Scale 1', () => {
    expect(scoreNews2({ spo2: 93, o2: true }).components.spo2).toBe(2);
    expect(scoreNews2({ spo2: 93, o2: true }).scale).toBe(1);
  });
});

describe('risk [NEWS2 chart 4]', () => {
  it('precedence: ≥7 high and 5–6 medium with or without a red score', () => {
    expect(news2Risk(7, true)).toBe('high');
    expect(news2Risk(7, false)).toBe('high');
    expect(news2Risk(5, true)).toBe('medium');
    expect(news2Risk(5, false)).toBe('medium');
    expect(news2Risk(4, true)).toBe('low-medium');
    expect(news2Risk(4, false)).toBe('low');
    expect(news2Risk(0, false)).toBe('low');
  });
  it('scoreNews2 reports a lone red as low-medium through the same function', () => {
    expect(scoreNews2({ rr: 7, hr: 45 }).risk).toBe('low-medium');
    expect(scoreNews2({ rr: 22, hr: 95 }).risk).toBe('low');
  });
});

describe('validation', () => {
  it('reports every problem at once', () => {
    const errs = checkObservations({
      spo2: 150,
      hr: -1,
      temp: Number.NaN,
      acvpu: 'X' as never,
      scale: 3 as never,
    });
    expect(errs).toHaveLength(5);
    expect(errs.join(' ')).toMatch(/spo2.*150/);
  });
  it('returns raw and rounded values', () => {
    const r = scoreNews2({ temp: 38.05, hr: 90.5 });
    expect(r.raw).toEqual({ temp: 38.05, hr: 90.5 });
    expect(r.rounded).toEqual({ temp: 38.1, hr: 91 });
  });
  it('lists missing parameters in chart order', () => {
    expect(scoreNews2({}).missing).toEqual([...NEWS2_PARAMS]);
  });
});
