/**
 * The same deterioration, carried as MQTT JSON payloads or as PCD-01 messages, gives the same
 * canonical samples' clinical meaning and so the same alerts: each recording goes through its
 * own ingest path (normaliseVitalsPayload vs parse + mapOruR01 + normaliseSampleObject), then
 * through `vitals rules replay` in event time, and the two alert streams must be identical.
 * The patient model supplies realistic values: a sepsis deterioration with motion artefacts,
 * probe-off episodes and activity (device-sim/patient-model.ts).
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseHl7 } from '../../core/hl7/message.js';
import { mapOruR01 } from '../../core/hl7/pcd01.js';
import { normaliseSampleObject, normaliseVitalsPayload, type PayloadLimits } from '../../core/payload.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { buildPcd01, observationsOf } from '../../device-sim/pcd01-message.js';
import { SCENARIOS, createPatient, observe, payloadOf, schedule, type Observation } from '../../device-sim/patient-model.js';
import { runReplay } from '../../stream-rules/replay.js';

const LIMITS: PayloadLimits = { maxPayloadBytes: 262_144, maxBatchSamples: 500, backfillMs: 7 * 86_400_000, maxFutureMs: 300_000, maxUnknownFields: 8 };
const DEV = { deviceId: 'bed-7', patientId: 'MRN-REPLAY', ward: '4B', bed: '7' };

/** Two hours of one patient, a sample every 5 s, sepsis from minute 20 (seeded: the same every run). */
function recording(): Observation[] {
  const t0 = Date.UTC(2026, 11, 6, 0, 0, 0);
  const rand = (() => {
    let s = 42;
    return () => ((s = (s * 16807) % 2147483647) / 2147483647);
  })();
  const p = createPatient(3, 11, [schedule(SCENARIOS['sepsis'] as NonNullable<(typeof SCENARIOS)['sepsis']>, 20 * 60, rand, 40 * 60)]);
  const out: Observation[] = [];
  for (let t = 0; t < 2 * 3600; t += 5) {
    const o = observe(p, t, t0 + t * 1000);
    if (o && o.garbage === undefined) out.push({ ...o, ts: Math.floor(o.ts / 1000) * 1000 });
  }
  return out;
}

async function replay(samples: CanonicalSample[]): Promise<string[]> {
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: string[] = [];
  output.on('data', (d) => lines.push(...String(d).split('\n').filter(Boolean)));
  input.end(samples.map((s) => JSON.stringify(s)).join('\n'));
  await runReplay({ input, output, errOutput: new PassThrough() });
  return lines;
}

describe('replay: the same deterioration over HL7 and over MQTT', () => {
  it('raises the same alerts, at the same times, with the same values', async () => {
    const obs = recording();
    const now = (obs[obs.length - 1] as Observation).ts + 1000;
    const viaMqtt = obs.flatMap((o, i) => normaliseVitalsPayload(payloadOf(o), DEV, now, LIMITS, () => `m-${i}`).accepted);
    const viaHl7 = obs.flatMap((o, i) => {
      // A monitor flags what its quality index distrusts as questionable (OBX-8), as the simulator does.
      const questionable = Object.entries(o.quality).filter(([, q]) => (q ?? 1) < 0.5).map(([k]) => k);
      const text = buildPcd01({ controlId: `R-${i}`, gateway: { name: 'GW', eui64: 'gw' }, facility: '4B', time: o.ts, patientIds: [DEV.patientId], monitors: [{ eui64: DEV.deviceId, observations: observationsOf(o.metrics, { questionable }) }] });
      const parsed = parseHl7(text);
      if (!parsed.ok) throw new Error(parsed.problem);
      const mapped = mapOruR01(parsed.message);
      if (!mapped.ok) throw new Error(mapped.error.text);
      return mapped.content.groups.flatMap((g) => {
        const r = normaliseSampleObject({ ts: g.ts, ...g.metrics, ...(Object.keys(g.quality).length ? { quality: g.quality } : {}) }, DEV, now, LIMITS, `h-${i}`);
        return 'sample' in r ? [r.sample] : [];
      });
    });
    expect(viaHl7.length).toBe(viaMqtt.length);
    expect(viaHl7.map((s) => [s.ts, s.metrics])).toEqual(viaMqtt.map((s) => [s.ts, s.metrics]));

    const [a, b] = [await replay(viaHl7), await replay(viaMqtt)];
    const raised = a.filter((l) => l.includes('"event":"raised"')).map((l) => (JSON.parse(l) as { alert: { ruleId: string } }).alert.ruleId);
    // The scenario must actually deteriorate, or the comparison proves nothing.
    expect(raised).toEqual(expect.arrayContaining(['news2']));
    expect(a).toEqual(b);
    console.log(`replay: ${obs.length} observations, ${a.length} alert events, identical over HL7 and MQTT (raised: ${[...new Set(raised)].join(', ')})`);
  });
});
