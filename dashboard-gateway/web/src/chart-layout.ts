/** Patient-view chart geometry and y-axis ticks (pure). */

/** Below this a trend is unreadable; above it a chart is mostly empty space. */
export const MIN_CHART_PX = 200;
export const MAX_CHART_PX = 460;

/**
 * Plot height that lets `rows` rows of charts fill `available` px: each row also has
 * `chrome` px of caption and padding, and rows are `gap` px apart.
 */
export function chartHeight(available: number, rows: number, gap: number, chrome: number): number {
  const per = (available - gap * Math.max(0, rows - 1)) / Math.max(1, rows) - chrome;
  if (!Number.isFinite(per)) return MIN_CHART_PX;
  return Math.round(Math.min(MAX_CHART_PX, Math.max(MIN_CHART_PX, per)));
}

/** Tick count a plot of `px` height can label legibly (a label every ~40 px), at least 5. */
export function tickTarget(px: number): number {
  return Math.max(5, Math.min(12, Math.floor(px / 40)));
}

/**
 * Round-numbered ticks over [min, max], 1, 2 or 5 × 10^k apart: the step whose tick count
 * is closest to `target` (the coarser one on a tie), never fewer than 4 when any step gives 4.
 */
export function niceTicks(min: number, max: number, target: number): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || max <= min) return Number.isFinite(min) ? [min] : [];
  const count = (s: number): number => Math.floor(max / s + 1e-9) - Math.ceil(min / s - 1e-9) + 1;
  const mag = Math.floor(Math.log10(max - min));
  let step = 10 ** (mag + 1);
  let best = Infinity;
  for (let k = mag + 1; k >= mag - 3; k--) {
    for (const f of [5, 2, 1]) {
      const s = f * 10 ** k;
      const n = count(s);
      if (n < 4) continue;
      const d = Math.abs(n - target);
      if (d < best) {
        best = d;
        step = s;
      }
    }
  }
  const out: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

/** Decimals a tick step needs: 0 for 10, 1 for 0.5, 2 for 0.25. */
export function stepDecimals(ticks: readonly number[]): number {
  if (ticks.length < 2) return 0;
  const step = Math.abs((ticks[1] as number) - (ticks[0] as number));
  for (let d = 0; d < 4; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-6) return d;
  return 3;
}

/**
 * Indices of values that stand alone (no neighbour on either side): a line draws nothing
 * for them, so they get a marker of their own. A series of one reading is one such value.
 */
export function isolatedPoints(ys: ReadonlyArray<number | null | undefined>, i0 = 0, i1 = ys.length - 1): number[] {
  const out: number[] = [];
  const has = (i: number): boolean => i >= 0 && i < ys.length && ys[i] !== null && ys[i] !== undefined;
  for (let i = Math.max(0, i0); i <= Math.min(ys.length - 1, i1); i++) if (has(i) && !has(i - 1) && !has(i + 1)) out.push(i);
  return out;
}
