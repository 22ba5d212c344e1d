/**
 * Validation and row mapping shared by both store adapters, so DuckDB and ClickHouse accept and
 * reject exactly the same inputs and store the same row shape.
 * Every error names the field, never the value (values may be patient data).
 */
import { VitalsError } from '../../core/errors.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import type { AuditEvent } from '../../core/audit.js';
import type { AlertQuery, AuditQuery, HistoryQuery, RetentionPolicy, ScoreQuery } from '../../core/ports.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import { isMetricName, sampleKey, type CanonicalSample, type MetricName } from '../../core/vitals.js';
import { assertFiniteNumber, assertSafeInteger, assertSqlString, assertTimestampMs, MAX_TIMESTAMP_MS } from './sql.js';

/** Stored when a sample carries no quality for a metric (NaN would not survive JSON). */
export const QUALITY_ABSENT = -1;

/** Hard ceiling on rows returned by one query, whatever limit the caller asks for. */
export const MAX_QUERY_LIMIT = 100_000;

/** One stored telemetry row: a canonical sample fans out to one row per metric. */
export interface SampleRow {
  patient_key: string;
  /** '' when the device is unassigned. */
  patient_id: string;
  device_id: string;
  /** '' when unknown. */
  ward: string;
  metric: MetricName;
  ts_ms: number;
  value: number;
  /** 0..1, or {@link QUALITY_ABSENT}. */
  quality: number;
  source: string;
  recv_ts_ms: number;
  trace_id: string;
}

export interface AlertRow {
  event_id: string;
  alert_id: string;
  patient_id: string;
  ward: string;
  rule_id: string;
  kind: string;
  priority: string;
  state: string;
  event: string;
  ts_ms: number;
  opened_at_ms: number;
  /** '' when nobody acknowledged. */
  ack_by: string;
  message: string;
  value: number | null;
  json: string;
}

export interface AuditRow {
  id: string;
  ts_ms: number;
  user_id: string;
  role: string;
  action: string;
  resource: string;
  patient_id: string | null;
  address: string;
  outcome: string;
}

function bad(what: string, why: string): never {
  throw new VitalsError('VTL_ERR_BAD_REQUEST', `${what}: ${why}`);
}

function nonEmpty(s: unknown, what: string): string {
  assertSqlString(s, what);
  if (s === '') bad(what, 'empty');
  return s;
}

function optionalString(s: unknown, what: string): string {
  if (s === null || s === undefined) return '';
  assertSqlString(s, what);
  return s;
}

/**
 * Validate a batch and fan it out to rows. All-or-nothing: one bad sample rejects the batch
 * before anything is written, so a retry never half-applies. NaN/Infinity values are rejected
 * (the ingest layer validates first; reaching here with one is a bug upstream).
 * @param samples - canonical samples
 * @param offset - index of samples[0] in the caller's batch (error messages name the sample)
 * @returns one row per (sample, metric)
 */
export function sampleRows(samples: readonly CanonicalSample[], offset = 0): SampleRow[] {
  const rows: SampleRow[] = [];
  samples.forEach((s, i) => {
    const at = `samples[${offset + i}]`;
    const deviceId = nonEmpty(s.deviceId, `${at}.deviceId`);
    const patientId = s.patientId === null ? null : nonEmpty(s.patientId, `${at}.patientId`);
    const ward = optionalString(s.ward, `${at}.ward`);
    assertTimestampMs(s.ts, `${at}.ts`);
    assertTimestampMs(s.recvTs, `${at}.recvTs`);
    assertSqlString(s.source, `${at}.source`);
    assertSqlString(s.traceId, `${at}.traceId`);
    if (typeof s.metrics !== 'object' || s.metrics === null) bad(`${at}.metrics`, 'not an object');
    const key = sampleKey({ patientId, deviceId });
    for (const [metric, value] of Object.entries(s.metrics)) {
      if (!isMetricName(metric)) bad(`${at}.metrics`, 'unknown metric name');
      if (value === undefined) continue;
      assertFiniteNumber(value, `${at}.metrics.${metric}`);
      const q = s.quality?.[metric];
      if (q !== undefined) assertFiniteNumber(q, `${at}.quality.${metric}`);
      rows.push({
        patient_key: key,
        patient_id: patientId ?? '',
        device_id: deviceId,
        ward,
        metric,
        ts_ms: s.ts,
        value,
        quality: q ?? QUALITY_ABSENT,
        source: s.source,
        recv_ts_ms: s.recvTs,
        trace_id: s.traceId,
      });
    }
  });
  return rows;
}

