/**
 * The shipped rule set (stream-rules/default-rules.yaml) against issue 17's "Done when" on synthetic
 * streams with realistic noise: a slow bleed alerts within 10 minutes of its true NEWS2 onset, and a
 * stable patient on a band edge for hours raises at most the alert its true NEWS2 warrants, once.
 */
import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../core/alerts-model.js';
import { scoreNews2 } from '../core/news2.js';
import { createRulesEngine } from './engine/engine.js';
import type { CanonicalSample } from '../core/vitals.js';
import { parseRuleSetText, readDefaultRulesText } from './rules-loader.js';
import { gaussian } from '../test/support/noise.js';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const M = 60_000;

type Truth = { hr: number; spo2: number; rr: number; temp: number; sbp: number };

function urgent(v: Truth): boolean {
  const r = scoreNews2({ ...v, o2: false, acvpu: 'A', scale: 1 });
  return r.score >= 5 || Object.values(r.components).includes(3);
}

/** HR and SpO2 each second, RR every 4 s, a cuff BP (sd 4 mmHg) and temperature every `cuffMin` minutes. */
function wearable(truth: (sec: number) => Truth, seconds: number, seed: number, cuffMin: number): CanonicalSample[] {
  const g = gaussian(seed);
  const out: CanonicalSample[] = [];
  for (let sec = 0; sec < seconds; sec++) {
    const v = truth(sec);
    const metrics: CanonicalSample['metrics'] = { hr: Math.round(v.hr + 1.5 * g()), spo2: Math.min(100, Math.round(v.spo2 + 0.6 * g())) };
    if (sec % 4 === 0) metrics.rr = Math.round(v.rr + 0.8 * g());
    const cuff = sec % (cuffMin * 60) === 0;
    if (cuff) {
      metrics.sbp = Math.round(v.sbp + 4 * g());
      metrics.temp = Math.round(v.temp * 10) / 10;
    }
    const ts = T0 + sec * 1000;
    out.push({ v: 1, deviceId: 'd1', patientId: 'P1', ward: 'w1', ts, recvTs: ts, source: 'device', metrics, traceId: 't', ...(sec === 0 ? { acvpu: 'A' as const, o2: false } : {}) });
  }
  return out;
}

async function shipped(samples: readonly CanonicalSample[]): Promise<AlertEvent[]> {
  const r = parseRuleSetText(await readDefaultRulesText());
  if (!r.ok) throw new Error(r.errors.join('\n'));
  const e = createRulesEngine(r.ruleSet);
  const out: AlertEvent[] = [];
  for (const s of samples) {
    out.push(...e.onTick(s.ts));
    out.push(...e.onSample(s, { live: true }).alerts);
  }
  return out.filter((x) => x.event === 'raised' && x.alert.kind === 'clinical');
}

describe('shipped rules against issue 17', () => {
  // A bleed over 60 min from HR 78, SBP 128, RR 15: HR +48, SBP −38, RR +8 (the simulator's haemorrhage).
  const bleed = (sec: number): Truth => {
    const k = Math.min(1, sec / 3600);
    return { hr: 78 + 48 * k, rr: 15 + 8 * k, spo2: 97, temp: 37, sbp: 128 - 38 * k };
  };
  let onset = 0;
  while (!urgent(bleed(onset))) onset++;

  it.each([5, 15])('a 60-minute bleed with realistic noise and a cuff every %i min alerts within 10 minutes of its true NEWS2 onset (5 noise seeds)', async (cuffMin) => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const alerts = await shipped(wearable(bleed, 7200, seed, cuffMin));
      expect(alerts.length).toBeGreaterThan(0);
      expect(((alerts[0] as AlertEvent).ts - (T0 + onset * 1000)) / M).toBeLessThanOrEqual(10);
    }
  });

  // RR 22 (2), temp 38.5 (1), SpO2 97 (0): 3. HR 90 scores 0 and 91 scores 1; SBP 112 scores 0 but its
  // noisy cuff readings often score 1 (≤ 110): a true NEWS2 of 3-4 on two edges at once, never urgent.
  it('a stable patient on the HR 90/91 and SBP 110/111 edges for 8 hours, with cuff noise, raises nothing', async () => {
    const edge = (): Truth => ({ hr: 90, rr: 22, spo2: 97, temp: 38.5, sbp: 112 });
    expect(urgent(edge())).toBe(false);
    expect(await shipped(wearable(edge, 8 * 3600, 31, 15))).toEqual([]);
  });

  it('the same patient at a true NEWS2 of 5 (HR 91, SBP 105) raises one medium alert in 8 hours', async () => {
    const edge = (): Truth => ({ hr: 91, rr: 22, spo2: 97, temp: 38.5, sbp: 105 });
    expect(urgent(edge())).toBe(true);
    const alerts = await shipped(wearable(edge, 8 * 3600, 32, 15));
    expect(alerts.map((x) => [x.alert.ruleId, x.alert.priority])).toEqual([['news2', 'medium']]);
  });
});
