/**
 * The embedded store's 1-minute rollups in DuckDB (ADR 0011 amendments): `samples_rollup_1m`,
 * the sealed runs' rollup, extended by each seal from the tail's rollup (held in memory, see
 * tail-rollup.ts, rebuilt from the tail's raw rows here); and the bucket query that reads both.
 * The pure merging lives in rollup.ts.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { BucketPoint } from '../../core/ports.js';
import { rows, transaction } from './duckdb-conn.js';
import { bucketsFromMinutes, conflictingMinutes, mergeMinutes, MINUTE_MS, type MinuteAgg } from './rollup.js';
import { sqlInt } from './sql.js';
import { unpack, type SealedRollupCache, type SealedSeries } from './sealed-cache.js';
import { seriesKey, TailRollup } from './tail-rollup.js';
import { memoryBuckets, type RollupQuery } from './trend-memory.js';

// One statement moves the unsorted tail into a sorted run; the DELETE commits with it.
const SEAL = 'INSERT INTO samples_wide SELECT * FROM samples_recent_wide ORDER BY patient_key, ts_ms';

const ROLLUP_COLUMNS = 'patient_key, metric, minute_ms, cnt, min_v, max_v, sum_v, lo_ts, hi_ts';
/** Minute aggregates (ROLLUP_COLUMNS) of de-duplicated rows; `src` yields patient_key, metric, ts_ms, value. */
const minuteAggregates = (src: string): string =>
  `SELECT patient_key, metric, (ts_ms // ${MINUTE_MS}) * ${MINUTE_MS} AS minute_ms, count(*) AS cnt, min(value) AS min_v, max(value) AS max_v, sum(value) AS sum_v,
     min(ts_ms) AS lo_ts, max(ts_ms) AS hi_ts
   FROM (SELECT DISTINCT ON (patient_key, metric, ts_ms) patient_key, metric, ts_ms, value FROM ${src}) GROUP BY patient_key, metric, minute_ms`;
/** Rollup rows as MinuteAgg columns (aggsOf reads them). */
export const AGG_SELECT = 'CAST(minute_ms AS DOUBLE) AS minute_ms, CAST(cnt AS DOUBLE) AS cnt, min_v, max_v, sum_v, CAST(lo_ts AS DOUBLE) AS lo_ts, CAST(hi_ts AS DOUBLE) AS hi_ts';
const SAME_MINUTE = (a: string, b: string): string => `${a}.patient_key = ${b}.patient_key AND ${a}.metric = ${b}.metric AND ${a}.minute_ms = ${b}.minute_ms`;
/** Spans of event times that intersect, or a span unknown (rollup rows from before migration 017). */
const SPANS_MEET = (a: string, b: string): string =>
  `(${a}.lo_ts IS NULL OR ${a}.hi_ts IS NULL OR ${b}.lo_ts IS NULL OR ${b}.hi_ts IS NULL OR (${a}.lo_ts <= ${b}.hi_ts AND ${b}.lo_ts <= ${a}.hi_ts))`;


async function bounds(c: DuckDBConnection, table: string): Promise<{ lo: number; hi: number } | null> {
  const [r] = await rows(c, `SELECT CAST(min(minute_ms) AS DOUBLE) AS lo, CAST(max(minute_ms) AS DOUBLE) AS hi FROM ${table}`);
  return r?.lo === null || r?.lo === undefined ? null : { lo: Number(r.lo), hi: Number(r.hi) };
}

/**
 * Recompute the rollup rows listed in temp table `rollup_touched` from the sealed runs (a
 * minute left without rows disappears). Inside the caller's transaction. The time bounds let
 * zone maps skip runs and rollup row groups outside the touched minutes.
 */
