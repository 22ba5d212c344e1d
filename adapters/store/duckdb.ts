/**
 * Embedded Store adapter on DuckDB (single process, a file or ':memory:').
 *
 * Raw samples are appended (DuckDB appender, no index) to `samples_recent`, and every `sealRows`
 * rows moved to `samples` as one run sorted by patient, metric and time: insert cost and memory do
 * not grow with what the store holds, and a query for one patient reads few row groups.
 * Re-delivered copies are hidden at read time by the `samples_unique` view (ADR 0011). Alerts, audit and scores are few and keep primary keys plus INSERT OR IGNORE.
 * Every insert keeps `samples_recent_1m`, the tail's 1-minute rollup, up to date, and sealing a run
 * moves it into `samples_rollup_1m` (per patient, metric and minute, from de-duplicated rows):
 * minute-multiple bucket queries read the two rollups, never the raw tail (ADR 0011 amendments).
 * Appends yield to the event loop every APPEND_CHUNK_ROWS rows.
 * Strings are bound as parameters; only validated numbers are inlined.
 */
import { DuckDBInstance, DuckDBTimestampValue, type DuckDBAppender, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { Logger } from 'pino';
import { VitalsError, isVitalsError } from '../../core/errors.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import type { AuditEvent } from '../../core/audit.js';
import type { AlertQuery, AuditQuery, BucketPoint, HistoryQuery, RawPoint, RetentionPolicy, ScoreQuery } from '../../core/ports.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import { sampleKey, type CanonicalSample } from '../../core/vitals.js';
import { loadMigrations, schemaDir, type AppliedMigration, type IntrospectableStore } from './migrations.js';
import {
  alertRow,
  auditFromRow,
  auditRow,
  parseAlertJson,
  parseScoreJson,
  planAlerts,
  planAudit,
  planHistory,
  planScores,
  retentionCutoffs,
  sampleRows,
  scoreRow,
  type SampleRow,
} from './rows.js';
import { bucketsFromMinutes, conflictingMinutes, mergeMinutes, MINUTE_MS, type MinuteAgg } from './rollup.js';
import { assertSqlString, sqlInt } from './sql.js';

export interface DuckDbStoreOptions {
  /** Database file path, or ':memory:'. */
  path: string;
  log?: Logger;
  /** healthy() gives up after this long. Default 2000 ms. */
  healthTimeoutMs?: number;
  /** DuckDB `memory_limit` in MB (buffer pool; a file database spills beyond it). Default 512. */
  memoryLimitMb?: number;
  /** DuckDB worker threads. Default 1: in `vitals start` the other core serves the event loop. */
  threads?: number;
  /** Move recent rows into a sorted run once this many have been appended. Default 500 000. */
  sealRows?: number;
  /**
   * Rows appended between yields to the event loop. Default APPEND_CHUNK_ROWS;
   * Number.MAX_SAFE_INTEGER appends a batch in one go (the pre-amendment behaviour, a benchmark baseline).
   */
  appendChunkRows?: number;
}

export const DUCKDB_DEFAULT_MEMORY_MB = 512;
export const DUCKDB_DEFAULT_THREADS = 1;
/**
 * About four DuckDB row groups: the unsorted tail a query scans in full stays small, while each
 * sorted run puts one patient-metric's rows in one or two row groups (ADR 0011 has the figures).
 */
export const DUCKDB_DEFAULT_SEAL_ROWS = 500_000;

// One statement moves the unsorted tail into a sorted run; the DELETE commits with it.
const SEAL = 'INSERT INTO samples SELECT * FROM samples_recent ORDER BY patient_key, metric, ts_ms';

/** Connection-local staging table of insertSamples (see there). */
const STAGE = 'samples_stage';

/** Rows appended between two yields to the event loop: a 10,000-sample batch never holds it for long. */
export const APPEND_CHUNK_ROWS = 500;

const ROLLUP_COLUMNS = 'patient_key, metric, minute_ms, cnt, min_v, max_v, sum_v, lo_ts, hi_ts';
/**
 * Minute aggregates (ROLLUP_COLUMNS) of de-duplicated rows; `src` yields patient_key, metric, ts_ms, value.
 * `unique`: the caller knows `src` holds no two rows of one identity, so the DISTINCT ON is skipped.
 */
const minuteAggregates = (src: string, unique = false): string =>
  `SELECT patient_key, metric, (ts_ms // ${MINUTE_MS}) * ${MINUTE_MS} AS minute_ms, count(*) AS cnt, min(value) AS min_v, max(value) AS max_v, sum(value) AS sum_v,
     min(ts_ms) AS lo_ts, max(ts_ms) AS hi_ts
   FROM ${unique ? src : `(SELECT DISTINCT ON (patient_key, metric, ts_ms) patient_key, metric, ts_ms, value FROM ${src})`} GROUP BY patient_key, metric, minute_ms`;
const SAME_MINUTE = (a: string, b: string): string => `${a}.patient_key = ${b}.patient_key AND ${a}.metric = ${b}.metric AND ${a}.minute_ms = ${b}.minute_ms`;
/** Spans of event times that intersect, or a span unknown (rollup rows from before migration 017). */
const SPANS_MEET = (a: string, b: string): string =>
  `(${a}.lo_ts IS NULL OR ${a}.hi_ts IS NULL OR ${b}.lo_ts IS NULL OR ${b}.hi_ts IS NULL OR (${a}.lo_ts <= ${b}.hi_ts AND ${b}.lo_ts <= ${a}.hi_ts))`;

/** The engine settings a DuckDB store runs with, read back from DuckDB. */
export interface DuckDbEngineSettings {
  memoryLimitMb: number;
  threads: number;
}

export interface DuckDbStore extends IntrospectableStore {
  engineSettings(): Promise<DuckDbEngineSettings>;
  /** Raw rows (copies included) in sorted runs and in the unsorted tail; rows of the sealed and of the tail's 1-minute rollup. */
  sampleRowCounts(): Promise<{ sorted: number; recent: number; rollup: number; recentRollup: number }>;
}

/**
 * Append rows (the `samples` column order) and flush; the caller closes the appender.
 * @param app - an appender on samples_recent (or a table of the same shape)
 * @param batch - validated rows
 */
export function appendSampleRows(app: DuckDBAppender, batch: readonly SampleRow[]): void {
  appendRowRange(app, batch, 0, batch.length);
  app.flushSync();
}

/**
 * Validate, convert and append a batch in chunks of about `chunkRows` rows, yielding to the event
 * loop between chunks, so a large batch (a backfill) never stalls /metrics or WebSocket delivery.
 * Converting is the larger part of the work, so it is chunked too: an invalid sample
 * throws mid-way and the caller's transaction rolls the batch back (still all or nothing).
 * @param app - an appender on samples_recent, inside the caller's transaction
 * @param samples - the batch
 * @param chunkRows - rows per chunk
 * @returns rows appended
 */
export async function appendSamplesYielding(app: DuckDBAppender, samples: readonly CanonicalSample[], chunkRows = APPEND_CHUNK_ROWS): Promise<number> {
  // A sample has one row per metric: four or five in practice.
  const step = Math.max(1, Math.ceil(chunkRows / 4));
  let appended = 0;
  for (let i = 0; i < samples.length; i += step) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const rows = sampleRows(samples.slice(i, i + step), i);
    appendRowRange(app, rows, 0, rows.length);
    // The appender buffers many chunks and writes them in one synchronous flush (~100 ms for
    // 40,000 rows on a loaded 2-core box): flushing each chunk keeps every step short.
    app.flushSync();
    appended += rows.length;
  }
  return appended;
}

