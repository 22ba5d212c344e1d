/**
 * Production Store adapter on ClickHouse, written to behave the same on Debian's 18.16 and on a
 * current server (docs/storage.md, LOCAL_SERVICES.md):
 * - no query parameters (18.16 lacks them): every literal goes through ./sql.ts;
 * - one statement per request; only settings both versions know;
 * - every column sent, samples as TabSeparated, the rest as JSONEachRow (18.16 does not apply
 *   DEFAULTs to omitted fields);
 * - error codes parsed from the message text (18.16 errors are not ClickHouseError objects).
 *
 * Dedup is read-time: ReplacingMergeTree + FINAL for samples, LIMIT 1 BY event_id for alerts.
 * The 1-minute rollup is a materialized view; buckets it marks as containing duplicates
 * (count != distinct timestamps) are recomputed from raw rows.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type Logger as ClientLogger, type LogParams, type WarnLogParams } from '@clickhouse/client';
import type { Logger } from 'pino';
import { VitalsError, isVitalsError } from '../../core/errors.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import type { AuditEvent } from '../../core/audit.js';
import type { AlertQuery, AuditQuery, BucketPoint, HistoryQuery, RawPoint, RetentionPolicy, ScoreQuery } from '../../core/ports.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { postInsert } from './clickhouse-insert.js';
import { loadMigrations, schemaDir, type AppliedMigration, type IntrospectableStore } from './migrations.js';
import {
  alertRow,
  auditFromRow,
  auditRow,
  parseAlertJson,
  parseScoreJson,
  partitionEndMs,
  planAlerts,
  planAudit,
  planHistory,
  planScores,
  retentionCutoffs,
  sampleRows,
  scoreRow,
  type AlertRow,
  type AuditRow,
  type RetentionTable,
  type SampleRow,
  type ScoreRow,
} from './rows.js';
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

export const SAMPLE_COLUMNS = 'patient_key, patient_id, device_id, ward, metric, ts, ts_ms, value, quality, source, recv_ts_ms, trace_id';
const ALERT_COLUMNS =
  'event_id, alert_id, patient_id, ward, rule_id, kind, priority, state, event, ts, ts_ms, opened_at_ms, ack_by, message, value, json';
const AUDIT_COLUMNS = 'id, ts, ts_ms, user_id, role, action, resource, patient_id, address, outcome';
const SCORE_COLUMNS = 'patient_id, ward, ts, ts_ms, score, max_score, risk, complete, json';

const q = (s: string): string => sqlString(s, 'clickhouse');
const dt = (ms: number): string => sqlDateTime(ms, 'clickhouse');
const J = JSON.stringify;
const sec = (ms: number): number => Math.floor(ms / 1000);

// Pre-serialised bodies, every column present: the client's per-row JSON work halves insert
// throughput (PERF_NOTES), and omitted columns would silently become zero on 18.16.

// TabSeparated escaping (ClickHouse's readEscapedString): a backslash starts an escape, a tab or
// newline would end the field or row. \r is escaped too so a body never depends on line-ending
// handling. Everything else, UTF-8 included, passes as is (NUL is rejected earlier, sql.ts).
const TSV_SPECIAL = /[\\\t\n\r]/;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
/** A string as a TabSeparated field. */
export function tsvField(s: string): string {
  return TSV_SPECIAL.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => TSV_ESCAPES[c] as string) : s;
}

/**
 * TabSeparated text for rows[from, to), newline-terminated, columns in SAMPLE_COLUMNS order. The
 * server parses it with less work than JSONEachRow (no field names, no JSON unescaping): with this
 * body the sink measured about half of clickhouse-client's rate on the same bytes (0.38-0.75, ADR 0020).
 * A sample fans out to one row per metric with the same strings, so the escaped head and tail are
 * reused across those consecutive rows: string escaping is most of the per-row cost. Metric names
 * are validated identifiers (no escaping).
 */
export function sampleTsv(rows: readonly SampleRow[], from: number, to: number): string {
  let prev: SampleRow | undefined;
  let head = '';
  let tail = '';
  let out = '';
  for (let i = from; i < to; i++) {
    const r = rows[i] as SampleRow;
    if (
      prev === undefined ||
      r.patient_key !== prev.patient_key ||
      r.patient_id !== prev.patient_id ||
      r.device_id !== prev.device_id ||
      r.ward !== prev.ward ||
      r.source !== prev.source ||
      r.trace_id !== prev.trace_id ||
      r.recv_ts_ms !== prev.recv_ts_ms
    ) {
      head = `${tsvField(r.patient_key)}\t${tsvField(r.patient_id)}\t${tsvField(r.device_id)}\t${tsvField(r.ward)}\t`;
      tail = `\t${tsvField(r.source)}\t${r.recv_ts_ms}\t${tsvField(r.trace_id)}\n`;
    }
    out += `${head}${r.metric}\t${sec(r.ts_ms)}\t${r.ts_ms}\t${r.value}\t${r.quality}${tail}`;
    prev = r;
  }
  return out;
}

function alertLine(r: AlertRow): string {
  return `{"event_id":${J(r.event_id)},"alert_id":${J(r.alert_id)},"patient_id":${J(r.patient_id)},"ward":${J(r.ward)},"rule_id":${J(r.rule_id)},"kind":${J(r.kind)},"priority":${J(r.priority)},"state":${J(r.state)},"event":${J(r.event)},"ts":${sec(r.ts_ms)},"ts_ms":${r.ts_ms},"opened_at_ms":${r.opened_at_ms},"ack_by":${J(r.ack_by)},"message":${J(r.message)},"value":${r.value === null ? 'null' : r.value},"json":${J(r.json)}}`;
}

