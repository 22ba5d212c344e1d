import { describe, expect, it } from 'vitest';
import { normaliseVitalsPayload, type DeviceContext, type PayloadLimits } from '../core/payload.js';
import type { CanonicalSample } from '../core/vitals.js';
import { SAMPLE_JSON_FIELDS, sampleJson } from './sample-json.js';

const NOW = 1_796_000_000_000;
const LIMITS: PayloadLimits = { maxPayloadBytes: 65_536, maxBatchSamples: 500, backfillMs: 86_400_000, maxFutureMs: 60_000, maxUnknownFields: 8 };

/** The samples normaliseOne accepts from `payload` (a random case may carry an invalid one: it is skipped). */
function samples(payload: unknown, dev: DeviceContext): CanonicalSample[] {
  return normaliseVitalsPayload(JSON.stringify(payload), dev, NOW, LIMITS, (i) => `3f1c2a9e-0000-4000-8000-00000000000${i}-${i}`).accepted;
}

/** A small deterministic generator, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

describe('sampleJson', () => {
  it('writes exactly what JSON.stringify writes, for every shape normaliseOne builds', () => {
    const r = rng(12);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const odd = ['plain', 'quote"d', 'back\\slash', 'tab\there', 'new\nline', 'é ü 漢字', 'emoji 🫀', 'lone \ud800 surrogate', 'ctrl \u0001', ''];
    let checked = 0;
    for (let n = 0; n < 400; n++) {
      const dev: DeviceContext = {
        deviceId: pick(['mon-1', 'dev "7"', 'dev\\8', 'gw-\u2028']),
        patientId: pick([null, 'P-1', 'MRN 00"1', 'P-\ud83e\udec0']),
        ward: pick([null, ...odd]),
        bed: pick([null, ...odd]),
      };
      const item: Record<string, unknown> = {};
      if (r() < 0.7) item.ts = NOW - Math.floor(r() * 3_600_000);
      if (r() < 0.5) item.ts = (NOW - 5_000) / 1000 + 0.123; // seconds, converted
      for (const m of ['dbp', 'hr', 'spo2', 'rr', 'temp', 'sbp'] as const) if (r() < 0.6) item[m] = pick([0, -0, 0.1, 36.75, 72, 99.99, 1e-7, 20, 45]);
      if (item.temp !== undefined && ((item.temp as number) < 20 || (item.temp as number) > 45)) item.temp = 37;
      if (item.sbp !== undefined) item.sbp = 120;
      if (item.dbp !== undefined) item.dbp = pick([80, 79.5]);
      if (r() < 0.3) item.units = { temp: 'degF', spo2: 'fraction' };
      if (item.units && item.temp !== undefined) item.temp = 98.6;
      if (item.units && item.spo2 !== undefined) item.spo2 = 0.97;
      if (r() < 0.4) item.quality = r() < 0.5 ? { spo2: 0.9, hr: 1 } : { rr: 0, unknown: 0.5 };
      if (r() < 0.3) item.o2 = r() < 0.5;
      if (r() < 0.3) item.acvpu = pick(['A', 'C', 'V', 'P', 'U']);
      if (r() < 0.3) item.battery = pick([0, 0.5, 1]);
      if (r() < 0.2) item.futureField = 'ignored';
      item.hr ??= 60; // at least one metric
      const payload = r() < 0.3 ? { samples: [item, { ...item, hr: 61 }] } : item;
      for (const s of samples(payload, dev)) {
        expect(sampleJson(s)).toBe(JSON.stringify(s));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(350);
  });

  it('follows a device to a new assignment (the kept prefix is per device and assignment)', () => {
    const before = samples({ hr: 70 }, { deviceId: 'mon-9', patientId: 'P-1', ward: 'W1', bed: '1' })[0] as CanonicalSample;
    const after = samples({ hr: 71 }, { deviceId: 'mon-9', patientId: 'P-2', ward: 'W2', bed: null })[0] as CanonicalSample;
    const unassigned = samples({ hr: 72 }, { deviceId: 'mon-9', patientId: null, ward: null, bed: null })[0] as CanonicalSample;
    for (const s of [before, after, unassigned, before]) expect(sampleJson(s)).toBe(JSON.stringify(s));
  });

  it('leaves out an absent bed, as JSON.stringify does', () => {
    const s: CanonicalSample = { v: 1, deviceId: 'hl7-1', patientId: 'P-1', ward: null, ts: NOW, recvTs: NOW, source: 'device', metrics: { hr: 70 }, traceId: 't' };
    expect(sampleJson(s)).toBe(JSON.stringify(s));
  });

  it('writes every field it declares: a sample with all of them set comes out as JSON.stringify writes it', () => {
    const full: CanonicalSample = {
      v: 1, deviceId: 'd-all', patientId: 'P', ward: 'W', bed: '3', ts: 1, recvTs: 2, source: 'device',
      metrics: { hr: 70 }, traceId: 't', quality: { hr: 0.9 }, o2: false, acvpu: 'A', battery: 80,
    };
    expect(Object.keys(full).sort()).toEqual(Object.keys(SAMPLE_JSON_FIELDS).sort());
    expect(sampleJson(full)).toBe(JSON.stringify(full));
  });
});