export async function recomputeTouched(c: DuckDBConnection): Promise<void> {
  const b = await bounds(c, 'rollup_touched');
  if (!b) return;
  const lo = sqlInt(b.lo);
  const hi = sqlInt(b.hi + MINUTE_MS);
  await c.run(`DELETE FROM samples_rollup_1m r WHERE r.minute_ms >= ${lo} AND r.minute_ms < ${hi} AND EXISTS
    (SELECT 1 FROM rollup_touched t WHERE t.patient_key = r.patient_key AND t.metric = r.metric AND t.minute_ms = r.minute_ms)`);
  await c.run(`INSERT INTO samples_rollup_1m (${ROLLUP_COLUMNS}) ${minuteAggregates(
    `(SELECT s.patient_key, s.metric, s.ts_ms, s.value FROM samples s SEMI JOIN rollup_touched t
      ON s.patient_key = t.patient_key AND s.metric = t.metric AND (s.ts_ms // ${MINUTE_MS}) * ${MINUTE_MS} = t.minute_ms
      WHERE s.ts_ms >= ${lo} AND s.ts_ms < ${hi})`,
  )} ORDER BY patient_key, metric, minute_ms`);
}

/** Connection-local table the seal writes the in-memory tail rollup into. */
const TAIL_STAGE = 'tail_rollup_stage';

/**
 * Rebuild the tail's rollup from the tail's raw rows, the truth (on open, and after a delete
 * from the tail). Reads at most sealRows rows plus a batch.
 * @param c - the connection
 * @returns the rollup of what samples_recent holds now
 */
export async function loadTailRollup(c: DuckDBConnection): Promise<TailRollup> {
  const tail = new TailRollup();
  // Event-time order, so each minute's times are appended rather than inserted.
  const reader = await c.runAndReadAll('SELECT patient_key, metric, CAST(ts_ms AS DOUBLE) AS ts, value FROM samples_recent ORDER BY ts_ms');
  const [keys, metrics, ts, values] = reader.getColumnsJS() as [string[], string[], number[], number[]];
  for (let i = 0; i < (keys?.length ?? 0); i++) tail.add(keys[i]!, metrics[i]!, ts[i]!, values[i]!);
  return tail;
}

/** Write the in-memory tail rollup into the connection's TAIL_STAGE table (inside the seal's transaction). */
async function stageTailRollup(c: DuckDBConnection, tail: TailRollup): Promise<void> {
  await c.run(`CREATE OR REPLACE TEMP TABLE ${TAIL_STAGE} (patient_key VARCHAR NOT NULL, metric VARCHAR NOT NULL, minute_ms BIGINT NOT NULL,
    cnt BIGINT NOT NULL, min_v DOUBLE NOT NULL, max_v DOUBLE NOT NULL, sum_v DOUBLE NOT NULL, lo_ts BIGINT NOT NULL, hi_ts BIGINT NOT NULL)`);
  const app = await c.createAppender(TAIL_STAGE, 'main', 'temp');
  try {
    for (const { patientKey, metric, agg } of tail.rows()) {
      app.appendVarchar(patientKey);
      app.appendVarchar(metric);
      app.appendBigInt(BigInt(agg.minute));
      app.appendBigInt(BigInt(agg.count));
      app.appendDouble(agg.min);
      app.appendDouble(agg.max);
      app.appendDouble(agg.sum);
      app.appendBigInt(BigInt(agg.lo!));
      app.appendBigInt(BigInt(agg.hi!));
      app.endRow();
    }
    app.flushSync();
  } finally {
    app.closeSync();
  }
}

/** Per series (seriesKey): the minutes a seal recomputed from raw rows, and every rollup row of them after it. */
export type Recomputed = Map<string, { minutes: Set<number>; rows: MinuteAgg[] }>;

/** Inside the seal, after recomputeTouched: the rows of the minutes in `rollup_touched`. */
async function recomputedRows(c: DuckDBConnection): Promise<Recomputed> {
  const out: Recomputed = new Map();
  const touched = await c.runAndReadAll(`SELECT patient_key, metric, CAST(minute_ms AS DOUBLE) AS minute_ms FROM rollup_touched`);
  const [keys, metrics, minutes] = touched.getColumnsJS() as [string[], string[], number[]];
  if (!keys || keys.length === 0) return out;
  for (const [i, k] of keys.entries()) {
    const id = seriesKey(k, metrics[i]!);
    const e = out.get(id) ?? { minutes: new Set<number>(), rows: [] };
    e.minutes.add(minutes[i]!);
    out.set(id, e);
  }
  const b = await bounds(c, 'rollup_touched');
  const reader = await c.runAndReadAll(
    `SELECT patient_key, metric, ${AGG_SELECT} FROM samples_rollup_1m r WHERE r.minute_ms >= ${sqlInt(b!.lo)} AND r.minute_ms <= ${sqlInt(b!.hi)}
     AND EXISTS (SELECT 1 FROM rollup_touched t WHERE ${SAME_MINUTE('t', 'r')})`,
  );
  const [rk, rm, ...cols] = reader.getColumnsJS() as [string[], string[], ...Array<Array<number | null>>];
  for (const [i, row] of aggsOf(cols).entries()) out.get(seriesKey(rk[i]!, rm[i]!))?.rows.push(row);
  return out;
}

/**
 * What a seal wrote, per series of the tail, as the sealed-rows cache takes it.
 * @param tail - the rollup of the tail just sealed
 * @param recomputed - what seal() returned
 */
export function* sealWrites(tail: TailRollup, recomputed: Recomputed): Generator<SealedSeries> {
  for (const { patientKey, metric, rows } of tail.bySeries()) {
    const re = recomputed.get(seriesKey(patientKey, metric));
    yield re ? { patientKey, metric, appended: rows.filter((r) => !re.minutes.has(r.minute)), recomputed: re } : { patientKey, metric, appended: rows };
  }
}

/**
 * Move the tail into a sorted run and its rollup (from memory, written in bulk here) into the
 * sealed rollup, in one transaction; the caller empties the in-memory rollup after it commits.
 * A tail minute the rollup lacks, or holds with a disjoint span of event times (time moving
 * on), is appended as a row of its own; a minute whose spans intersect (a late sample, a copy
 * of a sealed one) is recomputed from the sealed rows. Cost: the tail, plus the sealed rows of
 * the few intersecting minutes.
 * @param c - the connection
 * @param tail - the rollup of what samples_recent holds
 */
export async function seal(c: DuckDBConnection, tail: TailRollup): Promise<Recomputed> {
  return transaction(c, async () => {
    await stageTailRollup(c, tail);
    const b = await bounds(c, TAIL_STAGE);
    await c.run(
      `CREATE OR REPLACE TEMP TABLE rollup_touched AS SELECT DISTINCT m.patient_key, m.metric, m.minute_ms FROM ${TAIL_STAGE} m
       JOIN (SELECT * FROM samples_rollup_1m WHERE ${b ? `minute_ms >= ${sqlInt(b.lo)} AND minute_ms <= ${sqlInt(b.hi)}` : 'FALSE'}) r
       ON ${SAME_MINUTE('m', 'r')} WHERE ${SPANS_MEET('m', 'r')}`,
    );
    await c.run(SEAL);
    await c.run(
      `INSERT INTO samples_rollup_1m (${ROLLUP_COLUMNS}) SELECT ${ROLLUP_COLUMNS} FROM ${TAIL_STAGE} m
       ANTI JOIN rollup_touched t ON ${SAME_MINUTE('m', 't')} ORDER BY patient_key, metric, minute_ms`,
    );
    await recomputeTouched(c);
    // The minutes the recompute rewrote, and their rows now: a cache of sealed rows takes them.
    const recomputed = await recomputedRows(c);
    await c.run('DELETE FROM samples_recent_wide');
    await c.run(`DROP TABLE ${TAIL_STAGE}`);
    await c.run('DROP TABLE rollup_touched');
    return recomputed;
  });
}

/**
 * Newest minute the sealed rollup holds (or an upper bound of it), null when it is empty: a
 * sealed-rows statement bounded above by a later time has read all of a series' rows.
 */
export async function sealedRollupHi(c: DuckDBConnection): Promise<number | null> {
  const [r] = await rows(c, 'SELECT CAST(max(minute_ms) AS DOUBLE) AS hi FROM samples_rollup_1m');
  return r?.hi === null || r?.hi === undefined ? null : Number(r.hi);
}


/**
 * Run a query selecting AGG_SELECT and read its rows column by column (a trend reads ~1,440 of
 * them; row objects cost more than the query).
 */
async function minuteAggs(c: DuckDBConnection, sql: string, key: string[]): Promise<MinuteAgg[]> {
  const reader = await c.runAndReadAll(sql, key);
  return aggsOf(reader.getColumnsJS() as Array<Array<number | null>>);
}

/** Rows from the columns AGG_SELECT reads. */
export function aggsOf(cols: Array<Array<number | null>>): MinuteAgg[] {
  const [minute, cnt, min, max, sum, lo, hi] = cols;
  const out: MinuteAgg[] = [];
  for (let i = 0; i < (minute?.length ?? 0); i++) {
    out.push({ minute: minute![i]!, count: cnt![i]!, min: min![i]!, max: max![i]!, sum: sum![i]!, lo: lo![i] ?? null, hi: hi![i] ?? null });
  }
  return out;
}

/** The sealed rollup's rows held in memory, and the newest sealed minute (an upper bound). */
export interface SealedRows {
  cache: SealedRollupCache;
  hi: (c: DuckDBConnection) => Promise<number | null>;
}

/**
 * Step-wide buckets (a multiple of a minute) of one patient-metric from the sealed rollup (one
 * statement, or none when the series' sealed rows are cached) and the tail's in memory, so a query costs the same however much raw data is held. Only a minute where a tail
 * row's span of event times meets a sealed row's can hold two copies of one sample; only those are
 * recomputed from de-duplicated raw rows.
 * @param c - the connection
 * @param q - series, minute-aligned range, bucket width and most buckets
 * @param tail - the tail's rollup
 * @param cached - the cache of sealed rows, filled here on a miss
 * @returns buckets, ascending
 */
export async function rollupBuckets(c: DuckDBConnection, q: RollupQuery, tail: TailRollup, cached: SealedRows): Promise<BucketPoint[]> {
  // The usual case: sealed rows held in memory, a tail that meets none of them; no object per minute.
  const fast = memoryBuckets(q, tail, cached.cache, true);
  if (fast) return fast;
  const view = cached.cache.view(q.patientKey, q.metric, q.from, q.to, false);
  const key = [q.patientKey, q.metric];
  let sealed = view && unpack(view);
  if (!sealed) {
    sealed = await minuteAggs(
      c,
      `SELECT ${AGG_SELECT} FROM samples_rollup_1m WHERE patient_key = $1 AND metric = $2 AND minute_ms >= ${sqlInt(q.from)} AND minute_ms < ${sqlInt(q.to)}`,
      key,
    );
    // Complete from q.from on only if nothing sealed lies at or after q.to.
    const hi = await cached.hi(c);
    if (hi === null || hi < q.to) cached.cache.put(q.patientKey, q.metric, q.from, sealed);
  }
  const recent = tail.minutes(q.patientKey, q.metric, q.from, q.to);
  const conflict = conflictingMinutes(sealed, recent);
  // Bounded to the conflicting minutes' span, not the query's range, so zone maps skip older runs.
  const exact = conflict.length === 0 ? [] : await minuteAggs(
    c,
    `SELECT ${AGG_SELECT} FROM (${minuteAggregates(
      `(SELECT * FROM samples_all WHERE patient_key = $1 AND metric = $2 AND ts_ms >= ${sqlInt(conflict[0]!)} AND ts_ms < ${sqlInt(conflict.at(-1)! + MINUTE_MS)}
        AND (ts_ms // ${MINUTE_MS}) * ${MINUTE_MS} IN (${conflict.map(sqlInt).join(', ')}))`,
    )})`,
    key,
  );
  return bucketsFromMinutes(mergeMinutes(sealed, recent, exact, conflict), q.step, q.limit);
}
