/**
 * A bounded cache of the sealed rollup's rows per series (ADR 0011, fourth and fifth
 * amendments), so a trend query reads no sealed rows from DuckDB. Pure, no I/O: duckdb.ts fills
 * it and keeps it exact through every change to `samples_rollup_1m`:
 *
 * - a seal writes its rows through: the tail's rows it appended, and the rows of the minutes it
 *   recomputed from raw rows (those replace the minutes' cached rows);
 * - rollup retention trims each entry with the rule the `DELETE` uses;
 * - erasure, a failed seal and `migrate()` clear it.
 *
 * A series is held columnar, one Float64Array of ROW_WIDTH numbers per row (no object per row:
 * a trend's answer is built from it without allocating per minute). An entry holds every sealed
 * row of its series with minute >= `from`, never part of them.
 *
 * Coverage: while `coverFrom` is set, every series with a sealed row at minute >= coverFrom is
 * held or still `pending` (listed by the start-up warm, not loaded yet). Then a series the cache
 * does not hold has no sealed rows there: a seal creates its entry from the rows it writes, and a
 * query for it from coverFrom on is answered (empty) without DuckDB. Evicting a series ends
 * coverage; when over capacity, entries are first trimmed to the trend window (`windowMs`
 * before the newest sealed minute), which keeps it.
 *
 * Memory: ROW_WIDTH × 8 = 56 bytes per row of capacity (arrays grow by half when full), bounded
 * by `capacityRows` over all series, one row counted per series too.
 */
import type { BucketPoint } from '../../core/ports.js';
import { bucketsFromRows, C_COUNT, C_HI, C_LO, C_MAX, C_MIN, C_MINUTE, C_SUM, firstRowAtOrAfter, MINUTE_MS, ROW_WIDTH, type MinuteAgg } from './rollup.js';
import { seriesKey } from './tail-rollup.js';

/** Rows [start, end) of `data` (row-major, ROW_WIDTH per row), ascending by minute, of `held` rows held; `entry` for bucketsOf. */
export interface SealedView {
  data: Float64Array;
  start: number;
  end: number;
  held: number;
  entry?: Entry;
}

interface Entry {
  id: string;
  /** Every sealed row of the series with minute >= from is held. */
  from: number;
  /** Rows held (data holds room for data.length / ROW_WIDTH). */
  n: number;
  data: Float64Array;
  /** Frozen buckets of every row held, for one step; dropped whenever the rows change. */
  buckets: { step: number; list: readonly BucketPoint[] } | null;
  /** When last put or looked up (the cache's clock): the least recent goes first. */
  used: number;
}

/** Spare rows given to a new entry, so the next seals append without growing its array. */
const ROOM = 16;

const EMPTY: SealedView = Object.freeze({ data: new Float64Array(0), start: 0, end: 0, held: 0 });

/** Rows an entry counts against the capacity: its room, one per bucket held, plus one so empty entries are bounded too. */
const cost = (e: Entry): number => e.data.length / ROW_WIDTH + (e.buckets?.list.length ?? 0) + 1;

function pack(rows: readonly MinuteAgg[], room = rows.length): Float64Array {
  const data = new Float64Array(room * ROW_WIDTH);
  for (const [i, r] of rows.entries()) {
    const o = i * ROW_WIDTH;
    data[o + C_MINUTE] = r.minute;
    data[o + C_COUNT] = r.count;
    data[o + C_MIN] = r.min;
    data[o + C_MAX] = r.max;
    data[o + C_SUM] = r.sum;
    data[o + C_LO] = r.lo ?? Number.NaN;
    data[o + C_HI] = r.hi ?? Number.NaN;
  }
  return data;
}

/**
 * @param v - rows of a series
 * @returns them as objects (the rare paths: a query whose tail meets a sealed minute, a seal that recomputed minutes)
 */