/**
 * Validate an alert event and flatten it; `json` keeps the whole event for an exact round trip.
 * @param e - the event
 * @param i - its index in the batch, for error messages
 * @returns the row
 */
export function alertRow(e: AlertEvent, i = 0): AlertRow {
  const at = `events[${i}]`;
  const a = e.alert;
  if (typeof a !== 'object' || a === null) bad(`${at}.alert`, 'not an object');
  assertTimestampMs(e.ts, `${at}.ts`);
  assertTimestampMs(a.openedAt, `${at}.alert.openedAt`);
  if (a.value !== null && a.value !== undefined) assertFiniteNumber(a.value, `${at}.alert.value`);
  const row: AlertRow = {
    event_id: nonEmpty(e.eventId, `${at}.eventId`),
    alert_id: nonEmpty(a.id, `${at}.alert.id`),
    patient_id: nonEmpty(a.patientId, `${at}.alert.patientId`),
    ward: optionalString(a.ward, `${at}.alert.ward`),
    rule_id: nonEmpty(a.ruleId, `${at}.alert.ruleId`),
    kind: nonEmpty(a.kind, `${at}.alert.kind`),
    priority: nonEmpty(a.priority, `${at}.alert.priority`),
    state: nonEmpty(a.state, `${at}.alert.state`),
    event: nonEmpty(e.event, `${at}.event`),
    ts_ms: e.ts,
    opened_at_ms: a.openedAt,
    ack_by: optionalString(a.ackBy, `${at}.alert.ackBy`),
    message: optionalString(a.message, `${at}.alert.message`),
    value: a.value ?? null,
    // JSON.stringify escapes control characters and lone surrogates, so this is always storable.
    json: JSON.stringify(e),
  };
  return row;
}

/**
 * Validate an audit event and flatten it.
 * @param a - the event
 * @param i - its index in the batch, for error messages
 * @returns the row
 */
export function auditRow(a: AuditEvent, i = 0): AuditRow {
  const at = `audit[${i}]`;
  assertTimestampMs(a.ts, `${at}.ts`);
  if (a.patientId !== null) assertSqlString(a.patientId, `${at}.patientId`);
  assertSqlString(a.role, `${at}.role`);
  assertSqlString(a.resource, `${at}.resource`);
  assertSqlString(a.address, `${at}.address`);
  return {
    id: nonEmpty(a.id, `${at}.id`),
    ts_ms: a.ts,
    user_id: nonEmpty(a.userId, `${at}.userId`),
    role: a.role,
    action: nonEmpty(a.action, `${at}.action`),
    resource: a.resource,
    patient_id: a.patientId,
    address: a.address,
    outcome: nonEmpty(a.outcome, `${at}.outcome`),
  };
}

function clampTime(ms: unknown, what: string): number {
  assertSafeInteger(ms, what);
  return Math.min(Math.max(ms, 0), MAX_TIMESTAMP_MS);
}

