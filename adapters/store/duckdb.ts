/**
 * Embedded Store adapter on DuckDB (single process, a file or ':memory:').
 *
 * Raw samples are appended (DuckDB appender, no index) to `samples_recent_wide`, one row per sample,
 * and every `sealRows` values moved to `samples_wide` as one run sorted by patient and time: insert
 * cost and memory do not grow with what the store holds, and a query for one patient reads few row
 * groups. Reads see one row per metric through the views `samples` and `samples_recent`.
 * Re-delivered copies are hidden at read time by the `samples_unique` view (ADR 0011). Alerts, audit and scores keep primary keys plus INSERT OR IGNORE, inserted a batch at a time through a staging table.
 * The tail's 1-minute rollup is held in memory (tail-rollup.ts), folded from each committed batch and
 * rebuilt from the tail's raw rows on open, and sealing a run
 * moves it into `samples_rollup_1m` (per patient, metric and minute, from de-duplicated rows):
 * minute-multiple bucket queries read the two rollups, never the raw tail (ADR 0011 amendments);
 * those memory answers whole skip the serial queue, so a trend never waits behind an insert.
 * Appends yield to the event loop every APPEND_CHUNK_SAMPLES samples.
 * Strings are bound as parameters; only validated numbers are inlined.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { Logger } from 'pino';
import { VitalsError } from '../../core/errors.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import type { AuditEvent } from '../../core/audit.js';
import type { AlertQuery, AuditQuery, BucketPoint, HistoryQuery, RawPoint, RetentionPolicy, ScoreQuery } from '../../core/ports.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { ALERT_EVENTS_INSERT, APPEND_CHUNK_SAMPLES, appendSamplesYielding, appendStaged, AUDIT_INSERT, SCORES_INSERT, STAGE, STAGE_COPY, STAGE_CREATE, type StagedSql } from './duckdb-append.js';
import {
  DUCKDB_DEFAULT_MEMORY_MB,
  DUCKDB_DEFAULT_THREADS,
  engineMemory,
  engineSettings,
  openInstance,
  positiveInt,
  probe,
  recentlyHealthy,
  rows,
  serialConnection,
  transaction,
  type DuckDbEngineSettings,
  type EngineMemory,
} from './duckdb-conn.js';
import { alertsQuery, auditQuery, historyQuery, scoresQuery } from './duckdb-queries.js';
import { deleteExpired, erasePatientRows } from './duckdb-retention.js';
import { loadTailRollup, seal, sealedRollupHi, sealWrites, type Recomputed, type SealedRows } from './duckdb-rollup.js';
import { TrendCacheWarmer } from './duckdb-warm.js';
import { loadMigrations, schemaDir, type AppliedMigration, type IntrospectableStore } from './migrations.js';
import { planAlerts, planAudit, planHistory, planScores } from './query-plan.js';
import { retentionCutoffs } from './retention.js';
import { alertRow, auditRow, forEachSampleRow, scoreRow } from './rows.js';
import { SealedRollupCache } from './sealed-cache.js';
import { assertSqlString } from './sql.js';
import { TailRollup } from './tail-rollup.js';
import { memoryBuckets } from './trend-memory.js';

export { APPEND_CHUNK_SAMPLES, APPEND_FLUSH_SAMPLES, appendSampleRows, appendSamplesYielding } from './duckdb-append.js';
export { DUCKDB_DEFAULT_MEMORY_MB, DUCKDB_DEFAULT_THREADS, type DuckDbEngineSettings, type EngineMemory } from './duckdb-conn.js';


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
   * Samples appended between yields to the event loop. Default APPEND_CHUNK_SAMPLES;
   * Number.MAX_SAFE_INTEGER appends a batch in one go (the pre-amendment behaviour, a benchmark baseline).
   */
  appendChunkSamples?: number;
  /**
   * Most sealed rollup rows cached in memory for trend queries (ADR 0011, fourth and fifth
   * amendments), 56 bytes each; 0 disables. Default DUCKDB_DEFAULT_TREND_CACHE_ROWS.
   */
  trendCacheRows?: number;
}

/**
 * 400,000 rows: 56 bytes each (typed arrays, outside the JS heap's young generation), ~22 MB;
 * ~270 series-days (a 65-patient ward's day of 4 metrics, 25 h of 1-minute rows each).
 */
export const DUCKDB_DEFAULT_TREND_CACHE_ROWS = 400_000;

/**
 * About four DuckDB row groups: the unsorted tail a query scans in full stays small, while each
 * sorted run puts one patient-metric's rows in one or two row groups (ADR 0011 has the figures).
 */
