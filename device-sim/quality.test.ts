import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CanonicalSample } from '../core/vitals.js';
import { runReplay } from '../stream-rules/replay.js';
import { deterioratingCohort, parseCohortText, stableCohort } from './cohort.js';
import { runOffline } from './offline.js';
import { scoreAlerts } from './score.js';

describe('offline alert quality', () => {
  it('gives exactly the alerts `vitals rules replay` gives for the same samples', async () => {
    const spec = deterioratingCohort(1, 2, 7, ['hypoxia', 'tachyarrhythmia', 'disconnect']);
    spec.events.forEach((e) => (e.atSec = 1800));
    const samples: CanonicalSample[] = [];
    const run = await runOffline(spec, { onSample: (s) => samples.push(s) });
    const input = new PassThrough();
    const output = new PassThrough();
    const lines: string[] = [];
    output.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
    const done = runReplay({ input, output, errOutput: new PassThrough() });
    for (const s of samples) input.write(`${JSON.stringify(s)}\n`);
    input.end();
    expect(await done).toBe(0);
    const replayed = lines.map((l) => JSON.parse(l)).map((e) => ({ event: e.event, ts: e.ts, id: e.alert.id, rule: e.alert.ruleId }));
    expect(replayed.length).toBeGreaterThan(0);
    expect(run.alerts.map((e) => ({ event: e.event, ts: e.ts, id: e.alert.id, rule: e.alert.ruleId }))).toEqual(replayed);
  });
  it('detects every scripted event in a small deteriorating cohort and scores time to alert', async () => {
    const run = await runOffline(deterioratingCohort(1, 4, 11, ['sepsis', 'hypoxia', 'bradycardia', 'tachyarrhythmia', 'hypotension', 'disconnect', 'low-battery', 'clock-skew', 'bad-payloads']));
    const r = scoreAlerts(run.truth, run.alerts);
    expect(r.clinical.events).toBe(5);
    expect(r.clinical.detected).toBe(5);
    expect(r.technical.detected).toBe(r.technical.events);
    expect(r.robustness.passed).toBe(1);
    expect(r.clinical.medianMinutes).not.toBeNull();
    expect(run.rejected.future_timestamp).toBeGreaterThan(0);
    // Raised clinical alerts carry whether the physiology met the rule's condition; hypoxia's SpO2 of 83 does.
    const clinical = run.alerts.filter((a) => a.event === 'raised' && a.alert.kind === 'clinical');
    expect(clinical.every((a) => typeof a.physiology === 'boolean')).toBe(true);
    const hypoxia = run.alerts.find((a) => a.event === 'raised' && a.alert.ruleId === 'spo2-low' && a.alert.patientId === r.events.find((e) => e.scenario === 'hypoxia')?.patientId);
    expect(hypoxia?.physiology).toBe(true);
  });
  it('slow sepsis, haemorrhage and slow hypoxia alert within 10 minutes of their true NEWS2 onset', async () => {
    const spec = deterioratingCohort(3, 3.5, 17, ['sepsis-slow', 'haemorrhage', 'hypoxia-slow']);
    spec.events.forEach((e) => (e.atSec = 1800));
    const run = await runOffline(spec);
    const r = scoreAlerts(run.truth, run.alerts);
    expect(r.clinical.detected).toBe(9);
    for (const name of ['sepsis-slow', 'haemorrhage', 'hypoxia-slow']) expect(r.byScenario[name]?.events).toBe(3);
    expect(r.clinical.p90Minutes).toBeLessThanOrEqual(10);
  });
  it('a stable cohort is reproducible and scored per patient-day', async () => {
    const a = await runOffline(stableCohort(2, 2, 5));
    const b = await runOffline(stableCohort(2, 2, 5));
    expect(a.alerts).toEqual(b.alerts);
    const r = scoreAlerts(a.truth, a.alerts);
    expect(r.stablePatientDays).toBeCloseTo(2 / 12, 3);
    expect(r.clinical.events).toBe(0);
  });
  it('parses a scenario file and reports every problem at once', () => {
    const ok = parseCohortText('name: mix\npatients: 4\nhours: 3\nevents:\n  - { patient: 0, scenario: sepsis, at: 30m, ramp: 60m }\n  - { patient: 1, scenario: slow-drop, at: 1h }\nscenarios:\n  slow-drop: { like: hypoxia, ramp: 20m }\n');
    expect(ok.ok).toBe(true);
    const bad = parseCohortText('patients: 2\nfoo: 1\nevents:\n  - { patient: 5, scenario: nope, at: soon }\n');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors).toHaveLength(4);
  });
  it('counts false clinical alerts raised while the simulated physiology met the condition', () => {
    const alert = (id: string, ruleId: string, openedAt: number) => ({ id, patientId: 'SIM-0001', ward: '4B', ruleId, kind: 'clinical' as const, priority: 'medium' as const, state: 'open' as const, openedAt, message: '', value: null, ackBy: null, ackAt: null, resolvedAt: null });
    const truth = [{ v: 1 as const, type: 'cohort' as const, name: 's', seed: 1, fromTs: 0, toTs: 86_400_000, patients: [{ deviceId: 'd', patientId: 'SIM-0001', ward: '4B', bed: '1' }] }];
    const r = scoreAlerts(truth, [
      { event: 'raised', ts: 1, alert: alert('a1', 'news2', 1), physiology: true },
      { event: 'raised', ts: 2, alert: alert('a2', 'spo2-low', 2), physiology: false },
      { event: 'raised', ts: 3, alert: alert('a3', 'rr-low', 3) },
    ]);
    expect([r.falseClinical.count, r.falseClinical.physiological]).toEqual([3, 1]);
  });
  it('a scenario file sets the cuff cadence (`cuff`), which must be at least a minute', () => {
    const ok = parseCohortText('patients: 2\ncuff: 15m\n');
    expect(ok.ok && ok.spec.cuffSec).toBe(900);
    const bad = parseCohortText('patients: 2\ncuff: 10s\n');
    expect(bad.ok ? [] : bad.errors).toEqual(['cuff: expected a whole-second duration of at least 1m like 15m']);
  });
});
