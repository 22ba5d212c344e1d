/**
 * The embedded store's tail rollup held in memory (ADR 0011, third amendment): per series
 * (patient key and metric) and minute, count, min, max, sum and the span of event times of the
 * unsorted tail's de-duplicated rows. Pure, no I/O: duckdb.ts folds each committed batch in,
 * answers the recent part of a trend query from it, writes it out in bulk at each seal, and
 * rebuilds it from the tail's raw rows (the truth) when a store opens or the tail is edited.
 *
 * Columnar (ADR 0011, sixth amendment): a series is two Float64Arrays, its minutes as rows of
 * ROW_WIDTH numbers (the layout of rollup.ts, ascending by minute, so a query reads them in place)
 * and its event times, ascending and unique, so a re-delivered copy (same identity: patient key,
 * metric, ts_ms) is recognised and skipped exactly without reading raw rows. No object per minute
 * or per row; memory is bounded by the tail (sealRows): 8 bytes per raw row plus 56 per
 * series-minute, arrays doubling when full.
 */
import type { BucketPoint } from '../../core/ports.js';
import { C_COUNT, C_HI, C_LO, C_MAX, C_MIN, C_MINUTE, C_SUM, firstRowAtOrAfter, MINUTE_MS, ROW_WIDTH, type MinuteAgg } from './rollup.js';

/** One series-minute of the tail rollup, as the seal writes it. */
export interface TailRollupRow {
  patientKey: string;
  metric: string;
  agg: MinuteAgg;
}

/** One series of the tail: read in place by the trend query (duckdb-rollup.ts), written only here. */
export interface TailSeries {
  readonly patientKey: string;
  readonly metric: string;
  /** Minutes [0, n) as rows of ROW_WIDTH numbers, ascending by minute, one row per minute. */
  rows: Float64Array;
  n: number;
  /** Event times [0, nTs), ascending, unique. */
  ts: Float64Array;
  nTs: number;
  /**
   * Buckets from the tail's first bucket on, built by a query and shared by the next ones until
   * this series or its sealed rows change (`sealed`: the sealed bucket list they were built with;
   * `clean`: no tail minute meets a sealed row held then).
   */
  buckets: { step: number; sealed: object; list: readonly BucketPoint[]; clean: boolean } | null;
}

/** One series' id in the tail rollup and the sealed-rows cache (also what a seal reports as recomputed). */
export const seriesKey = (patientKey: string, metric: string): string => `${patientKey}\u0000${metric}`;

/**
 * Index of the first position whose value is >= x, values ascending by position.
 * @param n - positions 0..n-1
 * @param x - the bound
 * @param valueAt - the value at a position
 */
