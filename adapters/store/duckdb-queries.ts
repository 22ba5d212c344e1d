/**
 * The embedded store's read queries on DuckDB: a series' history (raw, or bucketed from the
 * rollups or raw rows), alerts, scores and audit. Strings are bound as parameters; only validated
 * numbers are inlined.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { AlertEvent } from '../../core/alerts-model.js';
import type { AuditEvent } from '../../core/audit.js';
import type { BucketPoint, RawPoint } from '../../core/ports.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import { rows } from './duckdb-conn.js';
import { rollupBuckets, type SealedRows } from './duckdb-rollup.js';
import type { AlertPlan, AuditPlan, HistoryPlan, ScorePlan } from './query-plan.js';
import { auditFromRow, parseAlertJson, parseScoreJson } from './rows.js';
import { sqlInt } from './sql.js';
import type { TailRollup } from './tail-rollup.js';

/**
 * @param c - the connection
 * @param p - a validated history plan with a non-empty range
 * @param tailOf - the tail's rollup (read only for minute-multiple buckets)
 * @param sealed - the sealed rollup's rows cached in memory (minute-multiple buckets)
 * @returns raw points or buckets, ascending
 */
export async function historyQuery(
  c: DuckDBConnection,
  p: HistoryPlan,
  tailOf: (c: DuckDBConnection) => Promise<TailRollup>,
  sealed: SealedRows,
): Promise<RawPoint[] | BucketPoint[]> {
  const where = `patient_key = $1 AND metric = $2 AND ts_ms >= ${sqlInt(p.from)} AND ts_ms < ${sqlInt(p.to)}`;
  if (p.kind === 'raw') {
    const r = await rows(c, `SELECT CAST(ts_ms AS DOUBLE) AS t, value FROM samples_unique WHERE ${where} ORDER BY ts_ms LIMIT ${sqlInt(p.limit)}`, [p.patientKey, p.metric]);
    return r.map((x) => ({ ts: Number(x.t), value: Number(x.value) }));
  }
  if (p.useRollup) return rollupBuckets(c, p, await tailOf(c), sealed);
  const step = sqlInt(p.step);
  const r = await rows(
    c,
    `SELECT CAST((ts_ms // ${step}) * ${step} AS DOUBLE) AS b, min(value) AS mn, max(value) AS mx, avg(value) AS av, CAST(count(*) AS DOUBLE) AS c
     FROM samples_unique WHERE ${where} GROUP BY b ORDER BY b LIMIT ${sqlInt(p.limit)}`,
    [p.patientKey, p.metric],
  );
  return r.map((x) => ({ ts: Number(x.b), min: Number(x.mn), max: Number(x.mx), avg: Number(x.av), count: Number(x.c) }));
}

/** Collects bound parameters; returns each one's placeholder. */
function params(): { values: DuckDBValue[]; param: (v: DuckDBValue) => string } {
  const values: DuckDBValue[] = [];
  return {
    values,
    param: (v) => {
      values.push(v);
      return `$${values.length}`;
    },
  };
}

/**
 * @param c - the connection
 * @param p - a validated alert plan with wards absent or non-empty
 * @returns alert events, newest first
 */
export async function alertsQuery(c: DuckDBConnection, p: AlertPlan): Promise<AlertEvent[]> {
  const { values, param } = params();
  const cond: string[] = ['TRUE'];
  if (p.wards !== undefined) cond.push(`ward IN (${p.wards.map(param).join(', ')})`);
  if (p.patientId !== undefined) cond.push(`patient_id = ${param(p.patientId)}`);
  if (p.state !== undefined) cond.push(`state = ${param(p.state)}`);
  if (p.from !== undefined) cond.push(`ts_ms >= ${sqlInt(p.from)}`);
  if (p.to !== undefined) cond.push(`ts_ms < ${sqlInt(p.to)}`);
  const r = await rows(c, `SELECT json FROM alert_events WHERE ${cond.join(' AND ')} ORDER BY ts_ms DESC, event_id DESC LIMIT ${sqlInt(p.limit)}`, values);
  return r.map((x) => parseAlertJson(x.json));
}

/**
 * @param c - the connection
 * @param p - a validated score plan with a non-empty range
 * @returns scores, ascending
 */
export async function scoresQuery(c: DuckDBConnection, p: ScorePlan): Promise<ScoreOutput[]> {
  const r = await rows(
    c,
    `SELECT json FROM news2_scores WHERE patient_id = $1 AND ts_ms >= ${sqlInt(p.from)} AND ts_ms < ${sqlInt(p.to)} ORDER BY ts_ms LIMIT ${sqlInt(p.limit)}`,
    [p.patientId],
  );
  return r.map((x) => parseScoreJson(x.json));
}

/**
 * @param c - the connection
 * @param p - a validated audit plan
 * @returns audit events, newest first
 */
export async function auditQuery(c: DuckDBConnection, p: AuditPlan): Promise<AuditEvent[]> {
  const { values, param } = params();
  const cond: string[] = ['TRUE'];
  if (p.userId !== undefined) cond.push(`user_id = ${param(p.userId)}`);
  if (p.patientId !== undefined) cond.push(`patient_id = ${param(p.patientId)}`);
  if (p.action !== undefined) cond.push(`action = ${param(p.action)}`);
  if (p.from !== undefined) cond.push(`ts_ms >= ${sqlInt(p.from)}`);
  if (p.to !== undefined) cond.push(`ts_ms < ${sqlInt(p.to)}`);
  const r = await rows(
    c,
    `SELECT id, CAST(ts_ms AS DOUBLE) AS ts_ms, user_id, role, action, resource, patient_id, address, outcome
     FROM audit WHERE ${cond.join(' AND ')} ORDER BY ts_ms DESC, id DESC LIMIT ${sqlInt(p.limit)}`,
    values,
  );
  return r.map(auditFromRow);
}
