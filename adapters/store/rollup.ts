/**
 * Pure pieces of the embedded store's 1-minute rollup (ADR 0011 amendment): merging the
 * rollup of sealed runs with the aggregates of the unsorted tail, and grouping minutes into
 * step-wide buckets. No I/O: duckdb.ts runs the queries.
 */
import type { BucketPoint } from '../../core/ports.js';

export const MINUTE_MS = 60_000;

/** De-duplicated aggregates of one patient-metric's samples in one minute. */
export interface MinuteAgg {
  /** Start of the minute, epoch ms. */
  minute: number;
  count: number;
  min: number;
  max: number;
  sum: number;
}

/**
 * Minutes present both in the rollup (sealed runs) and in the tail. Only there can one sample
 * have a copy on each side, so only these need recomputing from de-duplicated raw rows.
 * @param sealed - rollup rows
 * @param recent - tail aggregates (de-duplicated within the tail)
 * @returns minute starts, ascending
 */
export function overlappingMinutes(sealed: readonly MinuteAgg[], recent: readonly MinuteAgg[]): number[] {
  const inSealed = new Set(sealed.map((m) => m.minute));
  return [...new Set(recent.map((m) => m.minute).filter((m) => inSealed.has(m)))].sort((a, b) => a - b);
}

/**
 * One exact aggregate per minute: sealed and tail minutes as they are, except overlapping
 * minutes, which come from `exact` (recomputed over both sides). An overlapping minute absent
 * from `exact` has no rows left and is dropped.
 * @param sealed - rollup rows
 * @param recent - tail aggregates
 * @param exact - recomputed aggregates of the overlapping minutes
 * @returns minutes, ascending
 */
export function mergeMinutes(sealed: readonly MinuteAgg[], recent: readonly MinuteAgg[], exact: readonly MinuteAgg[]): MinuteAgg[] {
  const overlap = new Set(overlappingMinutes(sealed, recent));
  const out = [...sealed, ...recent].filter((m) => !overlap.has(m.minute));
  for (const m of exact) if (overlap.has(m.minute)) out.push(m);
  return out.sort((a, b) => a.minute - b.minute);
}

/**
 * Group minutes into step-aligned buckets (`step` a multiple of a minute), the earliest `limit`.
 * @param minutes - exact minute aggregates, each minute at most once
 * @param step - bucket width in ms
 * @param limit - most buckets returned
 * @returns buckets, ascending; empty buckets omitted
 */
export function bucketsFromMinutes(minutes: readonly MinuteAgg[], step: number, limit: number): BucketPoint[] {
  const byBucket = new Map<number, { count: number; min: number; max: number; sum: number }>();
  for (const m of minutes) {
    if (m.count <= 0) continue;
    const b = Math.floor(m.minute / step) * step;
    const acc = byBucket.get(b);
    if (!acc) byBucket.set(b, { count: m.count, min: m.min, max: m.max, sum: m.sum });
    else {
      acc.count += m.count;
      acc.min = Math.min(acc.min, m.min);
      acc.max = Math.max(acc.max, m.max);
      acc.sum += m.sum;
    }
  }
  return [...byBucket.entries()]
    .sort((a, b) => a[0] - b[0])
    .slice(0, limit)
    .map(([ts, a]) => ({ ts, min: a.min, max: a.max, avg: a.sum / a.count, count: a.count }));
}
