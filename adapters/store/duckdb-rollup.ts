/**
 * The embedded store's 1-minute rollups in DuckDB (ADR 0011 amendments): `samples_recent_1m`,
 * the unsorted tail's rollup, kept per insert; `samples_rollup_1m`, the sealed runs' rollup,
 * extended by each seal; and the bucket query that reads both. The pure merging lives in rollup.ts.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { BucketPoint } from '../../core/ports.js';
import { rows, transaction } from './duckdb-conn.js';
import { STAGE } from './duckdb-append.js';
import { bucketsFromMinutes, conflictingMinutes, mergeMinutes, MINUTE_MS, type MinuteAgg } from './rollup.js';
import { sqlInt } from './sql.js';

// One statement moves the unsorted tail into a sorted run; the DELETE commits with it.
const SEAL = 'INSERT INTO samples SELECT * FROM samples_recent ORDER BY patient_key, metric, ts_ms';

const ROLLUP_COLUMNS = 'patient_key, metric, minute_ms, cnt, min_v, max_v, sum_v, lo_ts, hi_ts';
/**
 * Minute aggregates (ROLLUP_COLUMNS) of de-duplicated rows; `src` yields patient_key, metric, ts_ms, value.
 * `unique`: the caller knows `src` holds no two rows of one identity, so the DISTINCT ON is skipped.
 */
export const minuteAggregates = (src: string, unique = false): string =>
  `SELECT patient_key, metric, (ts_ms // ${MINUTE_MS}) * ${MINUTE_MS} AS minute_ms, count(*) AS cnt, min(value) AS min_v, max(value) AS max_v, sum(value) AS sum_v,
     min(ts_ms) AS lo_ts, max(ts_ms) AS hi_ts
   FROM ${unique ? src : `(SELECT DISTINCT ON (patient_key, metric, ts_ms) patient_key, metric, ts_ms, value FROM ${src})`} GROUP BY patient_key, metric, minute_ms`;
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

/**
 * Bring the tail's rollup up to date with the batch in the temp table STAGE (already copied
 * into samples_recent), inside the insert's transaction, in one MERGE. A batch's minute new to
 * the tail is inserted; one whose span of event times is disjoint from the tail row's (time
 * moving on, the usual case) is added into it; one whose span meets it (a re-delivered copy, a
 * late sample) is deleted, then recomputed from the tail's raw rows of that minute, so a copy
 * never counts twice. Cost: the batch and the tail's rollup (at most one row per tail row);
 * raw rows only for minutes whose spans meet.
 * @param batch - earliest and latest event time in the batch (bounds the recompute); whether
 *   no two of its samples share a key and a timestamp (then no row needs de-duplicating)
 */
