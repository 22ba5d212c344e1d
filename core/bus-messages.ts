/**
 * The bus message types that no domain module owns (NEWS2 scores, dead letters, device status),
 * one validated decoder per bus message type, and decode-once for records.
 *
 * A record is decoded at most once per process: the embedded bus hands in-process readers the
 * object its publisher built (`BusRecord.decoded`), and the first reader that has to parse
 * stores its result there for the next (readers of one embedded bus share record objects).
 * Decoded values are shared, so readers treat them as read-only. Kafka records arrive as text
 * and are parsed once per process the same way. Pure: no I/O.
 */
import type { AlertEvent, ChartAction, ClinicianAction } from './alerts-model.js';
import type { AuditEvent } from './audit.js';
import type { BusRecord } from './ports.js';
import type { News2Param, News2Result } from './news2.js';
import type { Rejection } from './payload.js';
import type { DeviceRecord } from './registry.js';
import type { CanonicalSample } from './vitals.js';

/** A NEWS2 result for the `news2.scores` topic. */
export interface ScoreOutput extends News2Result {
  patientId: string;
  ward: string;
  /** Event time the score is valid at. */
  ts: number;
  /** Parameters left out because their last value is older than news2.maxAge. */
  stale: News2Param[];
  /**
   * Event time of the sample each scored value came from: with `raw`, what this score used
   * (FHIR derivedFrom). Absent on scores written before it existed.
   */
  inputTs?: Partial<Record<News2Param, number>>;
}

/** The value on `vitals.dlq`: enough to replay or diagnose, kept on the bus only (short retention), never in logs. */
export interface DlqEntry {
  v: 1;
  deviceId: string;
  channel: string;
  reason: Rejection['reason'];
  field: string | null;
  /** Index in a batch, -1 for the whole payload. */
  index: number;
  ts: number;
  traceId: string;
  size: number;
  /** The rejected payload (or batch item) as text; null when it was too large or not kept. */
  payload: string | null;
}

/** The value on `device.status`: online/offline and device health, for the gateway and technical alerts. */
export interface DeviceStatus {
  v: 1;
  deviceId: string;
  patientId: string | null;
  ward: string | null;
  ts: number;
  online: boolean;
  battery: number | null;
  rssi: number | null;
  firmware: string | null;
}

/** A decoder checks what every reader relies on; it returns null (never throws) for anything else. */
export type Decoder<T> = (value: unknown) => T | null;

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isStr = (x: unknown): x is string => typeof x === 'string';
const strOrNull = (x: unknown): boolean => x === null || typeof x === 'string';

/** `vitals.samples` / `vitals.backlog` (v 1). */
export const decodeSample: Decoder<CanonicalSample> = (x) =>
  isObj(x) && x.v === 1 && isStr(x.deviceId) && strOrNull(x.patientId) && isNum(x.ts) && isNum(x.recvTs) && isObj(x.metrics) && isStr(x.traceId) ? (x as unknown as CanonicalSample) : null;

/** `alerts` (v 1). */
export const decodeAlertEvent: Decoder<AlertEvent> = (x) =>
  isObj(x) && x.v === 1 && isStr(x.eventId) && isStr(x.event) && isNum(x.ts) && isObj(x.alert) && isStr(x.alert.id) && isStr(x.alert.patientId) ? (x as unknown as AlertEvent) : null;

/** `alert.actions` (v 1): acknowledgements and chart orders. */
export const decodeAction: Decoder<ClinicianAction> = (x) =>
  isObj(x) && x.v === 1 && (x.action === 'ack' || x.action === 'chart') && isStr(x.patientId) && isNum(x.ts) ? (x as unknown as ClinicianAction) : null;

/**
 * A chart order (SpO2 scale) fit to apply: every field the gateway's view and the rules engine
 * read. The one check for both (decodeAction admits any action shape with a patient and time).
 */
export function isChartOrder(a: unknown): a is ChartAction {
  return (
    isObj(a) &&
    a.action === 'chart' &&
    isStr(a.patientId) &&
    (a.spo2Scale === 1 || a.spo2Scale === 2) &&
    isStr(a.orderedBy) &&
    isNum(a.ts) &&
    (a.until === null || isNum(a.until))
  );
}

/** `registry` (v 1), compacted: a device's record; its tombstone (null value) is a revocation. */
export const decodeDeviceRecord: Decoder<DeviceRecord> = (x) => (isObj(x) && x.v === 1 && isStr(x.deviceId) ? (x as unknown as DeviceRecord) : null);

/** `news2.scores`: no version field yet (ScoreOutput is also the store's row); checked by shape. */
export const decodeScore: Decoder<ScoreOutput> = (x) =>
  isObj(x) && isStr(x.patientId) && isNum(x.ts) && isNum(x.score) && isObj(x.components) ? (x as unknown as ScoreOutput) : null;

/** `audit` (v 1). */
export const decodeAudit: Decoder<AuditEvent> = (x) => (isObj(x) && x.v === 1 && isStr(x.id) && isNum(x.ts) && isStr(x.action) ? (x as unknown as AuditEvent) : null);

/** Any other v 1 message (e.g. `device.status`), for readers that check the fields they use. */
export const decodeV1Object: Decoder<Record<string, unknown>> = (x) => (isObj(x) && x.v === 1 ? x : null);

/**
 * The record's value, decoded once: from `decoded` when an in-process publisher or an earlier
 * reader left it, else parsed here and left for the next reader. Null for tombstones,
 * unparsable text and values the decoder refuses (the caller counts or dead-letters them).
 */
export function decodeRecord<T>(r: BusRecord, decoder: Decoder<T>): T | null {
  if (r.value === null) return null;
  if (r.decoded !== undefined) return decoder(r.decoded);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.value);
  } catch {
    parsed = null;
  }
  r.decoded = parsed;
  return decoder(parsed);
}
