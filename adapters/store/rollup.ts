/**
 * Pure pieces of the embedded store's 1-minute rollup (ADR 0011 amendments): merging the
 * rollup of sealed runs with the tail's rollup, and grouping minutes into step-wide buckets.
 * No I/O: duckdb.ts runs the queries.
 *
 * A row is a partial aggregate of one patient-metric-minute, de-duplicated within itself, with
 * the span of event times it covers. Rows of one minute whose spans are disjoint cannot share a
 * sample (a copy has the same ts_ms), so they add up exactly; where spans intersect, the minute
 * is recomputed from de-duplicated raw rows instead.
 */
import type { BucketPoint } from '../../core/ports.js';

export const MINUTE_MS = 60_000;

/** De-duplicated aggregates of some of one patient-metric's samples in one minute. */
export interface MinuteAgg {
  /** Start of the minute, epoch ms. */
  minute: number;
  count: number;
  min: number;
  max: number;
  sum: number;
  /** Earliest and latest ts_ms aggregated; null when unknown (rows from before migration 017). */
  lo: number | null;
  hi: number | null;
}

const intersect = (a: MinuteAgg, b: MinuteAgg): boolean =>
  a.lo === null || a.hi === null || b.lo === null || b.hi === null || (a.lo <= b.hi && b.lo <= a.hi);

/**
 * Minutes where a tail row may share a sample with a sealed row (their spans intersect, or a
 * span is unknown): only these need recomputing from de-duplicated raw rows. Sealed rows of one
 * minute are disjoint among themselves (the seal recomputes a minute otherwise).
 * @param sealed - rollup rows (several per minute possible)
 * @param recent - tail rollup rows (one per minute)
 * @returns minute starts, ascending
 */
export function conflictingMinutes(sealed: readonly MinuteAgg[], recent: readonly MinuteAgg[]): number[] {
  const byMinute = new Map<number, MinuteAgg[]>();
  for (const s of sealed) {
    const xs = byMinute.get(s.minute);
    if (xs) xs.push(s);
    else byMinute.set(s.minute, [s]);
  }
  const out = new Set<number>();
  for (const r of recent) if (byMinute.get(r.minute)?.some((s) => intersect(s, r))) out.add(r.minute);
  return [...out].sort((a, b) => a - b);
}

/**
 * Exact partial aggregates: every row as it is, except in conflicting minutes, which come from
 * `exact` (recomputed over both sides). A conflicting minute absent from `exact` has no rows left.
 * @param sealed - rollup rows
 * @param recent - tail rollup rows
 * @param exact - recomputed aggregates of the conflicting minutes
 * @returns rows ascending by minute; rows of one minute never share a sample
 */
export function mergeMinutes(sealed: readonly MinuteAgg[], recent: readonly MinuteAgg[], exact: readonly MinuteAgg[]): MinuteAgg[] {
  const conflict = new Set(conflictingMinutes(sealed, recent));
  const out = [...sealed, ...recent].filter((m) => !conflict.has(m.minute));
  for (const m of exact) if (conflict.has(m.minute)) out.push(m);
  return out.sort((a, b) => a.minute - b.minute);
}

/**
 * Group minutes into step-aligned buckets (`step` a multiple of a minute), the earliest `limit`.
 * @param minutes - exact partial aggregates; rows of one minute must not share a sample
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