function limitOf(n: unknown): number {
  assertSafeInteger(n, 'limit');
  if (n < 1) bad('limit', 'must be at least 1');
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
  const patientKey = nonEmpty(q.patientKey, 'patientKey');
  if (typeof q.metric !== 'string' || !isMetricName(q.metric)) bad('metric', 'unknown metric name');
  const from = clampTime(q.from, 'from');
  const to = clampTime(q.to, 'to');
  const limit = limitOf(q.limit);
  if (q.step === 'raw') return { kind: 'raw', patientKey, metric: q.metric, from, to, limit };
  assertSafeInteger(q.step, 'step');
  if (q.step < 1) bad('step', 'must be positive');
  const step = q.step;
  const start = Math.floor(from / step) * step;
  // Capped so a caller's "until forever" never renders a DateTime past 2106 (UInt32 overflow).
  const end = Math.min(Math.ceil(to / step) * step, MAX_TIMESTAMP_MS);
  return { kind: 'buckets', patientKey, metric: q.metric, step, from: start, to: end, limit, useRollup: step % 60_000 === 0 };
}

/** A validated alert query. */
export interface AlertPlan {
  wards: string[] | undefined;
  patientId: string | undefined;
  state: string | undefined;
  from: number | undefined;
  to: number | undefined;
  limit: number;
}

/**
 * Validate an alert query. Time range is half-open: from <= ts < to. An empty ward list
 * matches nothing (a clinician with no wards sees no alerts), rather than everything.
 * @param q - the query
 * @returns the plan
 */
export function planAlerts(q: AlertQuery): AlertPlan {
  if (q.ward !== undefined) {
    if (!Array.isArray(q.ward)) bad('ward', 'not a list');
    q.ward.forEach((w, i) => assertSqlString(w, `ward[${i}]`));
  }
  if (q.patientId !== undefined) assertSqlString(q.patientId, 'patientId');
  if (q.state !== undefined) assertSqlString(q.state, 'state');
  return {
    wards: q.ward,
    patientId: q.patientId,
    state: q.state,
    from: q.from === undefined ? undefined : clampTime(q.from, 'from'),
    to: q.to === undefined ? undefined : clampTime(q.to, 'to'),
    limit: limitOf(q.limit),
  };
}

/**
 * Parse the stored JSON of an alert event.
 * @param json - the `json` column
 * @returns the event
 */
export function parseAlertJson(json: unknown): AlertEvent {
  if (typeof json !== 'string') throw new VitalsError('VTL_ERR_INTERNAL', 'alert_events.json is not text');
  return JSON.parse(json) as AlertEvent;
}

/** One stored NEWS2 result. */
export interface ScoreRow {
  patient_id: string;
  ward: string;
  ts_ms: number;
  score: number;
  max_score: number;
  risk: string;
  complete: boolean;
  json: string;
}

function smallInt(n: unknown, what: string): number {
  assertSafeInteger(n, what);
  if (n < 0 || n > 255) bad(what, 'out of range');
  return n;
}

/**
 * Validate a NEWS2 result and flatten it; `json` keeps the whole result for an exact round trip.
 * @param sc - the result as the rules role publishes it
 * @param i - its index in the batch, for error messages
 * @returns the row
 */
export function scoreRow(sc: ScoreOutput, i = 0): ScoreRow {
  const at = `scores[${i}]`;
  if (typeof sc !== 'object' || sc === null) bad(at, 'not an object');
  assertTimestampMs(sc.ts, `${at}.ts`);
  if (typeof sc.complete !== 'boolean') bad(`${at}.complete`, 'not a boolean');
  return {
    patient_id: nonEmpty(sc.patientId, `${at}.patientId`),
    ward: optionalString(sc.ward, `${at}.ward`),
    ts_ms: sc.ts,
    score: smallInt(sc.score, `${at}.score`),
    max_score: smallInt(sc.maxScore, `${at}.maxScore`),
    risk: nonEmpty(sc.risk, `${at}.risk`),
    complete: sc.complete,
    json: JSON.stringify(sc),
  };
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
  return { patientId: nonEmpty(q.patientId, 'patientId'), from: clampTime(q.from, 'from'), to: clampTime(q.to, 'to'), limit: limitOf(q.limit) };
}

