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

/**
 * Rows as columns without an object per row (sealed-cache.ts, tail-rollup.ts): ROW_WIDTH numbers
 * per row in one Float64Array, row-major: minute, count, min, max, sum, lo, hi (lo, hi NaN: unknown).
 */
export const ROW_WIDTH = 7;
export const C_MINUTE = 0;
export const C_COUNT = 1;
export const C_MIN = 2;
export const C_MAX = 3;
export const C_SUM = 4;
export const C_LO = 5;
export const C_HI = 6;

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
  if (recent.length === 0 || sealed.length === 0) return [];
  // Keyed by the tail's minutes (few; a trend's sealed rows are ~1,440): one lookup per sealed row.
  const tailMinutes = new Map<number, MinuteAgg[]>();
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of recent) {
    const xs = tailMinutes.get(r.minute);
    if (xs) xs.push(r);
    else tailMinutes.set(r.minute, [r]);
    lo = Math.min(lo, r.minute);
    hi = Math.max(hi, r.minute);
  }
  const out = new Set<number>();
  // Time-ordered data puts the tail after nearly every sealed row: compare before looking up.
  for (const s of sealed) if (s.minute >= lo && s.minute <= hi && tailMinutes.get(s.minute)?.some((r) => intersect(s, r))) out.add(s.minute);
  return [...out].sort((a, b) => a - b);
}

const ascending = (xs: readonly MinuteAgg[]): boolean => {
  for (let i = 1; i < xs.length; i++) if (xs[i - 1]!.minute > xs[i]!.minute) return false;
  return true;
};
const byMinute = (a: MinuteAgg, b: MinuteAgg): number => a.minute - b.minute;

/**
 * Exact partial aggregates: every row as it is, except in conflicting minutes, which come from
 * `exact` (recomputed over both sides). A conflicting minute absent from `exact` has no rows left.
 * @param sealed - rollup rows
 * @param recent - tail rollup rows
 * @param exact - recomputed aggregates of the conflicting minutes
 * @param conflicts - conflictingMinutes(sealed, recent), when the caller has it already
 * @returns rows ascending by minute; rows of one minute never share a sample
 */
export function mergeMinutes(
  sealed: readonly MinuteAgg[],
  recent: readonly MinuteAgg[],
  exact: readonly MinuteAgg[],
  conflicts: readonly number[] = conflictingMinutes(sealed, recent),
): MinuteAgg[] {
  if (conflicts.length > 0) {
    const conflict = new Set(conflicts);
    const out = [...sealed, ...recent].filter((m) => !conflict.has(m.minute));
    for (const m of exact) if (conflict.has(m.minute)) out.push(m);
    return out.sort(byMinute);
  }
  // The usual case (no conflict, both sides ascending): one linear merge, no sort.
  const a = ascending(sealed) ? sealed : [...sealed].sort(byMinute);
  const b = ascending(recent) ? recent : [...recent].sort(byMinute);
  const out: MinuteAgg[] = new Array<MinuteAgg>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i]!.minute <= b[j]!.minute ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

/**
 * Group minutes into step-aligned buckets (`step` a multiple of a minute), the earliest `limit`.
 * @param minutes - exact partial aggregates; rows of one minute must not share a sample
 * @param step - bucket width in ms
 * @param limit - most buckets returned
 * @returns buckets, ascending; empty buckets omitted
 */
export function bucketsFromMinutes(minutes: readonly MinuteAgg[], step: number, limit: number): BucketPoint[] {
  const xs = ascending(minutes) ? minutes : [...minutes].sort(byMinute);
  const out: BucketPoint[] = [];
  // Ascending input: a bucket's rows are consecutive, so one pass accumulates each in turn. Plain
  // locals, no closure: doubles held in a closure's context are boxed on every write (garbage).
  let ts = Number.NaN;
  let count = 0;
  let min = 0;
  let max = 0;
  let sum = 0;
  for (const m of xs) {
    if (m.count <= 0) continue;
    const b = Math.floor(m.minute / step) * step;
    if (b === ts) {
      count += m.count;
      if (m.min < min) min = m.min;
      if (m.max > max) max = m.max;
      sum += m.sum;
      continue;
    }
    if (count > 0) {
      out.push({ ts, min, max, avg: sum / count, count });
      if (out.length === limit) return out;
    }
    ts = b;
    count = m.count;
    min = m.min;
    max = m.max;
    sum = m.sum;
  }
  if (count > 0 && out.length < limit) out.push({ ts, min, max, avg: sum / count, count });
  return out;
}