export const DUCKDB_DEFAULT_SEAL_ROWS = 500_000;

export interface DuckDbStore extends IntrospectableStore {
  engineSettings(): Promise<DuckDbEngineSettings>;
  /** DuckDB's own memory by tag (on the health connection: never behind an insert); its sum stays under the memory limit. */
  engineMemory(): Promise<EngineMemory[]>;
  /** Raw rows (copies included) in sorted runs and in the unsorted tail; rows of the sealed and of the tail's 1-minute rollup. */
  sampleRowCounts(): Promise<{ sorted: number; recent: number; rollup: number; recentRollup: number }>;
  /**
   * The cache of sealed rollup rows: series and rows of room held (plus one per series), lookups
   * answered from it and not, the minute from which it covers every series (null: none) and the
   * series the start-up warm has still to load.
   */
  trendCacheStats(): { series: number; rows: number; hits: number; misses: number; coverFrom: number | null; pending: number };
  /** Settles when the start-up warm of the trend cache has finished (or given up). */
  trendCacheWarmed(): Promise<void>;
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
  const appendChunkSamples = positiveInt(opts.appendChunkSamples ?? APPEND_CHUNK_SAMPLES, 1, 'appendChunkSamples');
  const trendCacheRows = positiveInt(opts.trendCacheRows ?? DUCKDB_DEFAULT_TREND_CACHE_ROWS, 0, 'trendCacheRows');
  const instance = await openInstance(opts.path, { memoryLimitMb, threads });
  const conn = await instance.connect();
  // A second connection so health checks never wait behind (or join) a write transaction.
  const healthConn = await instance.connect();
  let closed = false;
  const queue = serialConnection(conn);
  const serial = queue.run.bind(queue);

  /** A batch through its staging table, in one transaction. Callers map rows inside an async function, so a bad row rejects rather than throws. */
  async function insertStaged<R>(name: string, sql: StagedSql, batch: readonly R[], params: (r: R) => DuckDBValue[]): Promise<void> {
    if (batch.length === 0) return;
    const values = batch.map(params);
    await serial(name, (c) =>
      transaction(c, async () => {
        await c.run(sql.create);
        const app = await c.createAppender(sql.stage, 'main', 'temp');
        try {
          appendStaged(app, values);
        } finally {
          app.closeSync();
        }
        await c.run(sql.insert);
        await c.run(sql.clear);
      }),
    );
  }

  async function applied(c: DuckDBConnection): Promise<AppliedMigration[]> {
    const r = await rows(c, 'SELECT version, name FROM schema_migrations ORDER BY version');
    return r.map((x) => ({ version: Number(x.version), name: String(x.name) }));
  }

  // Rows in samples_recent; null until read from the database (after migrate()).
  let recentRows: number | null = null;

  // The tail's rollup, exactly what samples_recent holds; null when it must be rebuilt from the
  // tail's raw rows (not yet loaded, or the tail was edited or an insert's outcome is unknown).
  let tailRollup: TailRollup | null = null;
  const tailOf = async (c: DuckDBConnection): Promise<TailRollup> => (tailRollup ??= await loadTailRollup(c));
  // Set while a committed batch is being folded into tailRollup (a turn of the loop per chunk):
  // a trend answered from memory waits for it, so it never sees half a batch.
  let folding: Promise<void> | null = null;

  // The sealed rollup's rows of recently queried series, kept exact by every change to
  // samples_rollup_1m below; sealedHi is the newest sealed minute or above it (null: none sealed;
  // undefined: not read since open or a failed seal).
  const cache = new SealedRollupCache(trendCacheRows);
  let sealedHi: number | null | undefined;
  const sealedRows: SealedRows = { cache, hi: async (c) => (sealedHi === undefined ? (sealedHi = await sealedRollupHi(c)) : sealedHi) };
  const warmer = new TrendCacheWarmer(queue, cache, trendCacheRows, log);

  async function sealNow(c: DuckDBConnection): Promise<void> {
    const tail = await tailOf(c);
    let recomputed: Recomputed;
    try {
      recomputed = await seal(c, tail);
    } catch (e) {
      // Whether a failed COMMIT changed the sealed rollup is unknown.
      cache.clear();
      warmer.invalidate();
      sealedHi = undefined;
      throw e;
    }
    const tailHi = tail.newestMinute();
    if (tailHi !== null && sealedHi !== undefined) sealedHi = Math.max(sealedHi ?? tailHi, tailHi);
    // Written through: the rows just sealed reach the cache without a query (ADR 0011, fifth amendment).
    cache.sealed(sealWrites(tail, recomputed), sealedHi ?? tailHi);
    recentRows = 0;
    tailRollup = new TailRollup();
  }

