/**
 * Production Store adapter on ClickHouse, written to behave the same on Debian's 18.16 and on a
 * current server (docs/storage.md, LOCAL_SERVICES.md):
 * - no query parameters (18.16 lacks them): every literal goes through ./sql.ts;
 * - one statement per request; only settings both versions know;
 * - every column sent, samples as Native blocks, the rest as JSONEachRow (18.16 does not apply
 *   DEFAULTs to omitted fields);
 * - error codes parsed from the message text (18.16 errors are not ClickHouseError objects).
 *
 * Dedup is read-time: ReplacingMergeTree + FINAL for samples, LIMIT 1 BY event_id for alerts.
 * The 1-minute rollup is a materialized view; buckets it marks as containing duplicates
 * (count != distinct timestamps) are recomputed from raw rows.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { VitalsError } from '../../core/errors.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import type { AuditEvent } from '../../core/audit.js';
import type { AlertQuery, AuditQuery, BucketPoint, HistoryQuery, RawPoint, RetentionPolicy, ScoreQuery } from '../../core/ports.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { ALERT_COLUMNS, AUDIT_COLUMNS, SAMPLE_COLUMNS, SCORE_COLUMNS, alertLine, auditLine, bodyChunks, ledgerLine, perLine, scoreLine, type Render } from './clickhouse-body.js';
import { sampleNative } from './clickhouse-native.js';
import { clientLoggerClass, wrap } from './clickhouse-errors.js';
import { postInsert } from './clickhouse-insert.js';
import { loadMigrations, schemaDir, type AppliedMigration, type IntrospectableStore } from './migrations.js';
import { planAlerts, planAudit, planHistory, planScores } from './query-plan.js';
import { partitionEndMs, retentionCutoffs, type RetentionTable } from './retention.js';
import { alertRow, auditFromRow, auditRow, parseAlertJson, parseScoreJson, scoreRow } from './rows.js';
import { assertSqlString, sqlDateTime, sqlIdent, sqlInt, sqlList, sqlString } from './sql.js';

export interface ClickHouseStoreOptions {
  /** e.g. http://127.0.0.1:28123 (credentials may be in the URL). */
  url: string;
  /** Database to use, created if missing. Default 'vitals'. */
  database?: string;
  log?: Logger;
  /** healthy() gives up after this long. Default 2000 ms. */
  healthTimeoutMs?: number;
  /** erasePatient() gives up waiting for its mutations after this long. Default 60 000 ms. */
  mutationTimeoutMs?: number;
}

// Settings both 18.16 and current servers know. 64-bit integers as JSON numbers: ts_ms values
// stay below 2^53, and 18.16 quotes them by default while current servers do not.
const SETTINGS = { output_format_json_quote_64bit_integers: 0 } as const;

const q = (s: string): string => sqlString(s, 'clickhouse');
const dt = (ms: number): string => sqlDateTime(ms, 'clickhouse');

/**
 * Connect to ClickHouse, creating the database if it is missing. Call `migrate()` before use.
 * @param opts - server URL, database name (default 'vitals'), optional pino logger
 * @returns the store
 */
