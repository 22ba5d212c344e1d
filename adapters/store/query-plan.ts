/**
 * Query validation shared by both store adapters: each query becomes a plan with its range clamped
 * and its limit capped, so DuckDB and ClickHouse accept the same queries and answer the same range.
 * Every error names the field, never the value (values may be patient data).
 */
import type { AlertQuery, AuditQuery, HistoryQuery, ScoreQuery } from '../../core/ports.js';
import { isMetricName, type MetricName } from '../../core/vitals.js';
import { assertSafeInteger, assertSqlString, MAX_TIMESTAMP_MS, nonEmptyString, reject } from './sql.js';

/** Hard ceiling on rows returned by one query, whatever limit the caller asks for. */
export const MAX_QUERY_LIMIT = 100_000;

function clampTime(ms: unknown, what: string): number {
  assertSafeInteger(ms, what);
  return Math.min(Math.max(ms, 0), MAX_TIMESTAMP_MS);
}

function limitOf(n: unknown): number {
  assertSafeInteger(n, 'limit');
  if (n < 1) reject('limit', 'must be at least 1');
  return Math.min(n, MAX_QUERY_LIMIT);
}

/** A validated history query; buckets carry their aligned half-open range. */
export type HistoryPlan =
  | { kind: 'raw'; patientKey: string; metric: MetricName; from: number; to: number; limit: number }
  | { kind: 'buckets'; patientKey: string; metric: MetricName; step: number; from: number; to: number; limit: number; useRollup: boolean };

/**
 * Validate a history query and resolve its range.
 * Raw: points with from <= ts < to. Buckets: every step-aligned bucket [b, b+step) that overlaps
 * [from, to), each computed over its whole width, so the rollup path and the raw path agree.
 * @param q - the query
 * @returns the plan
 */
export function planHistory(q: HistoryQuery): HistoryPlan {
  const patientKey = nonEmptyString(q.patientKey, 'patientKey');
  if (typeof q.metric !== 'string' || !isMetricName(q.metric)) reject('metric', 'unknown metric name');
  const from = clampTime(q.from, 'from');
  const to = clampTime(q.to, 'to');
  const limit = limitOf(q.limit);
  if (q.step === 'raw') return { kind: 'raw', patientKey, metric: q.metric, from, to, limit };
  assertSafeInteger(q.step, 'step');
  if (q.step < 1) reject('step', 'must be positive');
  const step = q.step;
  const start = Math.floor(from / step) * step;
  // Capped so a caller's "until forever" never renders a DateTime past 2106 (UInt32 overflow).
  const end = Math.min(Math.ceil(to / step) * step, MAX_TIMESTAMP_MS);
  return { kind: 'buckets', patientKey, metric: q.metric, step, from: start, to: end, limit, useRollup: step % 60_000 === 0 };
}

/** An optional half-open time range [from, to) and a capped limit: the alert and audit queries' common part. */
export interface OptionalRangePlan {
  from: number | undefined;
  to: number | undefined;
  limit: number;
}

function optionalRange(q: { from?: number | undefined; to?: number | undefined; limit: number }): OptionalRangePlan {
  return {
    from: q.from === undefined ? undefined : clampTime(q.from, 'from'),
    to: q.to === undefined ? undefined : clampTime(q.to, 'to'),
    limit: limitOf(q.limit),
  };
}

/** An optional filter value, checked to be storable; undefined matches everything. */
function optionalFilter(s: string | undefined, what: string): string | undefined {
  if (s !== undefined) assertSqlString(s, what);
  return s;
}

/** A validated alert query. */
export interface AlertPlan extends OptionalRangePlan {
  wards: string[] | undefined;
  patientId: string | undefined;
  state: string | undefined;
}

/**
 * Validate an alert query. Time range is half-open: from <= ts < to. An empty ward list
 * matches nothing (a clinician with no wards sees no alerts), rather than everything.
 * @param q - the query
 * @returns the plan
 */
export function planAlerts(q: AlertQuery): AlertPlan {
  if (q.ward !== undefined) {
    if (!Array.isArray(q.ward)) reject('ward', 'not a list');
    q.ward.forEach((w, i) => assertSqlString(w, `ward[${i}]`));
  }
  return { wards: q.ward, patientId: optionalFilter(q.patientId, 'patientId'), state: optionalFilter(q.state, 'state'), ...optionalRange(q) };
}

/** A validated score query (half-open range). */
export interface ScorePlan {
  patientId: string;
  from: number;
  to: number;
  limit: number;
}

/**
 * Validate a score query.
 * @param q - the query
 * @returns the plan
 */
export function planScores(q: ScoreQuery): ScorePlan {
  return { patientId: nonEmptyString(q.patientId, 'patientId'), from: clampTime(q.from, 'from'), to: clampTime(q.to, 'to'), limit: limitOf(q.limit) };
}

/** A validated audit query; undefined filters match everything. */
export interface AuditPlan extends OptionalRangePlan {
  userId: string | undefined;
  patientId: string | undefined;
  action: string | undefined;
}

/**
 * Validate an audit query. Time range is half-open: from <= ts < to.
 * @param q - the query
 * @returns the plan
 */
export function planAudit(q: AuditQuery): AuditPlan {
  return {
    userId: optionalFilter(q.userId, 'userId'),
    patientId: optionalFilter(q.patientId, 'patientId'),
    action: optionalFilter(q.action, 'action'),
    ...optionalRange(q),
  };
}