  async function sealIfFull(c: DuckDBConnection): Promise<void> {
    recentRows ??= Number((await rows(c, 'SELECT count(*) AS n FROM samples_recent'))[0]?.n);
    if (recentRows < sealRows) return;
    await sealNow(c);
  }

  const ensureLedger = (c: DuckDBConnection): Promise<unknown> =>
    c.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)');

  return {
    kind: 'duckdb',

    async migrate() {
      const migrations = await loadMigrations(schemaDir('duckdb'));
      await serial('migrate', async (c) => {
        // Trends go through the queue until the tail's rollup is rebuilt below.
        tailRollup = null;
        await ensureLedger(c);
        // The staging table's shape may change with a release (METRIC_NAMES): made anew after migrating.
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
        // The tail's rollup lives in memory only: rebuilt from the tail's raw rows, the truth,
        // whenever a store opens (a restart or a crash loses nothing the raw rows hold).
        tailRollup = await loadTailRollup(c);
        recentRows = null;
        cache.clear();
        sealedHi = undefined;
      });
      warmer.start();
    },

    async appliedMigrations() {
      return serial('appliedMigrations', async (c) => {
        await ensureLedger(c);
        return applied(c);
      });
    },

    async insertSamples(samples: CanonicalSample[]) {
      if (samples.length === 0) return;
      // One transaction around the appender: a batch is stored whole or not at all.
      let appended = 0;
      await serial('insertSamples', async (c) => {
        const tail = await tailOf(c);
        try {
          await transaction(c, async () => {
            // Staged in an in-memory temp table, then copied by one statement that DuckDB runs off
            // the event loop: appending to the file table directly writes each filled row group
            // (compressed, to disk) inside a synchronous flush, a 50-100 ms stall every ~120k rows.
            await c.run(STAGE_CREATE);
            const app = await c.createAppender(STAGE, 'main', 'temp');
            try {
              appended = await appendSamplesYielding(app, samples, appendChunkSamples);
            } finally {
              app.closeSync();
            }
            await c.run(STAGE_COPY);
            await c.run(`DELETE FROM ${STAGE}`);
          });
        } catch (e) {
          // Whether a failed COMMIT stored the batch is unknown: rebuild the rollup from the tail.
          tailRollup = null;
          throw e;
        }
        // Committed: fold the batch into the tail's rollup (the MERGE per insert this replaces
        // cost more than the insert's copy; ADR 0011, third amendment), a turn of the loop per chunk.
        let folded = (): void => undefined;
        folding = new Promise<void>((resolve) => (folded = resolve));
        try {
          // Validated already (the batch committed): walking it again costs less than keeping its rows.
          for (let i = 0; i < samples.length; i += appendChunkSamples) {
            if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
            forEachSampleRow(samples.slice(i, i + appendChunkSamples), (r) => tail.add(r.patient_key, r.metric, r.ts_ms, r.value));
          }
        } finally {
          folding = null;
          folded();
        }
        if (recentRows !== null) recentRows += appended;
        // The batch is committed: a failed seal must not fail the insert (the sink would retry
        // a stored batch). Reads stay correct over an unsorted tail; the next insert retries.
        await sealIfFull(c).catch((e: unknown) => {
          recentRows = null;
          log?.warn({ errorName: e instanceof Error ? e.name : 'unknown' }, 'duckdb store: moving recent samples to a sorted run failed; will retry');
        });
      });
    },

    insertAlertEvents: async (events: AlertEvent[]) =>
      insertStaged(
        'insertAlertEvents',
        ALERT_EVENTS_INSERT,
        events.map(alertRow),
        (r) => [r.event_id, r.alert_id, r.patient_id, r.ward, r.rule_id, r.kind, r.priority, r.state, r.event, BigInt(r.ts_ms), BigInt(r.opened_at_ms), r.ack_by, r.message, r.value, r.json],
      ),

    insertAudit: async (events: AuditEvent[]) =>
      insertStaged(
        'insertAudit',
        AUDIT_INSERT,
        events.map(auditRow),
        (r) => [r.id, BigInt(r.ts_ms), r.user_id, r.role, r.action, r.resource, r.patient_id, r.address, r.outcome],
      ),

    insertScores: async (scores: ScoreOutput[]) =>
      insertStaged(
        'insertScores',
        SCORES_INSERT,
        scores.map(scoreRow),
        (r) => [r.patient_id, r.ward, BigInt(r.ts_ms), r.score, r.max_score, r.risk, r.complete, r.json],
      ),

    async history(q: HistoryQuery): Promise<RawPoint[] | BucketPoint[]> {
      const p = planHistory(q);
      if (p.from >= p.to) return [];
      // A trend that memory answers whole (sealed rows held, tail rollup loaded, no minute to
      // recompute) does not queue behind inserts: it waits only for a committed batch's fold, so it
      // sees every batch whose insertSamples resolved and never half of one (ADR 0011, sixth amendment).
      if (p.kind === 'buckets' && p.useRollup) {
        while (folding) await folding;
        if (tailRollup && !queue.closing) {
          const out = memoryBuckets(p, tailRollup, cache, false);
          if (out) return out;
        }
      }
      return serial('history', (c) => historyQuery(c, p, tailOf, sealedRows));
    },

    async alerts(q: AlertQuery): Promise<AlertEvent[]> {
      const p = planAlerts(q);
      if (p.wards !== undefined && p.wards.length === 0) return [];
      return serial('alerts', (c) => alertsQuery(c, p));
    },

    async scores(q: ScoreQuery): Promise<ScoreOutput[]> {
      const p = planScores(q);
      if (p.from >= p.to) return [];
      return serial('scores', (c) => scoresQuery(c, p));
    },

    async audit(q: AuditQuery): Promise<AuditEvent[]> {
      const p = planAudit(q);
      return serial('audit', (c) => auditQuery(c, p));
    },

    async dropExpired(now: number, policy: RetentionPolicy) {
      const cutoffs = retentionCutoffs(now, policy);
      const dropped: Record<string, number> = {};
      await serial('dropExpired', async (c) => {
        // Seal the tail first, so every raw row has reached the rollup before raw retention
        // removes it: the rollup may be kept longer than raw rows (rollupDays), as on ClickHouse.
        if (cutoffs.samples !== null) {
          recentRows = Number((await rows(c, 'SELECT count(*) AS n FROM samples_recent'))[0]?.n);
          if (recentRows > 0) {
            await sealNow(c);
          }
        }
        await deleteExpired(c, cutoffs, (d) => {
          if (d.removed > 0) dropped[d.policy] = (dropped[d.policy] ?? 0) + d.removed;
          if (d.table === 'samples_rollup_1m') cache.expire(d.cutoff);
          if (d.table === 'samples_recent_wide') {
            recentRows = null;
            if (d.removed > 0) tailRollup = null;
          }
        });
      });
      if (Object.keys(dropped).length > 0) log?.info({ dropped }, 'store retention deleted expired rows');
      return { dropped };
    },

    async erasePatient(patientId: string) {
      assertSqlString(patientId, 'patientId');
      if (patientId === '') throw new VitalsError('VTL_ERR_BAD_REQUEST', 'patientId: empty');
      await serial('erasePatient', (c) => {
        // First, so no trend is answered from memory while the rows go: they wait in the queue.
        recentRows = null;
        tailRollup = null;
        // Rows of other keys are recomputed below: drop every cached series (erasure is rare).
        cache.clear();
        warmer.invalidate();
        return erasePatientRows(c, patientId);
      });
      warmer.start();
      log?.info('store patient erasure completed');
    },

    async engineSettings() {
      return serial('engineSettings', engineSettings);
    },

    async engineMemory() {
      if (queue.closing || closed) return [];
      return engineMemory(healthConn, healthTimeoutMs);
    },

    async sampleRowCounts() {
      return serial('sampleRowCounts', async (c) => {
        const [r] = await rows(c, 'SELECT (SELECT count(*) FROM samples) AS sorted, (SELECT count(*) FROM samples_recent) AS recent, (SELECT count(*) FROM samples_rollup_1m) AS rollup');
        return { sorted: Number(r?.sorted), recent: Number(r?.recent), rollup: Number(r?.rollup), recentRollup: (await tailOf(c)).size };
      });
    },

    trendCacheStats: () => ({ series: cache.series, rows: cache.rows, hits: cache.hits, misses: cache.misses, coverFrom: cache.coverFrom, pending: cache.pendingSeries }),

    trendCacheWarmed: () => warmer.warmed,

    async healthy() {
      if (queue.closing || closed) return false;
      if (recentlyHealthy(queue.lastOkAt, queue.lastFailedAt, Date.now())) return true;
      return probe(healthConn, healthTimeoutMs);
    },

    async close() {
      if (queue.closing) return;
      // Refuse new work, let queued work finish, then release the file.
      await queue.drain();
      closed = true;
      healthConn.closeSync();
      conn.closeSync();
      instance.closeSync();
    },
  };
}
