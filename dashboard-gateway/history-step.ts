/** Choosing raw points or rollup buckets for a history query, with a bounded result. */

export const MAX_POINTS = 10_000;
/** Ranges up to this long are served raw under `auto`. */
export const RAW_AUTO_MAX_MS = 2 * 3600_000;

export function chooseStep(from: number, to: number, step: string): { step: 'raw' | number; limit: number } | { error: string } {
  const span = Math.max(1, to - from);
  if (step === 'raw') {
    // Raw export of a long range would be unbounded: at 1 Hz that is 86,400 points a day.
    if (span > 24 * 3600_000) return { error: 'step=raw covers at most 24 h; use a bucket step for longer ranges' };
    return { step: 'raw', limit: MAX_POINTS * 10 };
  }
  if (step === 'auto') {
    if (span <= RAW_AUTO_MAX_MS) return { step: 'raw', limit: MAX_POINTS };
    const minutes = Math.ceil(span / 60_000 / 1000); // ~1000 buckets
    return { step: Math.max(1, minutes) * 60_000, limit: MAX_POINTS };
  }
  const ms = Number(step);
  if (!Number.isInteger(ms) || ms < 1000) return { error: 'step is raw, auto, or a bucket width in ms (>= 1000)' };
  if (span / ms > MAX_POINTS) return { error: `that step gives more than ${MAX_POINTS} buckets; use a larger step` };
  return { step: ms, limit: MAX_POINTS };
}