function auditLine(r: AuditRow): string {
  return `{"id":${J(r.id)},"ts":${sec(r.ts_ms)},"ts_ms":${r.ts_ms},"user_id":${J(r.user_id)},"role":${J(r.role)},"action":${J(r.action)},"resource":${J(r.resource)},"patient_id":${r.patient_id === null ? 'null' : J(r.patient_id)},"address":${J(r.address)},"outcome":${J(r.outcome)}}`;
}

function scoreLine(r: ScoreRow): string {
  return `{"patient_id":${J(r.patient_id)},"ward":${J(r.ward)},"ts":${sec(r.ts_ms)},"ts_ms":${r.ts_ms},"score":${r.score},"max_score":${r.max_score},"risk":${J(r.risk)},"complete":${r.complete ? 1 : 0},"json":${J(r.json)}}`;
}

/** Rows per body chunk: one request per batch, streamed, without building one giant string. */
const CHUNK_ROWS = 10_000;

/** Renders rows[from, to) as newline-terminated body text (JSONEachRow or TabSeparated). */
type Render = (from: number, to: number) => string;

const perLine =
  <T>(rows: readonly T[], line: (r: T) => string): Render =>
  (from, to) =>
    rows.slice(from, to).map(line).join('\n') + '\n';

// Lazy: a chunk is rendered only when the socket wants more, so rendering overlaps the server's
// parsing of the previous chunk and a large batch never exists as one string.
function* bodyChunks(count: number, render: Render): Generator<Buffer> {
  for (let i = 0; i < count; i += CHUNK_ROWS) {
    yield Buffer.from(render(i, Math.min(count, i + CHUNK_ROWS)), 'utf8');
  }
}

/**
 * The numeric ClickHouse error code in an error, if any. 18.16 formats errors as
 * "Code: 81, e.displayText() = DB::Exception: ...", which the client surfaces as a plain Error.
 * @param e - anything thrown by the client
 * @returns the code, or undefined for network and client-side errors
 */
export function clickHouseErrorCode(e: unknown): number | undefined {
  const fromField = (e as { code?: unknown } | null)?.code;
  if (typeof fromField === 'string' && /^\d+$/.test(fromField)) return Number(fromField);
  const m = /Code: (\d+)/.exec(e instanceof Error ? e.message : String(e));
  return m ? Number(m[1]) : undefined;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/**
 * Map a client error to a VitalsError. Server messages can quote the failing SQL, which holds
 * patient ids as literals, so the message keeps only the operation and code; the original is the cause.
 */
function wrap(op: string, e: unknown): VitalsError {
  if (isVitalsError(e)) return e;
  const code = clickHouseErrorCode(e);
  if (code !== undefined) return new VitalsError('VTL_ERR_INTERNAL', `clickhouse ${op} failed (code ${code})`, { cause: e });
  const sys = (e as { code?: unknown } | null)?.code;
  const network = (typeof sys === 'string' && NETWORK_CODES.has(sys)) || /timeout|socket hang up|ECONN/i.test(e instanceof Error ? e.message : '');
  return new VitalsError(network ? 'VTL_ERR_STORE_UNAVAILABLE' : 'VTL_ERR_INTERNAL', `clickhouse ${op} failed${typeof sys === 'string' ? ` (${sys})` : ''}`, { cause: e });
}

/**
 * The client logs to the console by default. Route its warnings to our pino logger (or nowhere),
 * with the message only: its error objects can quote server messages, and those can quote SQL
 * holding patient ids. The same errors reach the caller as VitalsErrors anyway.
 */
function clientLoggerClass(log: Logger | undefined): new () => ClientLogger {
  return class implements ClientLogger {
    trace(_p: LogParams): void {}
    debug(_p: LogParams): void {}
    info(_p: LogParams): void {}
    warn(p: WarnLogParams): void {
      log?.warn({ component: 'clickhouse-client', module: p.module }, p.message);
    }
    error(p: WarnLogParams): void {
      log?.debug({ component: 'clickhouse-client', module: p.module, code: clickHouseErrorCode(p.err) }, p.message);
    }
  };
}

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

  async function insertLines(op: string, table: string, columns: string, count: number, render: Render, format: 'JSONEachRow' | 'TabSeparated' = 'JSONEachRow'): Promise<void> {
    if (count === 0) return;
    try {
      await postInsert({ url: opts.url, database }, `INSERT INTO ${table} (${columns}) FORMAT ${format}`, bodyChunks(count, render));
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
        const ledgerRow = `{"version":${m.version},"name":${J(m.name)},"applied_at":${sec(Date.now())}}\n`;
        await insertLines('migrate', 'schema_migrations', 'version, name, applied_at', 1, () => ledgerRow);
        log?.info({ version: m.version, migration: m.name }, 'store migration applied');
      }
    },

    async appliedMigrations() {
      await ensureLedger();
      return applied();
    },

    async insertSamples(samples: CanonicalSample[]) {
      const rows = sampleRows(samples);
      await insertLines('insertSamples', 'samples', SAMPLE_COLUMNS, rows.length, (from, to) => sampleTsv(rows, from, to), 'TabSeparated');
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
