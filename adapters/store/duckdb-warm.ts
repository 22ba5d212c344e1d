/**
 * The trend cache's start-up warm (ADR 0011, fifth amendment): the trend window's sealed rollup
 * rows loaded in the background, WARM_BATCH_ROWS per statement through the store's queue (inserts
 * and queries run between batches). Only when the window fits in WARM_SHARE of the cache: then it
 * is covered (a series it does not hold has no sealed rows there); otherwise queries fill it.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Logger } from 'pino';
import type { SerialConnection } from './duckdb-conn.js';
import { AGG_SELECT, aggsOf, sealedRollupHi } from './duckdb-rollup.js';
import { MINUTE_MS, type MinuteAgg } from './rollup.js';
import type { SealedRollupCache } from './sealed-cache.js';
import { sqlInt } from './sql.js';
import { seriesKey } from './tail-rollup.js';

/** Start-up warm only when the window's rows fit in this share of the cache (room for the seals to come). */
const WARM_SHARE = 0.8;

/** Most rows one start-up warm statement reads (a few ms of DuckDB work; other work queues between batches). */
export const WARM_BATCH_ROWS = 20_000;

/** Patients of the listed series in batches of about `maxRows` rows each, in listing order (most recent first). */
export function warmBatches(series: ReadonlyArray<{ patientKey: string; rows: number }>, maxRows: number): string[][] {
  const batches: string[][] = [[]];
  const seen = new Set<string>();
  let inBatch = 0;
  for (const x of series) {
    if (inBatch > 0 && inBatch + x.rows > maxRows) {
      batches.push([]);
      inBatch = 0;
    }
    if (!seen.has(x.patientKey)) (batches.at(-1) as string[]).push(x.patientKey);
    seen.add(x.patientKey);
    inBatch += x.rows;
  }
  return batches.filter((b) => b.length > 0);
}

/**
 * Start-up warm, step 1 (ADR 0011, fifth amendment): the series holding sealed rollup rows in
 * the trend window before the newest sealed minute, most recent first, with their row counts.
 * @param c - the connection
 * @param windowMs - the window, ms
 * @returns the window's first minute and the series, or null when nothing is sealed
 */
export async function warmListing(c: DuckDBConnection, windowMs: number): Promise<{ from: number; series: Array<{ patientKey: string; metric: string; rows: number }> } | null> {
  const hi = await sealedRollupHi(c);
  if (hi === null) return null;
  const from = Math.floor((hi - windowMs) / MINUTE_MS) * MINUTE_MS;
  const reader = await c.runAndReadAll(
    `SELECT patient_key, metric, CAST(count(*) AS DOUBLE) AS n FROM samples_rollup_1m WHERE minute_ms >= ${sqlInt(from)}
     GROUP BY patient_key, metric ORDER BY max(minute_ms) DESC, patient_key, metric`,
  );
  const [keys, metrics, ns] = reader.getColumnsJS() as [string[], string[], number[]];
  return { from, series: (keys ?? []).map((patientKey, i) => ({ patientKey, metric: metrics[i]!, rows: ns[i]! })) };
}

/**
 * Start-up warm, step 2: the sealed rows from `from` on of some patients' series, one statement.
 * @param c - the connection
 * @param from - the window's first minute
 * @param patientKeys - the patients
 * @returns per series, its rows ascending
 */
export async function warmRows(c: DuckDBConnection, from: number, patientKeys: string[]): Promise<Array<{ patientKey: string; metric: string; rows: MinuteAgg[] }>> {
  const reader = await c.runAndReadAll(
    `SELECT patient_key, metric, ${AGG_SELECT} FROM samples_rollup_1m WHERE minute_ms >= ${sqlInt(from)}
     AND patient_key IN (${patientKeys.map((_, i) => `$${i + 1}`).join(', ')}) ORDER BY patient_key, metric, minute_ms`,
    patientKeys,
  );
  const [keys, metrics, ...cols] = reader.getColumnsJS() as [string[], string[], ...Array<Array<number | null>>];
  const out: Array<{ patientKey: string; metric: string; rows: MinuteAgg[] }> = [];
  for (const [i, row] of aggsOf(cols).entries()) {
    const last = out.at(-1);
    if (last && last.patientKey === keys[i] && last.metric === metrics[i]) last.rows.push(row);
    else out.push({ patientKey: keys[i]!, metric: metrics[i]!, rows: [row] });
  }
  return out;
}

/**
 * Runs the warm, one at a time: a newer start, or invalidate(), makes a running one stop at its
 * next batch without touching the cache.
 */
export class TrendCacheWarmer {
  private gen = 0;
  /** The latest warm: resolves when it has finished, stopped or failed. */
  warmed: Promise<void> = Promise.resolve();

  constructor(
    private readonly queue: SerialConnection,
    private readonly cache: SealedRollupCache,
    private readonly cacheRows: number,
    private readonly log?: Logger,
  ) {}

  /** Stop the running warm, if any (the cache was changed under it). */
  invalidate(): void {
    this.gen += 1;
  }

  /** Start a warm (after open, migration or erasure), stopping any running one. */
  start(): void {
    if (this.cacheRows === 0) return;
    const gen = ++this.gen;
    const { queue, cache } = this;
    const live = (): boolean => gen === this.gen && !queue.closing;
    this.warmed = (async () => {
      const batches = await queue.run('trendWarm', async (c) => {
        const listed = await warmListing(c, cache.windowMs);
        if (!live()) return [];
        if (!listed) {
          // Nothing sealed: every sealed row to come is written through.
          cache.coverAll(Number.NEGATIVE_INFINITY, []);
          return [];
        }
        const rows = listed.series.reduce((n, x) => n + x.rows + 1, 0);
        if (rows > this.cacheRows * WARM_SHARE) return [];
        cache.coverAll(listed.from, listed.series.map((x) => seriesKey(x.patientKey, x.metric)));
        return warmBatches(listed.series, WARM_BATCH_ROWS).map((patients) => ({ from: listed.from, patients }));
      });
      for (const b of batches) {
        if (!live() || cache.coverFrom === null) return;
        await queue.run('trendWarm', async (c) => {
          const got = await warmRows(c, b.from, b.patients);
          if (!live()) return;
          for (const x of got) cache.warm(x.patientKey, x.metric, b.from, x.rows);
        });
      }
    })().catch((e: unknown) => {
      if (gen === this.gen) cache.uncover();
      // Closing while warming is not a failure.
      if (queue.closing) return;
      this.log?.warn({ errorName: e instanceof Error ? e.name : 'unknown' }, 'duckdb store: warming the trend cache failed; queries fill it');
    });
  }
}
