/** Issue 11's growth-run figure, shared by load/growth-run.ts and the e2e test that doubles as its harness. */

/**
 * Store rate (rows/s) over the first fifth (from 2 %, past start-up) and the last fifth of `expected`
 * rows, from progress samples taken over time; flat cost means the two are about equal.
 * @param progress - rows stored at times (ms), in time order
 */
export function storeRateFifths(progress: ReadonlyArray<{ t: number; rows: number }>, expected: number): { firstFifth: number; lastFifth: number; fifths: number[] } {
  const rateBetween = (lo: number, hi: number): number => {
    const a = progress.find((p) => p.rows >= lo);
    const b = progress.find((p) => p.rows >= hi);
    return a && b && b.t > a.t ? Math.round(((b.rows - a.rows) / (b.t - a.t)) * 1000) : Number.NaN;
  };
  // Every fifth too, so a rate that falls can be told from one that steps down once (e.g. when the upload ends).
  const fifths = [0.02, 0.2, 0.4, 0.6, 0.8].map((lo, i) => rateBetween(lo * expected, (i + 1) * 0.2 * expected));
  return { firstFifth: fifths[0] as number, lastFifth: fifths[4] as number, fifths };
}
