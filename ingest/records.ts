/** Bus records that ingest writes besides samples: dead letters and device status. */
import type { Rejection } from '../core/payload.js';
import type { OutgoingRecord } from '../core/ports.js';
import type { DeviceRecord } from '../core/registry.js';

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

export function dlqRecord(
  deviceId: string,
  channel: string,
  rej: Rejection,
  payload: Buffer,
  now: number,
  traceId: string,
  maxKeep: number,
  size = payload.length,
): OutgoingRecord {
  let kept: string | null = null;
  if (payload.length > 0 && payload.length <= maxKeep) {
    kept = payload.toString('utf8');
    if (rej.index >= 0) {
      try {
        const parsed = JSON.parse(kept) as { samples?: unknown[] };
        if (Array.isArray(parsed.samples)) kept = JSON.stringify(parsed.samples[rej.index] ?? null);
      } catch {
        /* keep the whole text */
      }
    }
  }
  const entry: DlqEntry = { v: 1, deviceId, channel, reason: rej.reason, field: rej.field ?? null, index: rej.index, ts: now, traceId, size, payload: kept };
  return { key: deviceId, value: JSON.stringify(entry), timestamp: now };
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