export async function updateTailRollup(c: DuckDBConnection, batch: { lo: number; hi: number; unique: boolean }): Promise<void> {
  const merged = await c.runAndReadAll(
    `MERGE INTO samples_recent_1m r USING (${minuteAggregates(STAGE, batch.unique)}) b ON ${SAME_MINUTE('r', 'b')}
     WHEN MATCHED AND (b.hi_ts < r.lo_ts OR r.hi_ts < b.lo_ts) THEN UPDATE SET cnt = r.cnt + b.cnt, min_v = least(r.min_v, b.min_v),
       max_v = greatest(r.max_v, b.max_v), sum_v = r.sum_v + b.sum_v, lo_ts = least(r.lo_ts, b.lo_ts), hi_ts = greatest(r.hi_ts, b.hi_ts)
     WHEN MATCHED THEN DELETE
     WHEN NOT MATCHED THEN INSERT (${ROLLUP_COLUMNS}) VALUES (${ROLLUP_COLUMNS.split(', ').map((col) => `b.${col}`).join(', ')})
     RETURNING merge_action = 'DELETE' AS met`,
  );
  if (!merged.getColumnsJS()[0]?.some((met) => met === true)) return;
  // The deleted minutes are the batch's minutes now missing from the tail's rollup.
  const lo = sqlInt(Math.floor(batch.lo / MINUTE_MS) * MINUTE_MS);
  const hi = sqlInt(Math.floor(batch.hi / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
  await c.run(`INSERT INTO samples_recent_1m (${ROLLUP_COLUMNS}) ${minuteAggregates(
    `(SELECT s.patient_key, s.metric, s.ts_ms, s.value FROM samples_recent s SEMI JOIN
       (SELECT DISTINCT patient_key, metric, (ts_ms // ${MINUTE_MS}) * ${MINUTE_MS} AS minute_ms FROM ${STAGE} x
        WHERE NOT EXISTS (SELECT 1 FROM samples_recent_1m r WHERE r.patient_key = x.patient_key AND r.metric = x.metric AND r.minute_ms = (x.ts_ms // ${MINUTE_MS}) * ${MINUTE_MS})) t
      ON s.patient_key = t.patient_key AND s.metric = t.metric AND (s.ts_ms // ${MINUTE_MS}) * ${MINUTE_MS} = t.minute_ms
      WHERE s.ts_ms >= ${lo} AND s.ts_ms < ${hi})`,
  )}`);
}

/** Recompute the tail's rollup from the tail's raw rows (after a delete from the tail; rare). */
export async function rebuildTailRollup(c: DuckDBConnection): Promise<void> {
  await c.run('DELETE FROM samples_recent_1m');
  await c.run(`INSERT INTO samples_recent_1m (${ROLLUP_COLUMNS}) ${minuteAggregates('samples_recent')}`);
}

/**
 * Move the tail into a sorted run and its rollup into the sealed rollup, in one transaction.
 * A tail minute the rollup lacks, or holds with a disjoint span of event times (time moving
 * on), is appended as a row of its own; a minute whose spans intersect (a late sample, a copy
 * of a sealed one) is recomputed from the sealed rows. Cost: the tail, plus the sealed rows of
 * the few intersecting minutes.
 */
export async function seal(c: DuckDBConnection): Promise<void> {
  await transaction(c, async () => {
    const b = await bounds(c, 'samples_recent_1m');
    await c.run(
      `CREATE OR REPLACE TEMP TABLE rollup_touched AS SELECT DISTINCT m.patient_key, m.metric, m.minute_ms FROM samples_recent_1m m
       JOIN (SELECT * FROM samples_rollup_1m WHERE ${b ? `minute_ms >= ${sqlInt(b.lo)} AND minute_ms <= ${sqlInt(b.hi)}` : 'FALSE'}) r
       ON ${SAME_MINUTE('m', 'r')} WHERE ${SPANS_MEET('m', 'r')}`,
    );
    await c.run(SEAL);
    await c.run(
      `INSERT INTO samples_rollup_1m (${ROLLUP_COLUMNS}) SELECT ${ROLLUP_COLUMNS} FROM samples_recent_1m m
       ANTI JOIN rollup_touched t ON ${SAME_MINUTE('m', 't')} ORDER BY patient_key, metric, minute_ms`,
    );
    await recomputeTouched(c);
    await c.run('DELETE FROM samples_recent');
    await c.run('DELETE FROM samples_recent_1m');
    await c.run('DROP TABLE rollup_touched');
  });
}

const span = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const minuteAgg = (x: Record<string, unknown>): MinuteAgg => ({
  minute: Number(x.minute_ms), count: Number(x.cnt), min: Number(x.min_v), max: Number(x.max_v), sum: Number(x.sum_v), lo: span(x.lo_ts), hi: span(x.hi_ts),
});
const AGG_SELECT = 'CAST(minute_ms AS DOUBLE) AS minute_ms, CAST(cnt AS DOUBLE) AS cnt, min_v, max_v, sum_v, CAST(lo_ts AS DOUBLE) AS lo_ts, CAST(hi_ts AS DOUBLE) AS hi_ts';

/**
 * Step-wide buckets (a multiple of a minute) of one patient-metric from both rollups, in one
 * statement, so a query costs the same however much raw data is held. Only a minute where a tail
 * row's span of event times meets a sealed row's can hold two copies of one sample; only those are
 * recomputed from de-duplicated raw rows.
 * @param c - the connection
 * @param q - series, minute-aligned range, bucket width and most buckets
 * @returns buckets, ascending
 */
export async function rollupBuckets(
  c: DuckDBConnection,
  q: { patientKey: string; metric: string; from: number; to: number; step: number; limit: number },
): Promise<BucketPoint[]> {
  const key = [q.patientKey, q.metric];
  const range = `patient_key = $1 AND metric = $2 AND minute_ms >= ${sqlInt(q.from)} AND minute_ms < ${sqlInt(q.to)}`;
  const both = await rows(
    c,
    `SELECT false AS tail, ${AGG_SELECT} FROM samples_rollup_1m WHERE ${range} UNION ALL SELECT true, ${AGG_SELECT} FROM samples_recent_1m WHERE ${range}`,
    key,
  );
  const sealed = both.filter((x) => x.tail !== true).map(minuteAgg);
  const recent = both.filter((x) => x.tail === true).map(minuteAgg);
  const conflict = conflictingMinutes(sealed, recent);
  // Bounded to the conflicting minutes' span, not the query's range, so zone maps skip older runs.
  const exact = conflict.length === 0 ? [] : (
    await rows(c, `SELECT ${AGG_SELECT} FROM (${minuteAggregates(
      `(SELECT * FROM samples_all WHERE patient_key = $1 AND metric = $2 AND ts_ms >= ${sqlInt(conflict[0]!)} AND ts_ms < ${sqlInt(conflict.at(-1)! + MINUTE_MS)}
        AND (ts_ms // ${MINUTE_MS}) * ${MINUTE_MS} IN (${conflict.map(sqlInt).join(', ')}))`,
    )})`, key)
  ).map(minuteAgg);
  return bucketsFromMinutes(mergeMinutes(sealed, recent, exact), q.step, q.limit);
}
