/** Issue 11's growth-run figure, shared by load/growth-run.ts and the e2e test that doubles as its harness. */

/**
 * Store rate (rows/s) over the first fifth (from 2 %, past start-up) and the last fifth of `expected`
 * rows, from progress samples taken over time; flat cost means the two are about equal.
 * @param progress - rows stored at times (ms), in time order
 */
export function storeRateFifths(progress: ReadonlyArray<{ t: number; rows: number }>, expected: number): { firstFifth: number; lastFifth: number } {
  const rateBetween = (lo: number, hi: number): number => {
    const a = progress.find((p) => p.rows >= lo);
    const b = progress.find((p) => p.rows >= hi);
    return a && b && b.t > a.t ? Math.round(((b.rows - a.rows) / (b.t - a.t)) * 1000) : Number.NaN;
  };
  return { firstFifth: rateBetween(0.02 * expected, 0.2 * expected), lastFifth: rateBetween(0.8 * expected, expected) };
}
