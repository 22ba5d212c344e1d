import { linearRegression } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { MedianWindow, TrendWindow } from './windows.js';

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

describe('MedianWindow', () => {
  /** The oracle: sort the values of the last windowMs and take the middle. */
  function oracle(points: [number, number][], now: number, windowMs: number): number {
    const v = points.filter(([t]) => t >= now - windowMs).map(([, x]) => x).sort((a, b) => a - b);
    const mid = v.length >>> 1;
    return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
  }

  it('matches a sort-based median while sliding over hours of irregular data, duplicates of value included', () => {
    const w = new MedianWindow(60_000);
    const rnd = lcg(11);
    const all: [number, number][] = [];
    let t = T0;
    for (let i = 0; i < 20_000; i++) {
      t += 200 + Math.floor(rnd() * 4000); // 0.2-4.2 s apart, gaps included
      const v = Math.round(90 + 10 * Math.sin(i / 500) + rnd() * 6);
      w.add(t, v);
      all.push([t, v]);
      if (i % 101 === 0) expect(w.median()).toBe(oracle(all, t, 60_000));
    }
    expect(w.capacity).toBeLessThanOrEqual(512);
  });

  it('ignores a sample not newer than the newest, is empty after clear, and caps its size', () => {
    const w = new MedianWindow(60_000, 8);
    expect(Number.isNaN(w.median())).toBe(true);
    w.add(T0, 10);
    w.add(T0, 99);
    w.add(T0 - 1000, 99);
    expect([w.length, w.median()]).toEqual([1, 10]);
    for (let i = 1; i <= 20; i++) w.add(T0 + i, i);
    expect(w.length).toBe(8);
    expect(w.median()).toBe(16.5); // 13..20
    w.clear();
    expect(w.length).toBe(0);
  });

  it('a window of 0 keeps only the newest reading', () => {
    const w = new MedianWindow(0);
    for (let i = 0; i < 10; i++) w.add(T0 + i * 1000, i);
    expect([w.length, w.median()]).toEqual([1, 9]);
  });
});
