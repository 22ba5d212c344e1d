import { linearRegression } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { TrendWindow } from './windows.js';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z: realistic epoch-ms magnitudes

/** The oracle: simple-statistics on the same points, x in minutes. */
function oracleSlope(points: [number, number][]): number {
  return linearRegression(points.map(([t, v]) => [(t - T0) / 60_000, v])).m;
}

/** Deterministic pseudo-random (LCG) so the test is reproducible. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('TrendWindow', () => {
  it('matches simple-statistics linearRegression while sliding over hours of data', () => {
    const w = new TrendWindow(600_000);
    const rnd = lcg(7);
    const all: [number, number][] = [];
    for (let i = 0; i < 20_000; i++) {
      const t = T0 + i * 1000 + Math.floor(rnd() * 500);
      const v = 80 + 10 * Math.sin(i / 300) + rnd() * 4;
      w.add(t, v);
      all.push([t, v]);
      if (i % 997 === 0 && i > 10) {
        const inWin = all.filter(([x]) => x >= t - 600_000);
        const f = w.fit();
        expect(f.n).toBe(inWin.length);
        expect(f.slopePerMin).toBeCloseTo(oracleSlope(inWin), 9);
      }
    }
  });

  it('trims by time and reports span', () => {
    const w = new TrendWindow(60_000);
    for (let i = 0; i <= 120; i++) w.add(T0 + i * 1000, i);
    const f = w.fit();
    expect(f.n).toBe(61);
    expect(f.spanMs).toBe(60_000);
    expect(f.slopePerMin).toBeCloseTo(60, 9);
    expect(w.oldest).toBe(T0 + 60_000);
  });

  it('inserts late samples in time order, ignores duplicates and too-old samples', () => {
    const w = new TrendWindow(60_000);
    w.add(T0, 1);
    w.add(T0 + 2000, 3);
    expect(w.add(T0 + 1000, 2)).toBe(true);
    expect(w.add(T0 + 1000, 2)).toBe(false);
    w.add(T0 + 100_000, 9);
    expect(w.length).toBe(1);
    expect(w.add(T0 + 1000, 2)).toBe(false);
    const w2 = new TrendWindow(60_000);
    const pts: [number, number][] = [[T0 + 3000, 4], [T0 + 1000, 2], [T0, 1], [T0 + 2000, 3]];
    for (const [t, v] of pts) w2.add(t, v);
    expect(w2.fit().slopePerMin).toBeCloseTo(oracleSlope(pts), 9);
    expect(w2.oldest).toBe(T0);
    expect(w2.newest).toBe(T0 + 3000);
  });

  it('has no slope with fewer than two distinct times', () => {
    const w = new TrendWindow(60_000);
    expect(Number.isNaN(w.fit().slopePerMin)).toBe(true);
    w.add(T0, 5);
    expect(Number.isNaN(w.fit().slopePerMin)).toBe(true);
  });

  it('caps memory at maxCapacity, keeping the newest samples', () => {
    const w = new TrendWindow(3_600_000, 64);
    for (let i = 0; i < 1000; i++) w.add(T0 + i * 10, i);
    expect(w.length).toBeLessThanOrEqual(64);
    expect(w.capacity).toBe(64);
    expect(w.newest).toBe(T0 + 9990);
    expect(w.fit().slopePerMin).toBeCloseTo(6000, 6);
  });
});
