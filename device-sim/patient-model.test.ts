import { describe, expect, it } from 'vitest';
import { SCENARIOS, createPatient, measure } from './patient-model.js';

const T0 = 1_764_100_000_000;

describe('patient model', () => {
  it('is reproducible for the same seed', () => {
    const a = createPatient(3, 42);
    const b = createPatient(3, 42);
    for (let t = 0; t < 20; t++) expect(measure(a, t, T0 + t * 1000)).toEqual(measure(b, t, T0 + t * 1000));
  });
  it('keeps a stable patient within normal ranges', () => {
    const p = createPatient(1, 7);
    for (let t = 0; t < 600; t++) {
      const m = measure(p, t, T0 + t * 1000);
      expect(m.hr).toBeGreaterThan(45);
      expect(m.hr).toBeLessThan(110);
      expect(m.spo2).toBeGreaterThanOrEqual(93);
    }
  });
  it('a hypoxia scenario drives SpO2 below 90 after its ramp', () => {
    const p = createPatient(1, 7, { ...SCENARIOS.hypoxia!, onsetSec: 10 });
    const late = Array.from({ length: 30 }, (_, i) => measure(p, 200 + i, T0).spo2 as number);
    expect(Math.max(...late)).toBeLessThan(90);
  });
  it('samples RR every 4 s and temperature and BP every 5 minutes', () => {
    const p = createPatient(1, 7);
    expect(Object.keys(measure(p, 0, T0)).sort()).toEqual(['dbp', 'hr', 'rr', 'sbp', 'spo2', 'temp']);
    expect(Object.keys(measure(p, 1, T0)).sort()).toEqual(['hr', 'spo2']);
    expect(Object.keys(measure(p, 4, T0)).sort()).toEqual(['hr', 'rr', 'spo2']);
  });
});
