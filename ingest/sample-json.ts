/**
 * The canonical sample as JSON, written by hand for its fixed shape: the same text
 * `JSON.stringify(sample)` gives (same keys, same order, same escaping; the test checks it), at
 * a fraction of the cost on ingest's per-sample path. The device part (`{"v":1,"deviceId":…,
 * "patientId":…,"ward":…,"bed":…,"ts":`) is the same for every sample of a device and its
 * assignment, so it is built once and kept (ADR 0020).
 */
import { isMetricName, type CanonicalSample } from '../core/vitals.js';

interface Prefix {
  patientId: string | null;
  ward: string | null;
  bed: string | null | undefined;
  text: string;
}

/** Devices whose prefix is kept; past it the cache starts over (a bound, not an LRU: devices are far fewer). */
const MAX_PREFIXES = 100_000;
const prefixes = new Map<string, Prefix>();

/** A JSON string literal; the common case (nothing to escape) without JSON.stringify's copy. */
function str(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Control characters, quote, backslash, and surrogates (a lone one is escaped by JSON.stringify).
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}

const nullable = (s: string | null): string => (s === null ? 'null' : str(s));

function prefixOf(s: CanonicalSample): string {
  const p = prefixes.get(s.deviceId);
  if (p !== undefined && p.patientId === s.patientId && p.ward === s.ward && p.bed === s.bed) return p.text;
  let text = `{"v":${s.v},"deviceId":${str(s.deviceId)},"patientId":${nullable(s.patientId)},"ward":${nullable(s.ward)}`;
  if (s.bed !== undefined) text += `,"bed":${nullable(s.bed)}`;
  text += ',"ts":';
  if (prefixes.size >= MAX_PREFIXES) prefixes.clear();
  prefixes.set(s.deviceId, { patientId: s.patientId, ward: s.ward, bed: s.bed, text });
  return text;
}

/** `{"hr":72,…}`: keys in insertion order, undefined values left out, as JSON.stringify does. */
function numbers(m: Partial<Record<string, number>>): string {
  let out = '{';
  for (const k in m) {
    const v = m[k];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${isMetricName(k) ? `"${k}"` : str(k)}:${Number.isFinite(v) ? v : 'null'}`;
  }
  return `${out}}`;
}

/**
 * Every field of the canonical sample, each written below. A field added to CanonicalSample and
 * not here fails to compile, so it cannot be dropped from the bus unnoticed.
 */
export const SAMPLE_JSON_FIELDS: Readonly<Record<keyof CanonicalSample, true>> = {
  v: true, deviceId: true, patientId: true, ward: true, bed: true, ts: true, recvTs: true, source: true,
  metrics: true, traceId: true, quality: true, o2: true, acvpu: true, battery: true,
};

/**
 * JSON of a canonical sample, identical to `JSON.stringify(s)` for every sample normaliseOne
 * builds. Key order is the object's: normaliseOne creates v … traceId in one literal and adds
 * quality, o2, acvpu, battery after it, in that order.
 */
export function sampleJson(s: CanonicalSample): string {
  let out = `${prefixOf(s)}${s.ts},"recvTs":${s.recvTs},"source":${s.source === 'device' ? '"device"' : str(s.source)},"metrics":${numbers(s.metrics)},"traceId":${str(s.traceId)}`;
  if (s.quality !== undefined) out += `,"quality":${numbers(s.quality)}`;
  if (s.o2 !== undefined) out += `,"o2":${s.o2}`;
  if (s.acvpu !== undefined) out += `,"acvpu":${str(s.acvpu)}`;
  if (s.battery !== undefined) out += `,"battery":${Number.isFinite(s.battery) ? s.battery : 'null'}`;
  return `${out}}`;
}
