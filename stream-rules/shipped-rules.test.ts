/**
 * The shipped rule set (stream-rules/default-rules.yaml) against issue 17's "Done when" on synthetic
 * streams with realistic noise: a slow bleed alerts within 10 minutes of its true NEWS2 onset, and a
 * stable patient on a band edge for hours raises at most the alert its true NEWS2 warrants, once.
 */
import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../core/alerts-model.js';
import { createRulesEngine } from './engine/engine.js';
import type { CanonicalSample } from '../core/vitals.js';
import { parseRuleSetText, readDefaultRulesText } from './rules-loader.js';
import { urgent, wearable as wearableFrom, type Truth } from '../test/support/wearable.js';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const M = 60_000;

/** The wearable stream of test/support/wearable.ts from T0; consciousness and oxygen with the first reading only. */
const wearable = (truth: (sec: number) => Truth, seconds: number, seed: number, cuffMin: number): CanonicalSample[] => wearableFrom(truth, seconds, seed, T0, { cuffMin, acvpuEveryRound: false });

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