/** A validated audit query; undefined filters match everything. */
export interface AuditPlan {
  userId: string | undefined;
  patientId: string | undefined;
  action: string | undefined;
  from: number | undefined;
  to: number | undefined;
  limit: number;
}

/**
 * Validate an audit query. Time range is half-open: from <= ts < to.
 * @param q - the query
 * @returns the plan
 */
export function planAudit(q: AuditQuery): AuditPlan {
  if (q.userId !== undefined) assertSqlString(q.userId, 'userId');
  if (q.patientId !== undefined) assertSqlString(q.patientId, 'patientId');
  if (q.action !== undefined) assertSqlString(q.action, 'action');
  return {
    userId: q.userId,
    patientId: q.patientId,
    action: q.action,
    from: q.from === undefined ? undefined : clampTime(q.from, 'from'),
    to: q.to === undefined ? undefined : clampTime(q.to, 'to'),
    limit: limitOf(q.limit),
  };
}

/**
 * Parse the stored JSON of a NEWS2 result.
 * @param json - the `json` column
 * @returns the result
 */
export function parseScoreJson(json: unknown): ScoreOutput {
  if (typeof json !== 'string') throw new VitalsError('VTL_ERR_INTERNAL', 'news2_scores.json is not text');
  return JSON.parse(json) as ScoreOutput;
}

/** An audit row as read back (either engine), to the event shape. */
export function auditFromRow(r: Record<string, unknown>): AuditEvent {
  return {
    v: 1,
    id: String(r.id),
    ts: Number(r.ts_ms),
    userId: String(r.user_id),
    role: String(r.role),
    action: String(r.action),
    resource: String(r.resource),
    patientId: r.patient_id === null || r.patient_id === undefined ? null : String(r.patient_id),
    address: String(r.address),
    outcome: String(r.outcome) as AuditEvent['outcome'],
  };
}

const DAY_MS = 86_400_000;

/** Which policy field governs each table; samples_1m exists as a table only on ClickHouse. */
export const RETENTION_TABLES = {
  samples: 'rawDays',
  samples_1m: 'rollupDays',
  news2_scores: 'scoresDays',
  alert_events: 'alertsDays',
  audit: 'auditDays',
} as const satisfies Record<string, keyof RetentionPolicy>;

export type RetentionTable = keyof typeof RETENTION_TABLES;

/**
 * Per table, the event time before which rows are expired, or null when kept forever (0 days).
 * @param now - epoch ms
 * @param policy - days per kind of data
 * @returns table -> cutoff (epoch ms)
 */
export function retentionCutoffs(now: number, policy: RetentionPolicy): Record<RetentionTable, number | null> {
  assertTimestampMs(now, 'now');
  const out = {} as Record<RetentionTable, number | null>;
  for (const [table, field] of Object.entries(RETENTION_TABLES) as Array<[RetentionTable, keyof RetentionPolicy]>) {
    const days = policy[field];
    assertSafeInteger(days, `policy.${field}`);
    if (days < 0) bad(`policy.${field}`, 'negative');
    out[table] = days === 0 ? null : Math.max(0, now - days * DAY_MS);
  }
  return out;
}

/**
 * The end (exclusive, epoch ms) of the time range a ClickHouse partition id covers:
 * `YYYYMMDD` (toYYYYMMDD) or `YYYYMM` (toYYYYMM). A partition may be dropped only when this
 * end is at or before the cutoff, i.e. every row it can hold is expired.
 * @param id - partition id from system.parts
 * @returns the end, or null for an id of another shape (never dropped)
 */
export function partitionEndMs(id: string): number | null {
  const d = /^(\d{4})(\d{2})(\d{2})$/.exec(id);
  if (d) return Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]) + 1);
  const m = /^(\d{4})(\d{2})$/.exec(id);
  if (m) return Date.UTC(Number(m[1]), Number(m[2]), 1);
  return null;
}