function lowerBound(n: number, x: number, valueAt: (i: number) => number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (valueAt(mid) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const grow = (a: Float64Array, need: number): Float64Array => {
  if (need <= a.length) return a;
  const b = new Float64Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
};

const aggAt = (d: Float64Array, i: number): MinuteAgg => {
  const o = i * ROW_WIDTH;
  return { minute: d[o + C_MINUTE]!, count: d[o + C_COUNT]!, min: d[o + C_MIN]!, max: d[o + C_MAX]!, sum: d[o + C_SUM]!, lo: d[o + C_LO]!, hi: d[o + C_HI]! };
};

export class TailRollup {
  // By patient key, then metric: no key string is built per folded row.
  private readonly byPatient = new Map<string, Map<string, TailSeries>>();
  private minuteCount = 0;

  /** Series-minutes held (what `samples_recent_1m` would hold). */
  get size(): number {
    return this.minuteCount;
  }

  /**
   * @param patientKey - the series' patient key
   * @param metric - the metric name
   * @returns the series, read in place (valid until the next add), or undefined when the tail has none
   */
  series(patientKey: string, metric: string): TailSeries | undefined {
    return this.byPatient.get(patientKey)?.get(metric);
  }

  /**
   * Fold one raw row in; a row whose identity the tail already holds is skipped (the first kept).
   * @param patientKey - the row's patient key
   * @param metric - the metric name
   * @param ts - event time, epoch ms
   * @param value - the value
   * @returns whether the row was new
   */
  add(patientKey: string, metric: string, ts: number, value: number): boolean {
    let p = this.byPatient.get(patientKey);
    if (!p) {
      p = new Map();
      this.byPatient.set(patientKey, p);
    }
    let s = p.get(metric);
    if (!s) {
      s = { patientKey, metric, rows: new Float64Array(8 * ROW_WIDTH), n: 0, ts: new Float64Array(64), nTs: 0, buckets: null };
      p.set(metric, s);
    }
    // Time moving on (the usual case) appends; a late sample or a copy searches.
    if (s.nTs === 0 || ts > s.ts[s.nTs - 1]!) {
      s.ts = grow(s.ts, s.nTs + 1);
      s.ts[s.nTs++] = ts;
    } else {
      const held = s.ts;
      const i = lowerBound(s.nTs, ts, (j) => held[j]!);
      if (s.ts[i] === ts) return false;
      s.ts = grow(s.ts, s.nTs + 1);
      s.ts.copyWithin(i + 1, i, s.nTs);
      s.ts[i] = ts;
      s.nTs += 1;
    }
    s.buckets = null;
    const minute = Math.floor(ts / MINUTE_MS) * MINUTE_MS;
    const last = s.n > 0 ? s.rows[(s.n - 1) * ROW_WIDTH + C_MINUTE]! : -Infinity;
    let r: number;
    if (minute === last) r = s.n - 1;
    else {
      r = minute > last ? s.n : firstRowAtOrAfter(s.rows, s.n, minute);
      if (r === s.n || s.rows[r * ROW_WIDTH + C_MINUTE] !== minute) {
        // A new minute (in place: later minutes move up one row when it is a late one).
        s.rows = grow(s.rows, (s.n + 1) * ROW_WIDTH);
        if (r < s.n) s.rows.copyWithin((r + 1) * ROW_WIDTH, r * ROW_WIDTH, s.n * ROW_WIDTH);
        const o = r * ROW_WIDTH;
        s.rows[o + C_MINUTE] = minute;
        s.rows[o + C_COUNT] = 1;
        s.rows[o + C_MIN] = value;
        s.rows[o + C_MAX] = value;
        s.rows[o + C_SUM] = value;
        s.rows[o + C_LO] = ts;
        s.rows[o + C_HI] = ts;
        s.n += 1;
        this.minuteCount += 1;
        return true;
      }
    }
    const o = r * ROW_WIDTH;
    const d = s.rows;
    d[o + C_COUNT] = d[o + C_COUNT]! + 1;
    if (value < d[o + C_MIN]!) d[o + C_MIN] = value;
    if (value > d[o + C_MAX]!) d[o + C_MAX] = value;
    d[o + C_SUM] = d[o + C_SUM]! + value;
    if (ts < d[o + C_LO]!) d[o + C_LO] = ts;
    if (ts > d[o + C_HI]!) d[o + C_HI] = ts;
    return true;
  }

  /**
   * @param patientKey - the series' patient key
   * @param metric - the metric name
   * @param from - first minute start included, epoch ms
   * @param to - minute starts before this, epoch ms
   * @returns the series' minutes in [from, to), ascending
   */
  minutes(patientKey: string, metric: string, from: number, to: number): MinuteAgg[] {
    const s = this.series(patientKey, metric);
    if (!s) return [];
    const out: MinuteAgg[] = [];
    for (let i = firstRowAtOrAfter(s.rows, s.n, from); i < s.n && s.rows[i * ROW_WIDTH + C_MINUTE]! < to; i++) out.push(aggAt(s.rows, i));
    return out;
  }

  /** Per series, its minutes ascending: what a seal writes, as the sealed-rows cache takes it. */
  *bySeries(): Generator<{ patientKey: string; metric: string; rows: MinuteAgg[] }> {
    for (const p of this.byPatient.values()) {
      for (const s of p.values()) {
        const rows: MinuteAgg[] = [];
        for (let i = 0; i < s.n; i++) rows.push(aggAt(s.rows, i));
        yield { patientKey: s.patientKey, metric: s.metric, rows };
      }
    }
  }

  /** @returns the newest minute held, or null when empty */
  newestMinute(): number | null {
    let hi: number | null = null;
    for (const p of this.byPatient.values()) {
      for (const s of p.values()) {
        const m = s.n > 0 ? s.rows[(s.n - 1) * ROW_WIDTH + C_MINUTE]! : null;
        if (m !== null && (hi === null || m > hi)) hi = m;
      }
    }
    return hi;
  }

  /** Every series-minute, for the seal to write in one go. */
  *rows(): Generator<TailRollupRow> {
    for (const p of this.byPatient.values()) for (const s of p.values()) for (let i = 0; i < s.n; i++) yield { patientKey: s.patientKey, metric: s.metric, agg: aggAt(s.rows, i) };
  }
}
