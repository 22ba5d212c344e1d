/** Patient-view chart geometry: charts fill the room, enough y labels, lone readings found. */
import { describe, expect, it } from 'vitest';
import { MAX_CHART_PX, MIN_CHART_PX, chartHeight, isolatedPoints, niceTicks, stepDecimals, tickTarget } from './chart-layout.js';

describe('patient chart layout', () => {
  it('shares the available height between rows of charts, within readable bounds', () => {
    // 1920x1080: two rows under a ~170 px header.
    expect(chartHeight(1080 - 170, 2, 12, 44)).toBe(405);
    // 800x1280: five rows of one column get at least the minimum (the page scrolls a little).
    expect(chartHeight(1280 - 180, 5, 12, 44)).toBe(MIN_CHART_PX);
    expect(chartHeight(4000, 1, 12, 44)).toBe(MAX_CHART_PX);
    expect(chartHeight(Number.NaN, 2, 12, 44)).toBe(MIN_CHART_PX);
  });

  it('labels the y axis with round numbers, at least 4 and about one per 40 px', () => {
    expect(niceTicks(40, 180, tickTarget(200))).toEqual([40, 60, 80, 100, 120, 140, 160, 180]);
    expect(niceTicks(35, 40, tickTarget(200))).toEqual([35, 36, 37, 38, 39, 40]);
    expect(niceTicks(85, 100, 5)).toEqual([85, 90, 95, 100]);
    expect(niceTicks(36.2, 37.1, 5)).toEqual([36.2, 36.4, 36.6, 36.8, 37]);
    // SpO2 84..101 on a tall plot: every 2 %, not a coarse 4 labels every 5 %.
    expect(niceTicks(84, 101, 8)).toEqual([84, 86, 88, 90, 92, 94, 96, 98, 100]);
    for (const [lo, hi, px] of [[0, 1, 150], [5, 30, 200], [40, 180, 460], [12, 13, 200], [90, 97, 220]] as const) {
      const t = niceTicks(lo, hi, tickTarget(px));
      expect(t.length, `${lo}..${hi}`).toBeGreaterThanOrEqual(4);
      expect(t.length, `${lo}..${hi}`).toBeLessThanOrEqual(2 * tickTarget(px) + 1);
      expect(t[0]).toBeGreaterThanOrEqual(lo);
      expect(t[t.length - 1]).toBeLessThanOrEqual(hi);
    }
    expect(niceTicks(5, 5, 5)).toEqual([5]);
    expect(stepDecimals([35, 35.5])).toBe(1);
    expect(stepDecimals([40, 60])).toBe(0);
    expect(stepDecimals([1, 1.25])).toBe(2);
  });

  it('finds readings a line cannot draw: a single one, and ones between gaps', () => {
    expect(isolatedPoints([null, null, 37.2])).toEqual([2]);
    expect(isolatedPoints([120])).toEqual([0]);
    expect(isolatedPoints([1, 2, null, 3, null, 4, 5])).toEqual([3]);
    expect(isolatedPoints([1, 2, 3])).toEqual([]);
    expect(isolatedPoints([1, null, 3], 1, 2)).toEqual([2]);
  });
});
