import { describe, expect, it } from 'vitest';
import { alertId, eventId, fnv1a64, newEpisode, step, type EpisodeTiming } from './alert-lifecycle.js';

describe('ids', () => {
  it('FNV-1a 64 matches the published test vectors', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64('foobar')).toBe('85944171f73967e8');
  });
  it('alert ids are deterministic, do not contain the patient id, and change with salt, rule and time', () => {
    const a = alertId('MRN-0042', 'spo2-low', 1000);
    expect(a).toBe(alertId('MRN-0042', 'spo2-low', 1000));
    expect(a).toMatch(/^al-[0-9a-f]{16}$/);
    expect(a).not.toContain('0042');
    expect(alertId('MRN-0042', 'spo2-low', 1001)).not.toBe(a);
    expect(alertId('MRN-0042', 'hr-high', 1000)).not.toBe(a);
    expect(alertId('MRN-0042', 'spo2-low', 1000, 'salt')).not.toBe(a);
    expect(eventId(a, 'raised', 1)).toBe(`${a}:raised:1`);
  });
});

describe('step', () => {
  const tm: EpisodeTiming = { forMs: 10, clearForMs: 5, escalateForMs: 0, baseLevel: 2, maxGapMs: 100, raiseAtEvidence: false };
  it('raises after the delay, only when live', () => {
    const ep = newEpisode();
    expect(step(ep, 0, 2, false, tm, true)).toBe(0);
    expect(step(ep, 10, 2, false, tm, false)).toBe(0);
    expect(step(ep, 11, 2, false, tm, true)).toBe('raise');
  });
  it('a value in the hysteresis band keeps a pending breach alive', () => {
    const ep = newEpisode();
    step(ep, 0, 2, false, tm, true);
    step(ep, 5, 0, false, tm, true); // in the band: neither breach nor cleared
    expect(step(ep, 10, 2, false, tm, true)).toBe('raise');
    const ep2 = newEpisode();
    step(ep2, 0, 2, false, tm, true);
    step(ep2, 5, 0, true, tm, true); // cleared: restart
    expect(step(ep2, 10, 2, false, tm, true)).toBe(0);
  });
  it('a gap longer than maxGap restarts the delay', () => {
    const ep = newEpisode();
    step(ep, 0, 2, false, tm, true);
    expect(step(ep, 200, 2, false, tm, true)).toBe(0);
    expect(step(ep, 210, 2, false, tm, true)).toBe('raise');
  });
});
