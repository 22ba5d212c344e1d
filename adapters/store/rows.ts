/**
 * Validation and row mapping shared by both store adapters, so DuckDB and ClickHouse accept and
 * reject exactly the same inputs and store the same row shape.
 * Every error names the field, never the value (values may be patient data).
 */
import { VitalsError } from '../../core/errors.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import type { AuditEvent } from '../../core/audit.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import { isMetricName, sampleKey, type CanonicalSample, type MetricName } from '../../core/vitals.js';
import { assertFiniteNumber, assertSafeInteger, assertSqlString, assertTimestampMs, isSqlString, isTimestampMs, nonEmptyString, optionalString, reject } from './sql.js';

/** Stored when a sample carries no quality for a metric (NaN would not survive JSON). */
export const QUALITY_ABSENT = -1;

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
  forEachSampleRow(samples, (r) => rows.push({ ...r }), offset);
  return rows;
}

/**
 * sampleRows without the rows: validates the batch and hands each row to `visit` in order, in one
 * object reused for every row (copy it to keep it), so an encoder allocates nothing per row. A bad
 * sample throws after the rows before it were visited: callers write nothing until this returns.
 * @param samples - canonical samples
 * @param visit - called once per (sample, metric)
 * @param offset - index of samples[0] in the caller's batch (error messages name the sample)
 * @param endSample - called after each sample's rows (a sample-per-row encoder closes its row)
 */
export function forEachSampleRow(samples: readonly CanonicalSample[], visit: (row: Readonly<SampleRow>) => void, offset = 0, endSample?: () => void): void {
  const row: SampleRow = { patient_key: '', patient_id: '', device_id: '', ward: '', metric: 'hr', ts_ms: 0, value: 0, quality: 0, source: '', recv_ts_ms: 0, trace_id: '' };
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] as CanonicalSample;
    // Error labels are built only on failure: this runs for every sample the sink stores.
    const at = (field: string): string => `samples[${offset + i}].${field}`;
    const deviceId = isSqlString(s.deviceId) && s.deviceId !== '' ? s.deviceId : nonEmptyString(s.deviceId, at('deviceId'));
    const patientId = s.patientId === null ? null : isSqlString(s.patientId) && s.patientId !== '' ? s.patientId : nonEmptyString(s.patientId, at('patientId'));
    const ward = s.ward === null || s.ward === undefined ? '' : isSqlString(s.ward) ? s.ward : optionalString(s.ward, at('ward'));
    if (!isTimestampMs(s.ts)) assertTimestampMs(s.ts, at('ts'));
    if (!isTimestampMs(s.recvTs)) assertTimestampMs(s.recvTs, at('recvTs'));
    if (!isSqlString(s.source)) assertSqlString(s.source, at('source'));
    if (!isSqlString(s.traceId)) assertSqlString(s.traceId, at('traceId'));
    if (typeof s.metrics !== 'object' || s.metrics === null) reject(at('metrics'), 'not an object');
    row.patient_key = sampleKey({ patientId, deviceId });
    row.patient_id = patientId ?? '';
    row.device_id = deviceId;
    row.ward = ward;
    row.ts_ms = s.ts;
    row.source = s.source;
    row.recv_ts_ms = s.recvTs;
    row.trace_id = s.traceId;
    const quality = s.quality;
    for (const metric in s.metrics) {
      if (!Object.prototype.hasOwnProperty.call(s.metrics, metric)) continue;
      if (!isMetricName(metric)) reject(at('metrics'), 'unknown metric name');
      const value = s.metrics[metric];
      if (value === undefined) continue;
      if (typeof value !== 'number' || !Number.isFinite(value)) assertFiniteNumber(value, at(`metrics.${metric}`));
      const q = quality?.[metric];
      if (q !== undefined && (typeof q !== 'number' || !Number.isFinite(q))) assertFiniteNumber(q, at(`quality.${metric}`));
      row.metric = metric;
      row.value = value;
      row.quality = q ?? QUALITY_ABSENT;
      visit(row);
    }
    endSample?.();
  }
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
  if (typeof a !== 'object' || a === null) reject(`${at}.alert`, 'not an object');
  assertTimestampMs(e.ts, `${at}.ts`);
  assertTimestampMs(a.openedAt, `${at}.alert.openedAt`);
  if (a.value !== null && a.value !== undefined) assertFiniteNumber(a.value, `${at}.alert.value`);
  const row: AlertRow = {
    event_id: nonEmptyString(e.eventId, `${at}.eventId`),
    alert_id: nonEmptyString(a.id, `${at}.alert.id`),
    patient_id: nonEmptyString(a.patientId, `${at}.alert.patientId`),
    ward: optionalString(a.ward, `${at}.alert.ward`),
    rule_id: nonEmptyString(a.ruleId, `${at}.alert.ruleId`),
    kind: nonEmptyString(a.kind, `${at}.alert.kind`),
    priority: nonEmptyString(a.priority, `${at}.alert.priority`),
    state: nonEmptyString(a.state, `${at}.alert.state`),
    event: nonEmptyString(e.event, `${at}.event`),
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
    id: nonEmptyString(a.id, `${at}.id`),
    ts_ms: a.ts,
    user_id: nonEmptyString(a.userId, `${at}.userId`),
    role: a.role,
    action: nonEmptyString(a.action, `${at}.action`),
    resource: a.resource,
    patient_id: a.patientId,
    address: a.address,
    outcome: nonEmptyString(a.outcome, `${at}.outcome`),
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
  if (n < 0 || n > 255) reject(what, 'out of range');
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
  if (typeof sc !== 'object' || sc === null) reject(at, 'not an object');
  assertTimestampMs(sc.ts, `${at}.ts`);
  if (typeof sc.complete !== 'boolean') reject(`${at}.complete`, 'not a boolean');
  return {
    patient_id: nonEmptyString(sc.patientId, `${at}.patientId`),
    ward: optionalString(sc.ward, `${at}.ward`),
    ts_ms: sc.ts,
    score: smallInt(sc.score, `${at}.score`),
    max_score: smallInt(sc.maxScore, `${at}.maxScore`),
    risk: nonEmptyString(sc.risk, `${at}.risk`),
    complete: sc.complete,
    json: JSON.stringify(sc),
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