/** Index of the first of rows [0, n) (ROW_WIDTH apart, ascending by minute) whose minute is >= x. */
export function firstRowAtOrAfter(data: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (data[mid * ROW_WIDTH + C_MINUTE]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Whether a tail row may share a sample with a sealed row (the same minute, spans of event times
 * that meet or are unknown): the caller then takes the path that recomputes those minutes.
 * @param a - sealed rows [aStart, aEnd), ascending by minute
 * @param b - tail rows [bStart, bEnd), ascending by minute
 */
export function rowsMeet(a: Float64Array, aStart: number, aEnd: number, b: Float64Array, bStart: number, bEnd: number): boolean {
  if (bStart >= bEnd) return false;
  // Jump to the tail's first minute: walking a day of sealed rows (~80 KB) would cost more than the rest of the query.
  let i = Math.max(aStart, firstRowAtOrAfter(a, aEnd, b[bStart * ROW_WIDTH + C_MINUTE]!));
  for (let j = bStart; j < bEnd; j++) {
    const o = j * ROW_WIDTH;
    const minute = b[o + C_MINUTE]!;
    while (i < aEnd && a[i * ROW_WIDTH + C_MINUTE]! < minute) i++;
    for (let k = i; k < aEnd && a[k * ROW_WIDTH + C_MINUTE] === minute; k++) {
      const lo = a[k * ROW_WIDTH + C_LO]!;
      const hi = a[k * ROW_WIDTH + C_HI]!;
      // NaN (unknown) compares false: counted as meeting.
      if (!(lo > b[o + C_HI]! || b[o + C_LO]! > hi)) return true;
    }
  }
  return false;
}

/**
 * bucketsFromMinutes(mergeMinutes(a, b, [])) without an object per minute: one pass over both
 * ascending row sets (ties: the sealed row first, as mergeMinutes orders them), so the only
 * allocations are the answer's. Rows of one minute must not share a sample (rowsMeet false).
 * @param a - sealed rows [aStart, aEnd), ascending by minute
 * @param b - tail rows [bStart, bEnd), ascending by minute
 * @param step - bucket width in ms
 * @param limit - most buckets returned
 * @returns buckets, ascending; empty buckets omitted
 */
export function bucketsFromRows(a: Float64Array, aStart: number, aEnd: number, b: Float64Array, bStart: number, bEnd: number, step: number, limit: number): BucketPoint[] {
  const out: BucketPoint[] = [];
  let i = aStart;
  let j = bStart;
  let ts = Number.NaN;
  let count = 0;
  let min = 0;
  let max = 0;
  let sum = 0;
  while (i < aEnd || j < bEnd) {
    let xs: Float64Array;
    let o: number;
    if (j >= bEnd || (i < aEnd && a[i * ROW_WIDTH + C_MINUTE]! <= b[j * ROW_WIDTH + C_MINUTE]!)) {
      xs = a;
      o = i++ * ROW_WIDTH;
    } else {
      xs = b;
      o = j++ * ROW_WIDTH;
    }
    const n = xs[o + C_COUNT]!;
    if (n <= 0) continue;
    const bucket = Math.floor(xs[o + C_MINUTE]! / step) * step;
    if (bucket === ts) {
      count += n;
      if (xs[o + C_MIN]! < min) min = xs[o + C_MIN]!;
      if (xs[o + C_MAX]! > max) max = xs[o + C_MAX]!;
      sum += xs[o + C_SUM]!;
      continue;
    }
    if (count > 0) {
      out.push({ ts, min, max, avg: sum / count, count });
      if (out.length === limit) return out;
    }
    ts = bucket;
    count = n;
    min = xs[o + C_MIN]!;
    max = xs[o + C_MAX]!;
    sum = xs[o + C_SUM]!;
  }
  if (count > 0 && out.length < limit) out.push({ ts, min, max, avg: sum / count, count });
  return out;
}