export function unpack(v: Pick<SealedView, 'data' | 'start' | 'end'>): MinuteAgg[] {
  const out: MinuteAgg[] = [];
  for (let i = v.start; i < v.end; i++) {
    const o = i * ROW_WIDTH;
    const lo = v.data[o + C_LO]!;
    const hi = v.data[o + C_HI]!;
    out.push({
      minute: v.data[o + C_MINUTE]!, count: v.data[o + C_COUNT]!, min: v.data[o + C_MIN]!, max: v.data[o + C_MAX]!, sum: v.data[o + C_SUM]!,
      lo: Number.isNaN(lo) ? null : lo, hi: Number.isNaN(hi) ? null : hi,
    });
  }
  return out;
}

const byMinute = (a: MinuteAgg, b: MinuteAgg): number => a.minute - b.minute;

/** What a seal wrote for one series: the tail's rows it appended, and the minutes it recomputed with their rows now. */
export interface SealedSeries {
  patientKey: string;
  metric: string;
  /** Tail rows appended as they are (minutes not recomputed), ascending. */
  appended: readonly MinuteAgg[];
  /** Minutes recomputed from raw rows, and every rollup row of those minutes after the seal. */
  recomputed?: { minutes: ReadonlySet<number>; rows: readonly MinuteAgg[] };
}

export class SealedRollupCache {
  // Recency is a counter on the entry, not Map order: a hit writes a number instead of deleting and
  // re-inserting its key (which left a dead slot in the Map's table per query, rehashed now and then).
  private readonly entries = new Map<string, Entry>();
  private clock = 0;
  private held = 0;
  /** See the module comment; null: no coverage (a series not held may have sealed rows). */
  private cover: number | null = null;
  /** Series listed by a start-up warm and not loaded yet (held to be sealed-row owners). */
  private pending: Set<string> | null = null;
  /** Lookups answered from memory and not. */
  hits = 0;
  misses = 0;

  /**
   * @param capacityRows - most rollup rows held over all series; 0 disables the cache
   * @param windowMs - span before the newest sealed minute kept when trimming (the longest trend served from memory)
   */
  constructor(readonly capacityRows: number, readonly windowMs = 25 * 3_600_000) {}

  /** Rollup rows the entries have room for, plus one per series. */
  get rows(): number {
    return this.held;
  }

  /** Series held. */
  get series(): number {
    return this.entries.size;
  }

  /** From which minute a series not held is known to have no sealed rows; null when not known. */
  get coverFrom(): number | null {
    return this.cover;
  }

  /** Series still to be loaded by the start-up warm. */
  get pendingSeries(): number {
    return this.pending?.size ?? 0;
  }

  /**
   * Start covering: every series with sealed rows at minute >= from is in `listed`, to be put.
   * @param from - first minute covered, epoch ms
   * @param listed - series ids (seriesKey) holding sealed rows at or after `from`
   */
  coverAll(from: number, listed: Iterable<string>): void {
    if (this.capacityRows === 0) return;
    this.cover = from;
    this.pending = new Set(listed);
    for (const id of this.entries.keys()) this.pending.delete(id);
  }

  /** Stop covering (a warm that failed or gave up). */
  uncover(): void {
    this.cover = null;
    this.pending = null;
  }

  /**
   * @param patientKey - the series' patient key
   * @param metric - the metric name
   * @param from - first minute included, epoch ms
   * @param to - minutes before this, epoch ms
   * @param count - count the lookup in hits and misses (a caller that may not use the view counts its own hit)
   * @returns the series' sealed rows in [from, to), or null when not known from memory
   */
  view(patientKey: string, metric: string, from: number, to: number, count = true): SealedView | null {
    const id = seriesKey(patientKey, metric);
    const e = this.entries.get(id);
    const n = count ? 1 : 0;
    if (!e) {
      if (this.cover !== null && from >= this.cover && !this.pending?.has(id)) {
        this.hits += n;
        return EMPTY;
      }
      this.misses += n;
      return null;
    }
    if (e.from > from) {
      this.misses += n;
      return null;
    }
    this.hits += n;
    e.used = ++this.clock;
    return { data: e.data, start: firstRowAtOrAfter(e.data, e.n, from), end: firstRowAtOrAfter(e.data, e.n, to), held: e.n, entry: e };
  }

