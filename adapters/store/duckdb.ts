/**
 * Embedded Store adapter on DuckDB (single process, a file or ':memory:').
 *
 * Raw samples are appended (DuckDB appender, no index) to `samples_recent`, and every `sealRows`
 * rows moved to `samples` as one run sorted by patient, metric and time: insert cost and memory do
 * not grow with what the store holds, and a query for one patient reads few row groups.
 * Re-delivered copies are hidden at read time by the `samples_unique` view (ADR 0011). Alerts, audit and scores are few and keep primary keys plus INSERT OR IGNORE.
 * Rollups are computed from de-duplicated rows with GROUP BY, so they never double-count.
 * Strings are bound as parameters; only validated numbers are inlined.
 */
import { DuckDBInstance, DuckDBTimestampValue, type DuckDBAppender, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { Logger } from 'pino';
import { VitalsError, isVitalsError } from '../../core/errors.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import type { AuditEvent } from '../../core/audit.js';
import type { AlertQuery, AuditQuery, BucketPoint, HistoryQuery, RawPoint, RetentionPolicy, ScoreQuery } from '../../core/ports.js';
import type { ScoreOutput } from '../../core/rules-engine.js';
import type { CanonicalSample } from '../../core/vitals.js';
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

/** The engine settings a DuckDB store runs with, read back from DuckDB. */
export interface DuckDbEngineSettings {
  memoryLimitMb: number;
  threads: number;
}

export interface DuckDbStore extends IntrospectableStore {
  engineSettings(): Promise<DuckDbEngineSettings>;
  /** Raw rows (copies included) in sorted runs and in the unsorted tail. */
  sampleRowCounts(): Promise<{ sorted: number; recent: number }>;
}

/**
 * Append rows (the `samples` column order) and flush; the caller closes the appender.
 * @param app - an appender on samples_recent (or a table of the same shape)
 * @param batch - validated rows
 */
export function appendSampleRows(app: DuckDBAppender, batch: readonly SampleRow[]): void {
  for (const r of batch) {
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
  app.flushSync();
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

  async function sealIfFull(c: DuckDBConnection): Promise<void> {
    recentRows ??= Number((await rows(c, 'SELECT count(*) AS n FROM samples_recent'))[0]?.n);
    if (recentRows < sealRows) return;
    await transaction(c, async () => {
      await c.run(SEAL);
      await c.run('DELETE FROM samples_recent');
    });
    recentRows = 0;
  }

  const ensureLedger = (c: DuckDBConnection): Promise<unknown> =>
    c.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)');

  return {
    kind: 'duckdb',

    async migrate() {
      const migrations = await loadMigrations(schemaDir('duckdb'));
      await serial('migrate', async (c) => {
        await ensureLedger(c);
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
      const batch = sampleRows(samples);
      if (batch.length === 0) return;
      // One transaction around the appender: a batch is stored whole or not at all.
      await serial('insertSamples', async (c) => {
        await transaction(c, async () => {
          const app = await c.createAppender('samples_recent');
          try {
            appendSampleRows(app, batch);
          } finally {
            app.closeSync();
          }
        });
        if (recentRows !== null) recentRows += batch.length;
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
        // samples_1m is a view over samples here: the rollup ages with the raw rows.
        for (const [table, policy] of [['samples', 'samples'], ['samples_recent', 'samples'], ['news2_scores', 'news2_scores'], ['alert_events', 'alert_events'], ['audit', 'audit']] as const) {
          const cutoff = cutoffs[policy];
          if (cutoff === null) continue;
          const res = await c.run(`DELETE FROM ${table} WHERE ts_ms < ${sqlInt(cutoff)}`);
          const n = Number(res.rowsChanged);
          if (n > 0) dropped[policy] = (dropped[policy] ?? 0) + n;
          if (table === 'samples_recent') recentRows = null;
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
          await c.run('DELETE FROM samples WHERE patient_key = $1 OR patient_id = $1', [patientId]);
          await c.run('DELETE FROM samples_recent WHERE patient_key = $1 OR patient_id = $1', [patientId]);
          recentRows = null;
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
        rows(c, 'SELECT (SELECT count(*) FROM samples) AS sorted, (SELECT count(*) FROM samples_recent) AS recent'),
      );
      return { sorted: Number(r?.sorted), recent: Number(r?.recent) };
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