export async function createClickHouseStore(opts: ClickHouseStoreOptions): Promise<IntrospectableStore> {
  const database = opts.database ?? 'vitals';
  const dbIdent = sqlIdent(database, 'clickhouse'); // validates the name before any request
  const log = opts.log;
  const healthTimeoutMs = opts.healthTimeoutMs ?? 2000;
  const mutationTimeoutMs = opts.mutationTimeoutMs ?? 60_000;

  // The database must exist before a client may name it, so bootstrap without one.
  const clientLog = { LoggerClass: clientLoggerClass(log), level: ClickHouseLogLevel.WARN };
  const bootstrap = createClient({ url: opts.url, clickhouse_settings: SETTINGS, log: clientLog });
  try {
    await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${dbIdent}` });
  } catch (e) {
    throw wrap('create database', e);
  } finally {
    await bootstrap.close();
  }

  const client: ClickHouseClient = createClient({ url: opts.url, database, clickhouse_settings: SETTINGS, log: clientLog });
  let closed = false;

  async function command(op: string, query: string): Promise<void> {
    try {
      await client.command({ query });
    } catch (e) {
      throw wrap(op, e);
    }
  }

  async function select<T>(op: string, query: string): Promise<T[]> {
    try {
      const rs = await client.query({ query, format: 'JSONEachRow' });
      return await rs.json<T>();
    } catch (e) {
      throw wrap(op, e);
    }
  }

  async function insertLines(op: string, table: string, columns: string, count: number, render: Render): Promise<void> {
    if (count === 0) return;
    try {
      await postInsert({ url: opts.url, database }, `INSERT INTO ${table} (${columns}) FORMAT JSONEachRow`, bodyChunks(count, render));
    } catch (e) {
      throw wrap(op, e);
    }
  }

  async function applied(): Promise<AppliedMigration[]> {
    const rows = await select<{ version: number; name: string }>(
      'migrate',
      'SELECT version, any(name) AS name FROM schema_migrations GROUP BY version ORDER BY version',
    );
    return rows.map((r) => ({ version: Number(r.version), name: String(r.name) }));
  }

  // The ledger itself; ReplacingMergeTree so two processes migrating at once leave one row per version.
  const ensureLedger = (): Promise<void> =>
    command('migrate', 'CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = ReplacingMergeTree() ORDER BY version');

  /** Wait until no mutation on our tables is pending (18.16 has no mutations_sync). */
  async function awaitMutations(tables: string[]): Promise<void> {
    const deadline = Date.now() + mutationTimeoutMs;
    let delay = 20;
    for (;;) {
      const rows = await select<{ n: number }>(
        'erasePatient',
        `SELECT toUInt32(count()) AS n FROM system.mutations WHERE database = ${q(database)} AND table IN ${sqlList(tables, q)} AND is_done = 0`,
      );
      if (Number(rows[0]?.n ?? 0) === 0) return;
      if (Date.now() > deadline) throw new VitalsError('VTL_ERR_STORE_UNAVAILABLE', 'clickhouse erasePatient: mutations still pending');
      await sleep(delay);
      delay = Math.min(delay * 2, 500);
    }
  }

  async function bucketsFromRaw(where: string, step: string, limit: number, only?: number[]): Promise<BucketPoint[]> {
    const filter = only ? ` AND intDiv(ts_ms, ${step}) IN ${sqlList(only, sqlInt)}` : '';
    const rows = await select<{ b: number; mn: number; mx: number; av: number; c: number }>(
      'history',
      `SELECT intDiv(ts_ms, ${step}) * ${step} AS b, min(value) AS mn, max(value) AS mx, avg(value) AS av, toUInt64(count()) AS c
       FROM samples FINAL WHERE ${where}${filter} GROUP BY b ORDER BY b LIMIT ${sqlInt(limit)}`,
    );
    return rows.map((r) => ({ ts: Number(r.b), min: Number(r.mn), max: Number(r.mx), avg: Number(r.av), count: Number(r.c) }));
  }

  return {
    kind: 'clickhouse',

    async migrate() {
      const migrations = await loadMigrations(schemaDir('clickhouse'));
      await ensureLedger();
      const done = new Set((await applied()).map((m) => m.version));
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        // No transactions on ClickHouse: every statement is CREATE ... IF NOT EXISTS, so a crash
        // between the DDL and its ledger row is repaired by simply running it again.
        await command('migrate', m.sql);
        const ledgerRow = ledgerLine(m.version, m.name, Date.now());
        await insertLines('migrate', 'schema_migrations', 'version, name, applied_at', 1, () => ledgerRow);
        log?.info({ version: m.version, migration: m.name }, 'store migration applied');
      }
    },

    async appliedMigrations() {
      await ensureLedger();
      return applied();
    },

    async insertSamples(samples: CanonicalSample[]) {
      const body = sampleNative(samples); // validates the whole batch before any byte is sent
      if (body.length === 0) return;
      try {
        await postInsert({ url: opts.url, database }, `INSERT INTO samples (${SAMPLE_COLUMNS}) FORMAT Native`, body);
      } catch (e) {
        throw wrap('insertSamples', e);
      }
    },

    async insertAlertEvents(events: AlertEvent[]) {
      const rows = events.map(alertRow);
      await insertLines('insertAlertEvents', 'alert_events', ALERT_COLUMNS, rows.length, perLine(rows, alertLine));
    },

    async insertAudit(events: AuditEvent[]) {
      const rows = events.map(auditRow);
      await insertLines('insertAudit', 'audit', AUDIT_COLUMNS, rows.length, perLine(rows, auditLine));
    },

    async insertScores(scores: ScoreOutput[]) {
      const rows = scores.map(scoreRow);
      await insertLines('insertScores', 'news2_scores', SCORE_COLUMNS, rows.length, perLine(rows, scoreLine));
    },

    async history(hq: HistoryQuery): Promise<RawPoint[] | BucketPoint[]> {
      const p = planHistory(hq);
      if (p.from >= p.to) return [];
      // ts (seconds) bounds let ClickHouse prune partitions; ts_ms bounds are the exact filter.
      const where =
        `patient_key = ${q(p.patientKey)} AND metric = ${q(p.metric)}` +
        ` AND ts >= ${dt(p.from)} AND ts <= ${dt(p.to - 1)} AND ts_ms >= ${sqlInt(p.from)} AND ts_ms < ${sqlInt(p.to)}`;
      if (p.kind === 'raw') {
        // Aliases must not reuse column names: ClickHouse substitutes aliases everywhere, WHERE included.
        const rows = await select<{ t: number; v: number }>(
          'history',
          `SELECT ts_ms AS t, value AS v FROM samples FINAL WHERE ${where} ORDER BY ts_ms LIMIT ${sqlInt(p.limit)}`,
        );
        return rows.map((r) => ({ ts: Number(r.t), value: Number(r.v) }));
      }
      const step = sqlInt(p.step);
      if (!p.useRollup) return bucketsFromRaw(where, step, p.limit);

      const rollup = await select<{ b: number; mn: number; mx: number; av: number; c: number; u: number }>(
        'history',
        `SELECT intDiv(toUInt64(minute) * 1000, ${step}) * ${step} AS b,
                minMerge(min_v) AS mn, maxMerge(max_v) AS mx, avgMerge(avg_v) AS av,
                toUInt64(countMerge(cnt)) AS c, toUInt64(uniqExactMerge(uniq_ts)) AS u
         FROM samples_1m
         WHERE patient_key = ${q(p.patientKey)} AND metric = ${q(p.metric)} AND minute >= ${dt(p.from)} AND minute < ${dt(p.to)}
         GROUP BY b ORDER BY b LIMIT ${sqlInt(p.limit)}`,
      );
      const out: BucketPoint[] = rollup.map((r) => ({ ts: Number(r.b), min: Number(r.mn), max: Number(r.mx), avg: Number(r.av), count: Number(r.c) }));
      // A re-delivered sample went through the MV twice: count exceeds the distinct event times.
      // Recompute exactly those buckets from deduplicated raw rows.
      const dirty = new Set(rollup.filter((r) => Number(r.c) !== Number(r.u)).map((r) => Number(r.b)));
      if (dirty.size === 0) return out;
      const fixed = new Map(
        (await bucketsFromRaw(where, step, dirty.size, [...dirty].map((b) => b / p.step))).map((b) => [b.ts, b]),
      );
      // A dirty bucket with no raw rows left (erased meanwhile) is dropped, not reported from the rollup.
      return out.flatMap((b) => {
        if (!dirty.has(b.ts)) return [b];
        const exact = fixed.get(b.ts);
        return exact ? [exact] : [];
      });
    },

    async alerts(aq: AlertQuery): Promise<AlertEvent[]> {
      const p = planAlerts(aq);
      if (p.wards !== undefined && p.wards.length === 0) return [];
      const cond: string[] = ['1'];
      if (p.wards !== undefined) cond.push(`ward IN ${sqlList(p.wards, q)}`);
      if (p.patientId !== undefined) cond.push(`patient_id = ${q(p.patientId)}`);
      if (p.state !== undefined) cond.push(`state = ${q(p.state)}`);
      if (p.from !== undefined) cond.push(`ts >= ${dt(p.from)} AND ts_ms >= ${sqlInt(p.from)}`);
      if (p.to !== undefined) cond.push(p.to === 0 ? '0' : `ts <= ${dt(p.to - 1)} AND ts_ms < ${sqlInt(p.to)}`);
      // LIMIT 1 BY event_id hides duplicates that ReplacingMergeTree has not merged yet.
      const rows = await select<{ json: string }>(
        'alerts',
        `SELECT json FROM alert_events WHERE ${cond.join(' AND ')}
         ORDER BY ts_ms DESC, event_id DESC LIMIT 1 BY event_id LIMIT ${sqlInt(p.limit)}`,
      );
      return rows.map((r) => parseAlertJson(r.json));
    },

    async scores(sq: ScoreQuery): Promise<ScoreOutput[]> {
      const p = planScores(sq);
      if (p.from >= p.to) return [];
      const rows = await select<{ json: string }>(
        'scores',
        `SELECT json FROM news2_scores FINAL
         WHERE patient_id = ${q(p.patientId)} AND ts >= ${dt(p.from)} AND ts <= ${dt(p.to - 1)} AND ts_ms >= ${sqlInt(p.from)} AND ts_ms < ${sqlInt(p.to)}
         ORDER BY ts_ms LIMIT ${sqlInt(p.limit)}`,
      );
      return rows.map((r) => parseScoreJson(r.json));
    },

    async audit(aq: AuditQuery) {
      const p = planAudit(aq);
      const cond: string[] = ['1'];
      if (p.userId !== undefined) cond.push(`user_id = ${q(p.userId)}`);
      if (p.patientId !== undefined) cond.push(`patient_id = ${q(p.patientId)}`);
      if (p.action !== undefined) cond.push(`action = ${q(p.action)}`);
      if (p.from !== undefined) cond.push(`ts >= ${dt(p.from)} AND ts_ms >= ${sqlInt(p.from)}`);
      if (p.to !== undefined) cond.push(p.to === 0 ? '0' : `ts <= ${dt(p.to - 1)} AND ts_ms < ${sqlInt(p.to)}`);
      const rows = await select<Record<string, unknown>>(
        'audit',
        `SELECT ${AUDIT_COLUMNS} FROM audit WHERE ${cond.join(' AND ')}
         ORDER BY ts_ms DESC, id DESC LIMIT 1 BY id LIMIT ${sqlInt(p.limit)}`,
      );
      return rows.map(auditFromRow);
    },

    async erasePatient(patientId: string) {
      assertSqlString(patientId, 'patientId');
      if (patientId === '') throw new VitalsError('VTL_ERR_BAD_REQUEST', 'patientId: empty');
      const id = q(patientId);
      // Mutations are asynchronous on 18.16 (no mutations_sync): issue them all, then wait.
      await command('erasePatient', `ALTER TABLE samples DELETE WHERE patient_key = ${id} OR patient_id = ${id}`);
      await command('erasePatient', `ALTER TABLE samples_1m DELETE WHERE patient_key = ${id}`);
      await command('erasePatient', `ALTER TABLE news2_scores DELETE WHERE patient_id = ${id}`);
      await command('erasePatient', `ALTER TABLE alert_events DELETE WHERE patient_id = ${id}`);
      await awaitMutations(['samples', 'samples_1m', 'news2_scores', 'alert_events']);
      log?.info('store patient erasure completed');
    },

    async dropExpired(now: number, policy: RetentionPolicy) {
      const cutoffs = retentionCutoffs(now, policy);
      const dropped: Record<string, number> = {};
      // Whole partitions only: instant, no data rewrite, and the same on 18.16 (no TTL) and
      // current servers. A partition goes once every row it can hold is past the cutoff.
      const parts = await select<{ table: string; partition_id: string }>(
        'dropExpired',
        `SELECT DISTINCT table, partition_id FROM system.parts
         WHERE database = ${q(database)} AND active AND table IN ${sqlList(Object.keys(cutoffs), q)}`,
      );
      for (const part of parts) {
        const cutoff = cutoffs[part.table as RetentionTable];
        const end = partitionEndMs(String(part.partition_id));
        if (cutoff === null || cutoff === undefined || end === null || end > cutoff) continue;
        await command('dropExpired', `ALTER TABLE ${sqlIdent(part.table, 'clickhouse')} DROP PARTITION ID ${q(String(part.partition_id))}`);
        dropped[part.table] = (dropped[part.table] ?? 0) + 1;
      }
      if (Object.keys(dropped).length > 0) log?.info({ dropped }, 'store retention dropped expired partitions');
      return { dropped };
    },

    async healthy() {
      if (closed) return false;
      try {
        // A real, authenticated query (GET /ping does not check credentials).
        const rs = await client.query({
          query: 'SELECT toUInt8(1) AS ok',
          format: 'JSONEachRow',
          abort_signal: AbortSignal.timeout(healthTimeoutMs),
          clickhouse_settings: { max_execution_time: Math.max(1, Math.ceil(healthTimeoutMs / 1000)) },
        });
        const rows = await rs.json<{ ok: number }>();
        return Number(rows[0]?.ok) === 1;
      } catch {
        return false;
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}
