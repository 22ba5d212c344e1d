/**
 * A bounded cache of the sealed rollup's rows per series (ADR 0011, fourth amendment), so a
 * repeated trend query reads no sealed rows from DuckDB. Pure, no I/O: duckdb.ts fills it from
 * the sealed-rollup statement and keeps it exact through every change to `samples_rollup_1m`:
 *
 * - a seal appends the tail's rollup rows (the same rows it writes) to each cached series, and
 *   drops a series the seal recomputed minutes of (its rows were rewritten from raw rows);
 * - rollup retention trims each entry with the rule the `DELETE` uses;
 * - erasure, a failed seal and `migrate()` clear it.
 *
 * An entry holds every sealed row of its series with minute >= `from`, nothing is ever partial:
 * it is only stored when the statement that filled it reached past the newest sealed minute.
 * Memory is bounded by `capacityRows` (least recently used series evicted first).
 */
import { MINUTE_MS, type MinuteAgg } from './rollup.js';
import { lowerBound, seriesKey } from './tail-rollup.js';

interface Entry {
  /** Every sealed row of the series with minute >= from is held. */
  from: number;
  /** Ascending by minute; rows of one minute never share a sample (the seal's rule). */
  rows: MinuteAgg[];
}

/** Rows an entry counts against the capacity: one more than it holds, so empty entries are bounded too. */
const cost = (rows: readonly MinuteAgg[]): number => rows.length + 1;

/** Index of the first row whose minute is >= x (rows ascending by minute). */
const firstAtOrAfter = (rows: readonly MinuteAgg[], x: number): number => lowerBound(rows.length, x, (i) => rows[i]!.minute);

export class SealedRollupCache {
  // Map iteration order is insertion order: re-inserting on use makes the first key the least recent.
  private readonly entries = new Map<string, Entry>();
  private held = 0;
  /** Lookups answered from memory and not. */
  hits = 0;
  misses = 0;

  /** @param capacityRows - most rollup rows held over all series; 0 disables the cache */
  constructor(readonly capacityRows: number) {}

  /** Rollup rows held, plus one per series. */
  get rows(): number {
    return this.held;
  }

  /** Series held. */
  get series(): number {
    return this.entries.size;
  }

  /**
   * @param patientKey - the series' patient key
   * @param metric - the metric name
   * @param from - first minute included, epoch ms
   * @param to - minutes before this, epoch ms
   * @returns the series' sealed rows in [from, to), ascending by minute, or null when not held
   */
  get(patientKey: string, metric: string, from: number, to: number): MinuteAgg[] | null {
    const id = seriesKey(patientKey, metric);
    const e = this.entries.get(id);
    if (!e || e.from > from) {
      this.misses += 1;
      return null;
    }
    this.hits += 1;
    this.entries.delete(id);
    this.entries.set(id, e);
    return e.rows.slice(firstAtOrAfter(e.rows, from), firstAtOrAfter(e.rows, to));
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
    this.remove(id);
    // A series larger than a quarter of the cache would evict most of it for one query.
    if (this.capacityRows === 0 || cost(rows) > this.capacityRows / 4) return;
    const e = { from, rows: [...rows] };
    if (!e.rows.every((r, i) => i === 0 || e.rows[i - 1]!.minute <= r.minute)) e.rows.sort((a, b) => a.minute - b.minute);
    this.entries.set(id, e);
    this.held += cost(e.rows);
    this.evict();
  }

  /**
   * After a seal committed: add the rows it appended to the rollup, drop the series it recomputed.
   * @param tailRows - the sealed tail's rollup rows of a series (what the seal appended for it)
   * @param recomputed - series ids (seriesKey) the seal recomputed minutes of
   */
  sealed(tailRows: (patientKey: string, metric: string, from: number) => readonly MinuteAgg[], recomputed: ReadonlySet<string>): void {
    for (const [id, e] of [...this.entries]) {
      if (recomputed.has(id)) {
        this.remove(id);
        continue;
      }
      const [patientKey, metric] = id.split('\u0000') as [string, string];
      const added = tailRows(patientKey, metric, e.from);
      if (added.length === 0) continue;
      e.rows = e.rows.concat(added).sort((a, b) => a.minute - b.minute);
      this.held += added.length;
    }
    this.evict();
  }

  /**
   * Rollup retention deleted the minutes with minute + 1 min <= cutoff: drop the same rows.
   * @param cutoff - the rollup's retention cutoff, epoch ms
   */
  expire(cutoff: number): void {
    for (const e of this.entries.values()) {
      const keep = firstAtOrAfter(e.rows, cutoff - MINUTE_MS + 1);
      if (keep === 0) continue;
      e.rows = e.rows.slice(keep);
      this.held -= keep;
    }
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }

  private remove(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.held -= cost(e.rows);
    this.entries.delete(id);
  }

  private evict(): void {
    for (const id of this.entries.keys()) {
      if (this.held <= this.capacityRows) return;
      this.remove(id);
    }
  }
}

