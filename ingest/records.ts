/** Bus records that ingest writes besides samples: dead letters and device status. */
import type { DeviceStatus, DlqEntry } from '../core/bus-messages.js';
import type { Rejection } from '../core/payload.js';
import type { OutgoingRecord } from '../core/ports.js';
import type { DeviceRecord } from '../core/registry.js';

/**
 * The text kept on the DLQ for each rejection: the batch item for a per-sample rejection, the
 * whole payload otherwise; null when the payload is empty or larger than `maxKeep`.
 * The payload is parsed at most once, whatever the number of rejections (a 500-item batch of
 * bad samples must not cost 500 parses). Never throws: an exception here would withhold the
 * PUBACK and the device would resend the same poison message forever.
 */
export function keptPayloads(payload: Buffer, rejs: readonly Rejection[], maxKeep: number): Array<string | null> {
  if (payload.length === 0 || payload.length > maxKeep) return rejs.map(() => null);
  const text = payload.toString('utf8');
  let items: unknown[] | null = null;
  if (rejs.some((r) => r.index >= 0)) {
    try {
      const parsed = JSON.parse(text) as { samples?: unknown };
      if (Array.isArray(parsed?.samples)) items = parsed.samples;
    } catch {
      /* keep the whole text */
    }
  }
  return rejs.map((r) => {
    if (r.index < 0 || !items) return text;
    try {
      return JSON.stringify(items[r.index] ?? null);
    } catch {
      return text; // nested too deep to re-serialise (stack overflow)
    }
  });
}

export function dlqRecord(deviceId: string, channel: string, rej: Rejection, kept: string | null, size: number, now: number, traceId: string): OutgoingRecord {
  const entry: DlqEntry = { v: 1, deviceId, channel, reason: rej.reason, field: rej.field ?? null, index: rej.index, ts: now, traceId, size, payload: kept };
  return { key: deviceId, value: JSON.stringify(entry), timestamp: now };
}

export function statusRecord(deviceId: string, rec: DeviceRecord | null, payload: Buffer, now: number): { record: OutgoingRecord } | { rejection: Rejection } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return { rejection: { index: -1, reason: 'invalid_json' } };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { rejection: { index: -1, reason: 'not_an_object' } };
  const p = parsed as Record<string, unknown>;
  const num = (k: string, lo: number, hi: number): number | null | Rejection => {
    const v = p[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) return { index: -1, reason: 'wrong_type', field: k };
    if (v < lo || v > hi) return { index: -1, reason: 'impossible_value', field: k };
    return v;
  };
  const battery = num('battery', 0, 1);
  if (battery !== null && typeof battery === 'object') return { rejection: battery };
  const rssi = num('rssi', -200, 50);
  if (rssi !== null && typeof rssi === 'object') return { rejection: rssi };
  if (p.firmware !== undefined && (typeof p.firmware !== 'string' || p.firmware.length > 64)) return { rejection: { index: -1, reason: 'wrong_type', field: 'firmware' } };
  if (p.online !== undefined && typeof p.online !== 'boolean') return { rejection: { index: -1, reason: 'wrong_type', field: 'online' } };
  const status: DeviceStatus = {
    v: 1,
    deviceId,
    patientId: rec?.patientId ?? null,
    ward: rec?.ward ?? null,
    ts: now,
    online: p.online !== false,
    battery,
    rssi,
    firmware: (p.firmware as string | undefined) ?? null,
  };
  return { record: { key: deviceId, value: JSON.stringify(status), timestamp: now } };
}