  /**
   * The buckets of every sealed row a view's entry holds, `step` wide, built once per change of
   * its rows and shared by the queries after (frozen: a caller cannot alter another's answer).
   * Buckets at or after a query's step-aligned `from` are exact; a bucket the tail also has
   * minutes in is not (the caller builds those).
   * @param v - a view from `view()`
   * @param step - bucket width, ms
   * @returns buckets ascending, or null for a series not held
   */
  bucketsOf(v: Partial<SealedView>, step: number): readonly BucketPoint[] | null {
    const e = v.entry;
    if (!e) return null;
    if (e.buckets?.step === step) return e.buckets.list;
    return this.build(e, step);
  }

  private build(e: Entry, step: number): readonly BucketPoint[] {
    this.forget(e);
    const list = bucketsFromRows(e.data, 0, e.n, e.data, 0, 0, step, Number.MAX_SAFE_INTEGER);
    for (const b of list) Object.freeze(b);
    // Kept only where the bound has room (one row counted per bucket): buckets never evict rows.
    if (this.entries.get(e.id) === e && this.held + list.length <= this.capacityRows) {
      e.buckets = { step, list };
      this.held += list.length;
    }
    return list;
  }

  /**
   * @returns the series' sealed rows in [from, to) as objects, or null when not known from memory
   */
  get(patientKey: string, metric: string, from: number, to: number): MinuteAgg[] | null {
    const v = this.view(patientKey, metric, from, to);
    return v && unpack(v);
  }

  /**
   * Hold a series' rows. The caller must pass every sealed row with minute >= from (a statement
   * bounded above by a time past the newest sealed minute).
   * @param patientKey - the series' patient key
   * @param metric - the metric name
   * @param from - first minute the rows cover, epoch ms
   * @param rows - the series' sealed rows with minute >= from, any order
   */
  put(patientKey: string, metric: string, from: number, rows: readonly MinuteAgg[]): void {
    const id = seriesKey(patientKey, metric);
    this.pending?.delete(id);
    const had = this.entries.get(id);
    if (had) this.drop(id, had);
    // A series larger than a quarter of the cache would evict most of it for one query.
    if (this.capacityRows === 0 || rows.length + 1 > this.capacityRows / 4) {
      // Not held: the series' rows are no longer known from memory.
      this.uncover();
      return;
    }
    const sorted = rows.every((r, i) => i === 0 || rows[i - 1]!.minute <= r.minute) ? rows : [...rows].sort(byMinute);
    this.add(id, from, sorted);
    this.fit(null);
  }

  /**
   * A start-up warm's rows for a series: held unless the series is already held (written through
   * or queried since the warm listed it, so complete from its own start).
   * @param patientKey - the series' patient key
   * @param metric - the metric name
   * @param from - the warm window's first minute
   * @param rows - every sealed row of the series from `from` on, ascending
   */
  warm(patientKey: string, metric: string, from: number, rows: readonly MinuteAgg[]): void {
    const id = seriesKey(patientKey, metric);
    if (this.entries.has(id) && !this.pending?.has(id)) return;
    this.put(patientKey, metric, from, rows);
  }

  /**
   * After a seal committed: write its rows through to held series, and create the entries of
   * series it gave their first rows from `coverFrom` on (coverage says they had none).
   * @param written - per series, what the seal wrote
   * @param newestMinute - the newest sealed minute after the seal (for trimming to the window)
   */
  sealed(written: Iterable<SealedSeries>, newestMinute: number | null): void {
    for (const s of written) {
      const id = seriesKey(s.patientKey, s.metric);
      const e = this.entries.get(id);
      if (e) {
        // A series someone reads gets its buckets back now, not at its next query (never cold).
        const step = e.buckets?.step;
        this.writeThrough(id, e, s);
        const now = this.entries.get(id);
        if (step !== undefined && now && !now.buckets) this.build(now, step);
        continue;
      }
      if (this.cover === null || this.pending?.has(id)) continue;
      const cover = this.cover;
      const rows = [...s.appended, ...(s.recomputed?.rows ?? [])].filter((r) => r.minute >= cover).sort(byMinute);
      this.add(id, cover, rows);
    }
    this.fit(newestMinute);
  }

