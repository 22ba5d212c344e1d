import { describe, expect, it } from 'vitest';
import { DEVICE_MAX_UNKNOWN_FIELDS, deviceLimits, normaliseVitalsPayload, type PayloadLimits } from './payload.js';

const NOW = 1_764_100_000_000;
const limits: PayloadLimits = { maxPayloadBytes: 1024, maxBatchSamples: 5, backfillMs: 24 * 3600_000, maxFutureMs: 300_000, maxUnknownFields: 2 };
const dev = { deviceId: 'wb-1', patientId: 'P-1', ward: '4B', bed: '12' };
const tid = (i: number) => `t${i}`;
const run = (p: unknown) => normaliseVitalsPayload(typeof p === 'string' ? p : JSON.stringify(p), dev, NOW, limits, tid);

describe('normaliseVitalsPayload: accepted', () => {
  it('a single sample becomes one canonical sample with the device assignment', () => {
    const r = run({ ts: NOW - 1000, hr: 72, spo2: 97, rr: 16, temp: 36.8, sbp: 121, dbp: 78, quality: { spo2: 0.95 }, o2: false, battery: 0.8 });
    expect(r.rejected).toEqual([]);
    expect(r.accepted).toEqual([
      {
        v: 1, deviceId: 'wb-1', patientId: 'P-1', ward: '4B', bed: '12', ts: NOW - 1000, recvTs: NOW, source: 'device',
        metrics: { hr: 72, spo2: 97, rr: 16, temp: 36.8, sbp: 121, dbp: 78 }, quality: { spo2: 0.95 }, o2: false, battery: 0.8, traceId: 't0',
      },
    ]);
  });
  it('converts degF to degC and an SpO2 fraction to percent', () => {
    const r = run({ ts: NOW, temp: 98.6, spo2: 0.97, units: { temp: 'degF', spo2: 'fraction' } });
    expect(r.accepted[0]?.metrics).toEqual({ temp: 37, spo2: 97 });
  });
  it('reads seconds-epoch and ISO timestamps as milliseconds', () => {
    expect(run({ ts: (NOW - 5000) / 1000, hr: 60 }).accepted[0]?.ts).toBe(NOW - 5000);
    expect(run({ ts: new Date(NOW - 7000).toISOString(), hr: 60 }).accepted[0]?.ts).toBe(NOW - 7000);
  });
  it('a missing ts takes the receive time', () => {
    expect(run({ hr: 60 }).accepted[0]?.ts).toBe(NOW);
  });
  it('keeps a backfilled sample from 23 hours ago', () => {
    expect(run({ ts: NOW - 23 * 3600_000, hr: 60 }).accepted).toHaveLength(1);
  });
  it('tolerates a few unknown fields (forward compatibility)', () => {
    expect(run({ hr: 60, fw: 'x', extra: 1 }).accepted).toHaveLength(1);
  });
  it('a batch accepts valid samples beside invalid ones, reporting each rejection by index', () => {
    const r = run({ samples: [{ ts: NOW, hr: 60 }, { ts: NOW, hr: 'fast' }, { ts: NOW, spo2: 130 }, { ts: NOW, rr: 14 }] });
    expect(r.total).toBe(4);
    expect(r.accepted.map((s) => s.metrics)).toEqual([{ hr: 60 }, { rr: 14 }]);
    expect(r.accepted.map((s) => s.traceId)).toEqual(['t0', 't3']);
    expect(r.rejected).toEqual([
      { index: 1, reason: 'wrong_type', field: 'hr' },
      { index: 2, reason: 'impossible_value', field: 'spo2' },
    ]);
  });
});

describe('normaliseVitalsPayload: rejected with a reason', () => {
  const cases: Array<[string, unknown, string, string?]> = [
    ['invalid JSON', '{"hr": 7', 'invalid_json'],
    ['an array at top level', '[1,2]', 'not_an_object'],
    ['a string at top level', '"hello"', 'not_an_object'],
    ['hr as a string', { hr: '72' }, 'wrong_type', 'hr'],
    ['NaN smuggled as null-ish string', { hr: 'NaN' }, 'wrong_type', 'hr'],
    ['hr above 350', { hr: 351 }, 'impossible_value', 'hr'],
    ['negative hr', { hr: -1 }, 'impossible_value', 'hr'],
    ['diastolic above systolic', { sbp: 40, dbp: 200 }, 'impossible_value', 'dbp'],
    ['spo2 above 100', { spo2: 100.5 }, 'impossible_value', 'spo2'],
    ['temp below 20 degC', { temp: 19.9 }, 'impossible_value', 'temp'],
    ['temp above 45 degC', { temp: 45.1 }, 'impossible_value', 'temp'],
    ['a degF value sent as degC', { temp: 98.6 }, 'impossible_value', 'temp'],
    ['an unknown temperature unit', { temp: 300, units: { temp: 'K' } }, 'unknown_unit', 'temp'],
    ['a timestamp 10 minutes ahead', { ts: NOW + 600_000, hr: 60 }, 'future_timestamp', 'ts'],
    ['a timestamp older than the backfill limit', { ts: NOW - 25 * 3600_000, hr: 60 }, 'too_old', 'ts'],
    ['a timestamp that is an object', { ts: {}, hr: 60 }, 'wrong_type', 'ts'],
    ['a sample with no metrics', { ts: NOW }, 'no_metrics'],
    ['quality out of 0..1', { hr: 60, quality: { hr: 2 } }, 'impossible_value', 'quality.hr'],
    ['o2 as a string', { hr: 60, o2: 'yes' }, 'wrong_type', 'o2'],
    ['acvpu not in ACVPU', { hr: 60, acvpu: 'X' }, 'wrong_type', 'acvpu'],
    ['battery as percent', { hr: 60, battery: 82 }, 'impossible_value', 'battery'],
    ['too many unknown fields', { hr: 60, a: 1, b: 2, c: 3 }, 'too_many_unknown_fields'],
    ['samples not an array', { samples: {} }, 'wrong_type', 'samples'],
    ['an empty batch', { samples: [] }, 'empty_batch'],
    ['a batch over the limit', { samples: Array.from({ length: 6 }, () => ({ hr: 60 })) }, 'batch_too_large'],
  ];
  it.each(cases)('%s', (_name, payload, reason, field) => {
    const r = run(payload);
    expect(r.accepted).toEqual([]);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]?.reason).toBe(reason);
    if (field) expect(r.rejected[0]?.field).toBe(field);
  });
  it('an oversized payload is rejected before it is parsed', () => {
    const r = run(JSON.stringify({ hr: 60, pad: 'x'.repeat(2000) }));
    expect(r.rejected).toEqual([{ index: -1, reason: 'payload_too_large' }]);
  });
  it('rejections never carry the offending value', () => {
    const r = run({ hr: 'MRN-000123' });
    expect(JSON.stringify(r.rejected)).not.toContain('MRN');
  });
});

describe('deviceLimits', () => {
  it('takes the configured sizes and windows and adds the one unknown-field allowance', () => {
    const c = { maxPayloadBytes: 100, maxBatchSamples: 3, backfillMs: 60_000, maxFutureMs: 1_000 };
    expect(deviceLimits(c)).toEqual({ ...c, maxUnknownFields: DEVICE_MAX_UNKNOWN_FIELDS });
  });
});
