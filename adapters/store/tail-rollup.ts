/**
 * The embedded store's tail rollup held in memory (ADR 0011, third amendment): per series
 * (patient key and metric) and minute, count, min, max, sum and the span of event times of the
 * unsorted tail's de-duplicated rows. Pure, no I/O: duckdb.ts folds each committed batch in,
 * answers the recent part of a trend query from it, writes it out in bulk at each seal, and
 * rebuilds it from the tail's raw rows (the truth) when a store opens or the tail is edited.
 *
 * Exact without reading raw rows: each minute keeps its event times sorted, so a re-delivered
 * copy (same identity: patient key, metric, ts_ms) is recognised and skipped. Memory is bounded by
 * the tail (sealRows): one number per raw row plus one entry per series-minute.
 */
import { C_COUNT, C_HI, C_LO, C_MAX, C_MIN, C_MINUTE, C_SUM, MINUTE_MS, ROW_WIDTH, type MinuteAgg } from './rollup.js';

interface Minute {
  count: number;
  min: number;
  max: number;
  sum: number;
  /** Event times held, ascending, unique. */
  ts: number[];
}

/** One series-minute of the tail rollup, as the seal writes it. */
export interface TailRollupRow {
  patientKey: string;
  metric: string;
  agg: MinuteAgg;
}

/** One series' id in the tail rollup and the sealed-rows cache (also what a seal reports as recomputed). */
export const seriesKey = (patientKey: string, metric: string): string => `${patientKey}\u0000${metric}`;

/**
 * Index of the first position whose value is >= x, values ascending by position.
 * @param n - positions 0..n-1
 * @param x - the bound
 * @param valueAt - the value at a position
 */
export function lowerBound(n: number, x: number, valueAt: (i: number) => number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (valueAt(mid) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const toAgg = (minute: number, m: Minute): MinuteAgg => ({
  minute, count: m.count, min: m.min, max: m.max, sum: m.sum, lo: m.ts[0]!, hi: m.ts[m.ts.length - 1]!,
});

// One buffer for every scan (a query uses its rows before the next one starts): no garbage per query.
let scratch = new Float64Array(512 * ROW_WIDTH);

export class TailRollup {
  private readonly series = new Map<string, { patientKey: string; metric: string; minutes: Map<number, Minute> }>();
  private minuteCount = 0;

  /** Series-minutes held (what `samples_recent_1m` would hold). */
  get size(): number {
    return this.minuteCount;
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
    const id = seriesKey(patientKey, metric);
    let s = this.series.get(id);
    if (!s) {
      s = { patientKey, metric, minutes: new Map() };
      this.series.set(id, s);
    }
    const minute = Math.floor(ts / MINUTE_MS) * MINUTE_MS;
    const m = s.minutes.get(minute);
    if (!m) {
      s.minutes.set(minute, { count: 1, min: value, max: value, sum: value, ts: [ts] });
      this.minuteCount += 1;
      return true;
    }
    // Time moving on (the usual case) appends; a late sample or a copy searches.
    if (ts > m.ts[m.ts.length - 1]!) m.ts.push(ts);
    else {
      const i = lowerBound(m.ts.length, ts, (j) => m.ts[j]!);
      if (m.ts[i] === ts) return false;
      m.ts.splice(i, 0, ts);
    }
    m.count += 1;
    m.min = Math.min(m.min, value);
    m.max = Math.max(m.max, value);
    m.sum += value;
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
    const s = this.series.get(seriesKey(patientKey, metric));
    if (!s) return [];
    const out: MinuteAgg[] = [];
    for (const [minute, m] of s.minutes) if (minute >= from && minute < to) out.push(toAgg(minute, m));
    return out.sort((a, b) => a.minute - b.minute);
  }

  /**
   * The series' minutes in [from, to) as rows (ROW_WIDTH numbers each, see rollup.ts), ascending,
   * in a buffer shared by all scans: valid until the next call.
   * @param patientKey - the series' patient key
   * @param metric - the metric name
   * @param from - first minute start included, epoch ms
   * @param to - minute starts before this, epoch ms
   * @returns the rows, or null when the series' minutes were not created in time order (a late
   *   sample opened an earlier minute: the caller sorts objects instead)
   */
  scan(patientKey: string, metric: string, from: number, to: number): { data: Float64Array; n: number } | null {
    const s = this.series.get(seriesKey(patientKey, metric));
    if (!s) return { data: scratch, n: 0 };
    if (s.minutes.size * ROW_WIDTH > scratch.length) scratch = new Float64Array(s.minutes.size * 2 * ROW_WIDTH);
    let n = 0;
    let last = -Infinity;
    for (const [minute, m] of s.minutes) {
      if (minute < last) return null;
      last = minute;
      if (minute < from || minute >= to) continue;
      const o = n++ * ROW_WIDTH;
      scratch[o + C_MINUTE] = minute;
      scratch[o + C_COUNT] = m.count;
      scratch[o + C_MIN] = m.min;
      scratch[o + C_MAX] = m.max;
      scratch[o + C_SUM] = m.sum;
      scratch[o + C_LO] = m.ts[0]!;
      scratch[o + C_HI] = m.ts[m.ts.length - 1]!;
    }
    return { data: scratch, n };
  }

  /** Per series, its minutes ascending: what a seal writes, as the sealed-rows cache takes it. */
  *bySeries(): Generator<{ patientKey: string; metric: string; rows: MinuteAgg[] }> {
    for (const s of this.series.values()) {
      const rows: MinuteAgg[] = [];
      for (const [minute, m] of s.minutes) rows.push(toAgg(minute, m));
      yield { patientKey: s.patientKey, metric: s.metric, rows: rows.sort((a, b) => a.minute - b.minute) };
    }
  }

  /** @returns the newest minute held, or null when empty */
  newestMinute(): number | null {
    let hi: number | null = null;
    for (const s of this.series.values()) for (const minute of s.minutes.keys()) if (hi === null || minute > hi) hi = minute;
    return hi;
  }

  /** Every series-minute, for the seal to write in one go. */
  *rows(): Generator<TailRollupRow> {
    for (const s of this.series.values()) for (const [minute, m] of s.minutes) yield { patientKey: s.patientKey, metric: s.metric, agg: toAgg(minute, m) };
  }
}
