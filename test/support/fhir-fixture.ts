/**
 * One patient's worth of FHIR data for the FHIR suites (Medplum's validator in
 * fhir.test.ts, HL7's in fhir-hapi.int.test.ts): a registered device, stored and live
 * samples, a stored NEWS2 score that records what it used, and every kind of resource
 * and error the FHIR routes emit. Not used in production code paths.
 */
import { TOPICS } from '../../core/ports.js';
import { scoreNews2 } from '../../core/news2.js';
import type { DeviceRecord } from '../../core/registry.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import type { CanonicalSample } from '../../core/vitals.js';
import type { GatewayService } from '../../dashboard-gateway/gateway.js';
import { until, type Harness } from './gateway-harness.js';

export const PATIENT = 'P-F1';
export const DEVICE = 'wb-f';

export type Get = (token: string | null, url: string) => Promise<{ statusCode: number; headers: Record<string, unknown>; json(): any }>;

export const iso = (ts: number): string => new Date(ts).toISOString();

/** Seed: t0 has hr, rr, spo2, temp, bp; t0+60s hr, spo2; t0+120s sbp only; then a NEWS2 score at t0+120s. */
export async function seedFhir(h: Harness, gw: GatewayService, t0: number): Promise<ScoreOutput> {
  const rec: DeviceRecord = { v: 1, deviceId: DEVICE, tokenHash: 'not-a-token', patientId: PATIENT, ward: '4B', bed: '2', createdAt: t0, updatedAt: t0 };
  await h.bus.publish(TOPICS.registry, [{ key: DEVICE, value: JSON.stringify(rec), timestamp: t0 }]);
  await until('device registered', () => h.registry.get(DEVICE));
  const sample = (ts: number, metrics: CanonicalSample['metrics']): CanonicalSample => ({
    v: 1, deviceId: DEVICE, patientId: PATIENT, ward: '4B', bed: '2', ts, recvTs: ts, source: 'device', metrics, battery: 0.64, traceId: `t${ts}`,
  });
  const samples = [sample(t0, { hr: 88, rr: 22, spo2: 94, temp: 38.2, sbp: 104, dbp: 66 }), sample(t0 + 60_000, { hr: 91, spo2: 93 }), sample(t0 + 120_000, { sbp: 101 })];
  // What the sink would have stored, and what the gateway's live view saw of the same samples.
  await h.store.insertSamples(samples);
  for (const x of samples) await h.bus.publish(TOPICS.samples, [{ key: PATIENT, value: JSON.stringify(x), timestamp: x.ts }]);
  // The score as the rules role publishes it: with the event time of each value it used.
  const r = scoreNews2({ rr: 22, spo2: 93, o2: false, sbp: 101, hr: 91, temp: 38.2 });
  const score: ScoreOutput = { ...r, patientId: PATIENT, ward: '4B', ts: t0 + 120_000, stale: [], inputTs: { rr: t0, spo2: t0 + 60_000, o2: t0, sbp: t0 + 120_000, hr: t0 + 60_000, temp: t0 } };
  await h.store.insertScores([score]);
  await h.bus.publish(TOPICS.scores, [{ key: PATIENT, value: JSON.stringify(score), timestamp: score.ts }]);
  await until('score in the live view', () => gw.hub.state.patients.get(PATIENT)?.score);
  return score;
}

/** Every kind of resource the FHIR routes emit for the seeded patient, by name. */
export async function emittedResources(get: Get, tokens: { nurse: string; otherWard: string }, t0: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const range = `date=ge${iso(t0 - 1000)}&date=le${iso(t0 + 200_000)}`;
  const all = (await get(tokens.nurse, `/fhir/Observation?patient=Patient/${PATIENT}&${range}`)).json();
  out['Observation search'] = all;
  out['Observation search, page 2'] = (await get(tokens.nurse, `/fhir/Observation?patient=${PATIENT}&${range}&_count=3&_offset=3`)).json();
  for (const e of all.entry) out[`Observation/${e.resource.id}`] = (await get(tokens.nurse, `/fhir/Observation/${e.resource.id}`)).json();
  out['Patient'] = (await get(tokens.nurse, `/fhir/Patient/${PATIENT}`)).json();
  out['Device search'] = (await get(tokens.nurse, `/fhir/Device?patient=${PATIENT}`)).json();
  out['Device'] = (await get(tokens.nurse, `/fhir/Device/${DEVICE}`)).json();
  out['CapabilityStatement'] = (await get(null, '/fhir/metadata')).json();
  out['404 Observation'] = (await get(tokens.nurse, '/fhir/Observation/hr-1-000000000000')).json();
  out['404 Patient'] = (await get(tokens.nurse, '/fhir/Patient/P-NOBODY')).json();
  out['404 route'] = (await get(tokens.nurse, '/fhir/Encounter/1')).json();
  out['403'] = (await get(tokens.otherWard, `/fhir/Observation?patient=${PATIENT}`)).json();
  out['401'] = (await get(null, `/fhir/Patient/${PATIENT}`)).json();
  out['400'] = (await get(tokens.nurse, '/fhir/Observation?code=8867-4')).json();
  return out;
}
