import { describe, expect, it } from 'vitest';
import { news2Of, onsetSec } from './ground-truth.js';
import { HOMEOSTASIS, SCENARIOS, createPatient, measure, observe, payloadOf, physiology, schedule, trueVitals } from './patient-model.js';

const T0 = 1_764_100_000_000;

describe('patient model', () => {
  it('is reproducible for the same seed', () => {
    const a = createPatient(3, 42);
    const b = createPatient(3, 42);
    for (let t = 0; t < 600; t++) expect(observe(a, t, T0 + t * 1000)).toEqual(observe(b, t, T0 + t * 1000));
  });
  it('keeps a clean stable patient within normal ranges', () => {
    const p = createPatient(1, 7, null, { artefacts: false });
    for (let t = 0; t < 3600; t++) {
      const m = measure(p, t, T0 + t * 1000);
      expect(m.hr).toBeGreaterThan(40);
      expect(m.hr).toBeLessThan(115);
      expect(m.spo2).toBeGreaterThanOrEqual(90);
    }
  });
  it('a hypoxia scenario drives SpO2 below 90 after its ramp', () => {
    const p = createPatient(1, 7, { name: 'hypoxia', onsetSec: 10 }, { artefacts: false });
    for (let t = 0; t < 200; t++) measure(p, t, T0 + t * 1000);
    const late = Array.from({ length: 30 }, (_, i) => measure(p, 200 + i, T0 + (200 + i) * 1000).spo2 as number);
    expect(Math.max(...late)).toBeLessThan(90);
  });
  it('fever raises heart rate and respiration (correlated change)', () => {
    const p = createPatient(2, 9, [schedule({ name: 'fever', kind: 'clinical', description: '', rampSec: 60, delta: { temp: 2 }, expect: [], criterion: 'news2-red' }, 0, Math.random)]);
    const before = trueVitals(createPatient(2, 9), 600, T0);
    const after = trueVitals(p, 600, T0);
    expect(after.hr - before.hr).toBeCloseTo(20, 5);
    expect(after.rr - before.rr).toBeCloseTo(4, 5);
  });
  it('samples RR every 4 s and temperature and BP every 5 minutes', () => {
    const p = createPatient(1, 7, null, { artefacts: false });
    expect(Object.keys(measure(p, 0, T0)).sort()).toEqual(['dbp', 'hr', 'rr', 'sbp', 'spo2', 'temp']);
    expect(Object.keys(measure(p, 1, T0 + 1000)).sort()).toEqual(['hr', 'spo2']);
    expect(Object.keys(measure(p, 4, T0 + 4000)).sort()).toEqual(['hr', 'rr', 'spo2']);
  });
  it('takes the cuff BP at its own cadence (e.g. 15 min) while temperature stays every 5 minutes', () => {
    const p = createPatient(1, 7, null, { artefacts: false, cuffSec: 900 });
    const at = (sec: number): string[] => Object.keys(measure(p, sec, T0 + sec * 1000)).sort();
    const cuffs: number[] = [];
    const temps: number[] = [];
    for (let sec = 0; sec < 3600; sec++) {
      const keys = at(sec);
      if (keys.includes('sbp')) cuffs.push(sec);
      if (keys.includes('temp')) temps.push(sec);
    }
    expect(cuffs).toEqual([0, 900, 1800, 2700]);
    expect(temps.length).toBe(12);
  });
  it('the default cuff cadence is 5 minutes', () => {
    const a = createPatient(3, 5);
    const b = createPatient(3, 5, null, { cuffSec: 300 });
    for (let sec = 0; sec < 1200; sec++) expect(observe(a, sec, T0 + sec * 1000)).toEqual(observe(b, sec, T0 + sec * 1000));
  });
  it('a 15-minute cuff gives the same patient with two of every three cuff readings left out', () => {
    const five = createPatient(4, 5);
    const fifteen = createPatient(4, 5, null, { cuffSec: 900 });
    for (let sec = 0; sec < 7200; sec++) {
      const a = observe(five, sec, T0 + sec * 1000);
      const b = observe(fifteen, sec, T0 + sec * 1000);
      if (a === null || b === null) {
        expect(b).toBe(a);
        continue;
      }
      const { sbp, dbp, ...rest } = a.metrics;
      if (sec % 900 === 0) expect(b.metrics).toEqual(a.metrics);
      else expect(b.metrics).toEqual(rest);
      if (sec % 900 === 0) expect([sbp, dbp].every((x) => x !== undefined)).toBe(true);
    }
  });
  it('physiology: noise-free vitals plus wander and episodes, drawing nothing from the stream', () => {
    const a = createPatient(6, 3);
    const b = createPatient(6, 3);
    for (let sec = 0; sec < 3600; sec++) {
      const oa = observe(a, sec, T0 + sec * 1000);
      const v = physiology(a, sec, T0 + sec * 1000);
      expect(observe(b, sec, T0 + sec * 1000)).toEqual(oa);
      const t = trueVitals(a, sec, T0 + sec * 1000);
      expect(v.temp).toBeCloseTo(t.temp + a.walk.temp, 9);
    }
  });
  it('homeostasis: a stable patient\'s wander does not take it into a NEWS2 red band, a scripted deterioration still does', () => {
    const night = T0 - (T0 % 86_400_000) + 4 * 3_600_000; // 04:00, the circadian low
    const p = createPatient(1, 7, null, { artefacts: false });
    p.walk = { hr: -30, spo2: -6, rr: -8, temp: 0, sbp: -40, dbp: 0 };
    const v = physiology(p, 0, night);
    expect(v.rr).toBeCloseTo(HOMEOSTASIS.rr?.[0] as number, 9);
    expect(v.sbp).toBeCloseTo(HOMEOSTASIS.sbp?.[0] as number, 9);
    expect(v.hr).toBeCloseTo(HOMEOSTASIS.hr?.[0] as number, 9);
    expect(v.spo2).toBeCloseTo(HOMEOSTASIS.spo2?.[0] as number, 9);
    // Measured: noise around the bound, not around the unbounded wander (RR 12.5-18.5 - 0.8 - 8).
    const rr: number[] = [];
    for (let t = 0; t < 600; t += 4) rr.push(measure(p, t, night + t * 1000).rr as number);
    expect(rr.reduce((a, b) => a + b, 0) / rr.length).toBeGreaterThan(9.5);
    // Inside the range the wander is added unchanged.
    const q = createPatient(1, 7, null, { artefacts: false });
    q.walk = { hr: 2, spo2: 0.3, rr: -1, temp: 0.1, sbp: 5, dbp: 1 };
    const w = physiology(q, 0, night);
    const t = trueVitals(q, 0, night);
    expect(w.rr).toBe(t.rr + q.walk.rr);
    expect(w.sbp).toBe(t.sbp + q.walk.sbp);
    // A scripted bradycardia to 35/min goes below the stable range.
    const b = createPatient(1, 7, [schedule(SCENARIOS['bradycardia'] as (typeof SCENARIOS)[string], 0, Math.random)], { artefacts: false });
    b.walk = { hr: -30, spo2: 0, rr: 0, temp: 0, sbp: 0, dbp: 0 };
    expect(physiology(b, 600, night).hr).toBeLessThan(41);
  });
  it('has artefacts: low-quality motion, flat-lined SpO2 at quality 0, device off', () => {
    const p = createPatient(5, 11);
    let lowQ = 0;
    let flat = 0;
    let off = 0;
    for (let t = 0; t < 86400; t++) {
      const o = observe(p, t, T0 + t * 1000);
      if (o === null) off++;
      else if (o.quality.spo2 === 0) flat++;
      else if ((o.quality.hr ?? 1) < 0.5) lowQ++;
    }
    expect(lowQ).toBeGreaterThan(0);
    expect(flat + off).toBeGreaterThan(0);
  });
  it('technical scenarios: disconnect sends nothing, clock skew stamps ahead, bad payloads are garbage', () => {
    const d = createPatient(1, 1, [schedule(SCENARIOS.disconnect!, 10, Math.random)], { artefacts: false });
    expect(observe(d, 5, T0)).not.toBeNull();
    expect(observe(d, 20, T0 + 20_000)).toBeNull();
    const s = createPatient(1, 1, [schedule(SCENARIOS['clock-skew']!, 0, Math.random)], { artefacts: false });
    expect(observe(s, 1, T0 + 1000)?.ts).toBe(T0 + 1000 + 600_000);
    const b = createPatient(1, 1, [schedule(SCENARIOS['bad-payloads']!, 0, Math.random)], { artefacts: false });
    const payloads = Array.from({ length: 60 }, (_, t) => payloadOf(observe(b, t, T0 + t * 1000)!));
    expect(payloads.filter((x) => !x.includes('"ts"')).length).toBeGreaterThan(10);
  });
  it('ground-truth onset is when the noise-free vitals reach a NEWS2 urgent trigger', () => {
    const p = createPatient(4, 3, { name: 'sepsis', onsetSec: 600 });
    const e = p.events[0]!;
    const on = onsetSec(p, e, T0) as number;
    expect(on).toBeGreaterThan(600);
    expect(news2Of(trueVitals(p, on, T0 + on * 1000)).urgent).toBe(true);
    expect(news2Of(trueVitals(p, on - 1, T0 + (on - 1) * 1000)).urgent).toBe(false);
  });
});