  /**
   * Rollup retention deleted the minutes with minute + 1 min <= cutoff: drop the same rows.
   * @param cutoff - the rollup's retention cutoff, epoch ms
   */
  expire(cutoff: number): void {
    for (const e of this.entries.values()) this.trimEntry(e, cutoff - MINUTE_MS + 1);
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
    this.uncover();
  }

  /** Hold a series' rows (ascending), with ROOM spare rows. */
  private add(id: string, from: number, rows: readonly MinuteAgg[]): void {
    const e: Entry = { id, from, n: rows.length, data: pack(rows, rows.length + ROOM), buckets: null, used: ++this.clock };
    this.entries.set(id, e);
    this.held += cost(e);
  }

  /** The entry's rows are about to change: its buckets go. */
  private forget(e: Entry): void {
    if (!e.buckets) return;
    if (this.entries.get(e.id) === e) this.held -= e.buckets.list.length;
    e.buckets = null;
  }

  private drop(id: string, e: Entry): void {
    this.held -= cost(e);
    this.entries.delete(id);
  }

  /** Rows before `x` leave the entry (moved down in place; its room stays). */
  private trimEntry(e: Entry, x: number): void {
    const keep = firstRowAtOrAfter(e.data, e.n, x);
    if (keep === 0) return;
    this.forget(e);
    e.data.copyWithin(0, keep * ROW_WIDTH, e.n * ROW_WIDTH);
    e.n -= keep;
  }

  private writeThrough(id: string, e: Entry, s: SealedSeries): void {
    const re = s.recomputed;
    if (re && re.minutes.size > 0) {
      this.forget(e);
      // Rare (a late sample or a copy met a sealed minute): rebuild the entry from objects.
      const rows = [...unpack({ data: e.data, start: 0, end: e.n }).filter((r) => !re.minutes.has(r.minute)), ...s.appended, ...re.rows]
        .filter((r) => r.minute >= e.from)
        .sort(byMinute);
      this.drop(id, e);
      this.add(id, e.from, rows);
      return;
    }
    const first = s.appended.findIndex((r) => r.minute >= e.from);
    if (first < 0) return;
    this.forget(e);
    const add = s.appended.length - first;
    if ((e.n + add) * ROW_WIDTH > e.data.length) {
      const room = Math.max(e.n + add, Math.ceil(e.data.length / ROW_WIDTH * 1.5));
      const data = new Float64Array(room * ROW_WIDTH);
      data.set(e.data.subarray(0, e.n * ROW_WIDTH));
      this.held -= cost(e);
      e.data = data;
      this.held += cost(e);
    }
    // Time moving on puts a seal's rows after the held ones; otherwise merge (ascending kept).
    const lastHeld = e.n > 0 ? e.data[(e.n - 1) * ROW_WIDTH + C_MINUTE]! : -Infinity;
    const tail = pack(s.appended.slice(first));
    e.data.set(tail, e.n * ROW_WIDTH);
    e.n += add;
    if (s.appended[first]!.minute < lastHeld) {
      const rows = unpack({ data: e.data, start: 0, end: e.n }).sort(byMinute);
      e.data.set(pack(rows));
    }
  }

  /** Back under capacity: trim every entry to the window, then evict least recently used series (coverage ends). */
  private fit(newestMinute: number | null): void {
    if (this.held <= this.capacityRows) return;
    if (newestMinute !== null) {
      const x = Math.floor((newestMinute - this.windowMs) / MINUTE_MS) * MINUTE_MS;
      for (const e of this.entries.values()) {
        this.trimEntry(e, x);
        e.from = Math.max(e.from, x);
        // Shrink an array mostly empty after trimming, so the room counted follows the rows held.
        if (e.n * 2 < e.data.length / ROW_WIDTH) {
          this.held -= cost(e);
          e.data = e.data.slice(0, (e.n + ROOM) * ROW_WIDTH);
          this.held += cost(e);
        }
      }
      if (this.cover !== null) this.cover = Math.max(this.cover, x);
    }
    // Over capacity is rare (a seal, a put): sorting the entries by recency then is cheap enough.
    for (const e of [...this.entries.values()].sort((a, b) => a.used - b.used)) {
      if (this.held <= this.capacityRows) return;
      const id = e.id;
      this.drop(id, e);
      this.uncover();
    }
  }
}