function appendRowRange(app: DuckDBAppender, batch: readonly SampleRow[], from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const r = batch[i]!;
    app.appendVarchar(r.patient_key);
    app.appendVarchar(r.patient_id);
    app.appendVarchar(r.device_id);
    app.appendVarchar(r.ward);
    app.appendVarchar(r.metric);
    app.appendTimestamp(new DuckDBTimestampValue(BigInt(r.ts_ms) * 1000n));
    app.appendBigInt(BigInt(r.ts_ms));
    app.appendDouble(r.value);
    app.appendFloat(r.quality);
    app.appendVarchar(r.source);
    app.appendBigInt(BigInt(r.recv_ts_ms));
    app.appendVarchar(r.trace_id);
    app.endRow();
  }
}

function positiveInt(v: number, min: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < min) throw new VitalsError('VTL_ERR_CONFIG', `duckdb ${what} must be an integer >= ${min}`);
  return v;
}

/**
 * Open (or create) a DuckDB-backed Store. Call `migrate()` before use.
 * @param opts - file path (or ':memory:'), optional pino logger
 * @returns the store
 */
export async function createDuckDbStore(opts: DuckDbStoreOptions): Promise<DuckDbStore> {
  const log = opts.log;
  const healthTimeoutMs = opts.healthTimeoutMs ?? 2000;
  // Explicit, because DuckDB's defaults (80% of RAM, one thread per core) assume it owns the box.
  const memoryLimitMb = positiveInt(opts.memoryLimitMb ?? DUCKDB_DEFAULT_MEMORY_MB, 64, 'memory limit (MB)');
  const threads = positiveInt(opts.threads ?? DUCKDB_DEFAULT_THREADS, 1, 'threads');
  const sealRows = positiveInt(opts.sealRows ?? DUCKDB_DEFAULT_SEAL_ROWS, 1, 'sealRows');
  const appendChunkRows = positiveInt(opts.appendChunkRows ?? APPEND_CHUNK_ROWS, 1, 'appendChunkRows');
  const instance = await DuckDBInstance.create(opts.path, { memory_limit: `${memoryLimitMb}MiB`, threads: String(threads) });
  const conn = await instance.connect();
  // A second connection so health checks never wait behind (or join) a write transaction.
  const healthConn = await instance.connect();
  let closing = false;
  let closed = false;

  // One connection, one transaction at a time: every operation runs through this queue so that
  // BEGIN ... COMMIT sequences and the staging table are never interleaved.
  let tail: Promise<unknown> = Promise.resolve();
  function serial<T>(op: string, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    if (closing) return Promise.reject(new VitalsError('VTL_ERR_STORE_UNAVAILABLE', 'duckdb store is closed'));
    const run = async (): Promise<T> => {
      try {
        return await fn(conn);
      } catch (e) {
        if (isVitalsError(e)) throw e;
        // The driver's message can quote row values (constraint errors): keep it only as the cause.
        throw new VitalsError('VTL_ERR_INTERNAL', `duckdb ${op} failed`, { cause: e });
      }
    };
    const p = tail.then(run, run);
    tail = p.catch(() => undefined);
    return p;
  }

  async function transaction<T>(c: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
    await c.run('BEGIN TRANSACTION');
    try {
      const out = await fn();
      await c.run('COMMIT');
      return out;
    } catch (e) {
      await c.run('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  async function rows(c: DuckDBConnection, sql: string, values?: DuckDBValue[]): Promise<Record<string, unknown>[]> {
    const reader = await c.runAndReadAll(sql, values);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  async function applied(c: DuckDBConnection): Promise<AppliedMigration[]> {
    const r = await rows(c, 'SELECT version, name FROM schema_migrations ORDER BY version');
    return r.map((x) => ({ version: Number(x.version), name: String(x.name) }));
  }

  // Rows in samples_recent; null until read from the database (after migrate()).
  let recentRows: number | null = null;

  async function bounds(c: DuckDBConnection, table: string): Promise<{ lo: number; hi: number } | null> {
    const [r] = await rows(c, `SELECT CAST(min(minute_ms) AS DOUBLE) AS lo, CAST(max(minute_ms) AS DOUBLE) AS hi FROM ${table}`);
    return r?.lo === null || r?.lo === undefined ? null : { lo: Number(r.lo), hi: Number(r.hi) };
  }

  /**
   * Recompute the rollup rows listed in temp table `rollup_touched` from the sealed runs (a
   * minute left without rows disappears). Inside the caller's transaction. The time bounds let
   * zone maps skip runs and rollup row groups outside the touched minutes.
   */
  async function recomputeTouched(c: DuckDBConnection): Promise<void> {
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
  async function updateTailRollup(c: DuckDBConnection, batch: { lo: number; hi: number; unique: boolean }): Promise<void> {
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
  async function rebuildTailRollup(c: DuckDBConnection): Promise<void> {
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
  async function seal(c: DuckDBConnection): Promise<void> {
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
    recentRows = 0;
  }

  async function sealIfFull(c: DuckDBConnection): Promise<void> {
    recentRows ??= Number((await rows(c, 'SELECT count(*) AS n FROM samples_recent'))[0]?.n);
    if (recentRows < sealRows) return;
    await seal(c);
  }

  const span = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  const minuteAgg = (x: Record<string, unknown>): MinuteAgg => ({
    minute: Number(x.minute_ms), count: Number(x.cnt), min: Number(x.min_v), max: Number(x.max_v), sum: Number(x.sum_v), lo: span(x.lo_ts), hi: span(x.hi_ts),
  });
  const AGG_SELECT = 'CAST(minute_ms AS DOUBLE) AS minute_ms, CAST(cnt AS DOUBLE) AS cnt, min_v, max_v, sum_v, CAST(lo_ts AS DOUBLE) AS lo_ts, CAST(hi_ts AS DOUBLE) AS hi_ts';

  const ensureLedger = (c: DuckDBConnection): Promise<unknown> =>
    c.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)');

  return {
    kind: 'duckdb',

    async migrate() {
      const migrations = await loadMigrations(schemaDir('duckdb'));
      await serial('migrate', async (c) => {
        await ensureLedger(c);
        // The staging table copies samples_recent's shape; a migration may change it.
        await c.run(`DROP TABLE IF EXISTS temp.main.${STAGE}`);
        const done = new Set((await applied(c)).map((m) => m.version));
        for (const m of migrations) {
          if (done.has(m.version)) continue;
          // DDL and its ledger row commit together: a crash never leaves a half-recorded step.
          await transaction(c, async () => {
            await c.run(m.sql);
            await c.run('INSERT INTO schema_migrations VALUES ($1, $2, current_timestamp::TIMESTAMP)', [m.version, m.name]);
          });
          log?.info({ version: m.version, migration: m.name }, 'store migration applied');
        }
      });
    },

    async appliedMigrations() {
      return serial('appliedMigrations', async (c) => {
        await ensureLedger(c);
        return applied(c);
      });
    },

    async insertSamples(samples: CanonicalSample[]) {
      if (samples.length === 0) return;
      // A copy inside one batch is rare; knowing there is none spares the rollup's MERGE a
      // DISTINCT ON (about half its cost). Conservative: one key and timestamp seen twice counts.
      const seen = new Set<string>();
      const batchInfo = { lo: Infinity, hi: -Infinity, unique: true };
      for (const x of samples) {
        batchInfo.lo = Math.min(batchInfo.lo, x.ts);
        batchInfo.hi = Math.max(batchInfo.hi, x.ts);
        if (!batchInfo.unique) continue;
        const id = `${sampleKey(x)}\u0000${x.ts}`;
        if (seen.has(id)) batchInfo.unique = false;
        else seen.add(id);
      }
      // One transaction around the appender: a batch is stored whole or not at all.
      let appended = 0;
      await serial('insertSamples', async (c) => {
        await transaction(c, async () => {
          // Staged in an in-memory temp table, then copied by one statement that DuckDB runs off
          // the event loop: appending to the file table directly writes each filled row group
          // (compressed, to disk) inside a synchronous flush, a 50-100 ms stall every ~120k rows.
          await c.run(`CREATE TEMP TABLE IF NOT EXISTS ${STAGE} AS SELECT * FROM samples_recent LIMIT 0`);
          const app = await c.createAppender(STAGE, 'main', 'temp');
          try {
            appended = await appendSamplesYielding(app, samples, appendChunkRows);
          } finally {
            app.closeSync();
          }
          await c.run(`INSERT INTO samples_recent SELECT * FROM ${STAGE}`);
          await updateTailRollup(c, batchInfo);
          await c.run(`DELETE FROM ${STAGE}`);
        });
        if (recentRows !== null) recentRows += appended;
        // The batch is committed: a failed seal must not fail the insert (the sink would retry
        // a stored batch). Reads stay correct over an unsorted tail; the next insert retries.
        await sealIfFull(c).catch((e: unknown) => {
          recentRows = null;
          log?.warn({ errorName: e instanceof Error ? e.name : 'unknown' }, 'duckdb store: moving recent samples to a sorted run failed; will retry');
        });
      });
    },

    async insertAlertEvents(events: AlertEvent[]) {
      const batch = events.map(alertRow);
      if (batch.length === 0) return;
      await serial('insertAlertEvents', (c) =>
        transaction(c, async () => {
          for (const r of batch) {
            await c.run(
              `INSERT OR IGNORE INTO alert_events VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, epoch_ms($10::BIGINT), $10, $11, $12, $13, $14, $15)`,
              [r.event_id, r.alert_id, r.patient_id, r.ward, r.rule_id, r.kind, r.priority, r.state, r.event,
                BigInt(r.ts_ms), BigInt(r.opened_at_ms), r.ack_by, r.message, r.value, r.json],
            );
          }
        }),
      );
    },

    async insertAudit(events: AuditEvent[]) {
      const batch = events.map(auditRow);
      if (batch.length === 0) return;
      await serial('insertAudit', (c) =>
        transaction(c, async () => {
          for (const r of batch) {
            await c.run(
              'INSERT OR IGNORE INTO audit VALUES ($1, epoch_ms($2::BIGINT), $2, $3, $4, $5, $6, $7, $8, $9)',
              [r.id, BigInt(r.ts_ms), r.user_id, r.role, r.action, r.resource, r.patient_id, r.address, r.outcome],
            );
          }
        }),
      );
    },

    async insertScores(scores: ScoreOutput[]) {
      const batch = scores.map(scoreRow);
      if (batch.length === 0) return;
      await serial('insertScores', (c) =>
        transaction(c, async () => {
          for (const r of batch) {
            await c.run('INSERT OR IGNORE INTO news2_scores VALUES ($1, $2, epoch_ms($3::BIGINT), $3, $4, $5, $6, $7, $8)', [
              r.patient_id, r.ward, BigInt(r.ts_ms), r.score, r.max_score, r.risk, r.complete, r.json,
            ]);
          }
        }),
      );
    },

    async history(q: HistoryQuery): Promise<RawPoint[] | BucketPoint[]> {
      const p = planHistory(q);
      if (p.from >= p.to) return [];
      const where = `patient_key = $1 AND metric = $2 AND ts_ms >= ${sqlInt(p.from)} AND ts_ms < ${sqlInt(p.to)}`;
      if (p.kind === 'raw') {
        const r = await serial('history', (c) =>
          rows(c, `SELECT CAST(ts_ms AS DOUBLE) AS t, value FROM samples_unique WHERE ${where} ORDER BY ts_ms LIMIT ${sqlInt(p.limit)}`, [p.patientKey, p.metric]),
        );
        return r.map((x) => ({ ts: Number(x.t), value: Number(x.value) }));
      }
      if (p.useRollup) {
        const step = p.step;
        const limit = p.limit;
        // Both rollups in one statement, so a query costs the same however much raw data is held.
        // Only a minute where a tail row's span of event times meets a sealed row's can hold two
        // copies of one sample; only those are recomputed from de-duplicated raw rows.
        return serial('history', async (c) => {
          const key = [p.patientKey, p.metric];
          const range = `patient_key = $1 AND metric = $2 AND minute_ms >= ${sqlInt(p.from)} AND minute_ms < ${sqlInt(p.to)}`;
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
          return bucketsFromMinutes(mergeMinutes(sealed, recent, exact), step, limit);
        });
      }
      const step = sqlInt(p.step);
      const r = await serial('history', (c) =>
        rows(
          c,
          `SELECT CAST((ts_ms // ${step}) * ${step} AS DOUBLE) AS b, min(value) AS mn, max(value) AS mx, avg(value) AS av, CAST(count(*) AS DOUBLE) AS c
           FROM samples_unique WHERE ${where} GROUP BY b ORDER BY b LIMIT ${sqlInt(p.limit)}`,
          [p.patientKey, p.metric],
        ),
      );
      return r.map((x) => ({ ts: Number(x.b), min: Number(x.mn), max: Number(x.mx), avg: Number(x.av), count: Number(x.c) }));
    },

    async alerts(q: AlertQuery): Promise<AlertEvent[]> {
      const p = planAlerts(q);
      if (p.wards !== undefined && p.wards.length === 0) return [];
      const values: DuckDBValue[] = [];
      const param = (v: DuckDBValue): string => {
        values.push(v);
        return `$${values.length}`;
      };
      const cond: string[] = ['TRUE'];
      if (p.wards !== undefined) cond.push(`ward IN (${p.wards.map(param).join(', ')})`);
      if (p.patientId !== undefined) cond.push(`patient_id = ${param(p.patientId)}`);
      if (p.state !== undefined) cond.push(`state = ${param(p.state)}`);
      if (p.from !== undefined) cond.push(`ts_ms >= ${sqlInt(p.from)}`);
      if (p.to !== undefined) cond.push(`ts_ms < ${sqlInt(p.to)}`);
      const r = await serial('alerts', (c) =>
        rows(c, `SELECT json FROM alert_events WHERE ${cond.join(' AND ')} ORDER BY ts_ms DESC, event_id DESC LIMIT ${sqlInt(p.limit)}`, values),
      );
      return r.map((x) => parseAlertJson(x.json));
    },

    async scores(q: ScoreQuery): Promise<ScoreOutput[]> {
      const p = planScores(q);
      if (p.from >= p.to) return [];
      const r = await serial('scores', (c) =>
        rows(c, `SELECT json FROM news2_scores WHERE patient_id = $1 AND ts_ms >= ${sqlInt(p.from)} AND ts_ms < ${sqlInt(p.to)} ORDER BY ts_ms LIMIT ${sqlInt(p.limit)}`, [p.patientId]),
      );
      return r.map((x) => parseScoreJson(x.json));
    },

    async audit(q: AuditQuery) {
      const p = planAudit(q);
      const values: DuckDBValue[] = [];
      const param = (v: DuckDBValue): string => {
        values.push(v);
        return `$${values.length}`;
      };
      const cond: string[] = ['TRUE'];
      if (p.userId !== undefined) cond.push(`user_id = ${param(p.userId)}`);
      if (p.patientId !== undefined) cond.push(`patient_id = ${param(p.patientId)}`);
      if (p.action !== undefined) cond.push(`action = ${param(p.action)}`);
      if (p.from !== undefined) cond.push(`ts_ms >= ${sqlInt(p.from)}`);
      if (p.to !== undefined) cond.push(`ts_ms < ${sqlInt(p.to)}`);
      const r = await serial('audit', (c) =>
        rows(
          c,
          `SELECT id, CAST(ts_ms AS DOUBLE) AS ts_ms, user_id, role, action, resource, patient_id, address, outcome
           FROM audit WHERE ${cond.join(' AND ')} ORDER BY ts_ms DESC, id DESC LIMIT ${sqlInt(p.limit)}`,
          values,
        ),
      );
      return r.map(auditFromRow);
    },

    async dropExpired(now: number, policy: RetentionPolicy) {
      const cutoffs = retentionCutoffs(now, policy);
      const dropped: Record<string, number> = {};
      await serial('dropExpired', async (c) => {
        // Seal the tail first, so every raw row has reached the rollup before raw retention
        // removes it: the rollup may be kept longer than raw rows (rollupDays), as on ClickHouse.
        if (cutoffs.samples !== null) {
          recentRows = Number((await rows(c, 'SELECT count(*) AS n FROM samples_recent'))[0]?.n);
          if (recentRows > 0) await seal(c);
        }
        const tables = [
          ['samples', 'samples', 'ts_ms'],
          ['samples_recent', 'samples', 'ts_ms'],
          // Only whole minutes: a minute the cutoff splits is kept until all of it has expired.
          ['samples_rollup_1m', 'samples_1m', `minute_ms + ${MINUTE_MS}`],
          ['news2_scores', 'news2_scores', 'ts_ms'],
          ['alert_events', 'alert_events', 'ts_ms'],
          ['audit', 'audit', 'ts_ms'],
        ] as const;
        for (const [table, policy, column] of tables) {
          const cutoff = cutoffs[policy];
          if (cutoff === null) continue;
          const res = await c.run(`DELETE FROM ${table} WHERE ${column} ${column === 'ts_ms' ? '<' : '<='} ${sqlInt(cutoff)}`);
          const n = Number(res.rowsChanged);
          if (n > 0) dropped[policy] = (dropped[policy] ?? 0) + n;
          if (table === 'samples_recent') {
            recentRows = null;
            if (n > 0) await rebuildTailRollup(c);
          }
        }
      });
      if (Object.keys(dropped).length > 0) log?.info({ dropped }, 'store retention deleted expired rows');
      return { dropped };
    },

    async erasePatient(patientId: string) {
      assertSqlString(patientId, 'patientId');
      if (patientId === '') throw new VitalsError('VTL_ERR_BAD_REQUEST', 'patientId: empty');
      await serial('erasePatient', (c) =>
        transaction(c, async () => {
          // Assigned samples are keyed by patient id; patient_id catches any row keyed otherwise.
          // Rows of this patient keyed otherwise share rollup minutes with rows that stay: recompute those.
          await c.run(
            `CREATE OR REPLACE TEMP TABLE rollup_touched AS SELECT DISTINCT patient_key, metric, (ts_ms // ${MINUTE_MS}) * ${MINUTE_MS} AS minute_ms
             FROM samples WHERE patient_id = $1 AND patient_key <> $1`,
            [patientId],
          );
          await c.run('DELETE FROM samples WHERE patient_key = $1 OR patient_id = $1', [patientId]);
          await c.run('DELETE FROM samples_recent WHERE patient_key = $1 OR patient_id = $1', [patientId]);
          recentRows = null;
          await rebuildTailRollup(c);
          await c.run('DELETE FROM samples_rollup_1m WHERE patient_key = $1', [patientId]);
          await recomputeTouched(c);
          await c.run('DROP TABLE rollup_touched');
          await c.run('DELETE FROM news2_scores WHERE patient_id = $1', [patientId]);
          await c.run('DELETE FROM alert_events WHERE patient_id = $1', [patientId]);
        }),
      );
      log?.info('store patient erasure completed');
    },

    async engineSettings() {
      const [r] = await serial('engineSettings', (c) =>
        rows(c, "SELECT current_setting('memory_limit') AS mem, CAST(current_setting('threads') AS INTEGER) AS threads"),
      );
      // DuckDB reports the limit as e.g. '512.0 MiB'.
      const mib = /^([\d.]+) MiB$/.exec(String(r?.mem));
      return { memoryLimitMb: mib ? Math.round(Number(mib[1])) : NaN, threads: Number(r?.threads) };
    },

    async sampleRowCounts() {
      const [r] = await serial('sampleRowCounts', (c) =>
        rows(c, `SELECT (SELECT count(*) FROM samples) AS sorted, (SELECT count(*) FROM samples_recent) AS recent, (SELECT count(*) FROM samples_rollup_1m) AS rollup,
          (SELECT count(*) FROM samples_recent_1m) AS recent_rollup`),
      );
      return { sorted: Number(r?.sorted), recent: Number(r?.recent), rollup: Number(r?.rollup), recentRollup: Number(r?.recent_rollup) };
    },

    async healthy() {
      if (closing || closed) return false;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), healthTimeoutMs);
      });
      const probe = healthConn
        .runAndReadAll('SELECT 1 AS ok')
        .then((r) => Number(r.getRowObjectsJS()[0]?.ok) === 1)
        .catch(() => false);
      try {
        return await Promise.race([probe, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },

    async close() {
      if (closing) return;
      // Refuse new work, let queued work finish, then release the file.
      closing = true;
      await tail;
      closed = true;
      healthConn.closeSync();
      conn.closeSync();
      instance.closeSync();
    },
  };
}
