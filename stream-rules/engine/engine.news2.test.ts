/**
 * NEWS2 on continuous data: the alert's priority and message agree (issue 14 item 7), a slow
 * deterioration with realistic noise alerts within minutes of its true onset, and a stable patient
 * on a band edge raises at most the alert its true NEWS2 warrants, once (issue 17).
 */
import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../core/alerts-model.js';
import { createRulesEngine, type RulesEngine } from './engine.js';
import { parseRuleSet, type RuleSet } from '../../core/rules-config.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { gaussian } from '../../test/support/noise.js';
import { urgent, wearable as wearableFrom, type Truth } from '../../test/support/wearable.js';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const S = 1000;
const M = 60_000;

/** The shipped NEWS2 rule (stream-rules/default-rules.yaml) alone; `summary` as given. */
function news2Rules(summary: string): RuleSet {
  const r = parseRuleSet({
    version: 't-news2',
    news2: { summary },
    rules: [{ id: 'news2', type: 'news2', bands: { 'low-medium': 'low', medium: 'medium', high: 'high' }, for: '2m', clearFor: '15m', escalateAfter: '10m' }],
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.ruleSet;
}

/** The wearable stream of test/support/wearable.ts from T0, a round every 15 min; `cuffSd` as given. */
const wearable = (truth: (sec: number) => Truth, seconds: number, seed: number, cuffSd = 4): CanonicalSample[] => wearableFrom(truth, seconds, seed, T0, { cuffSd });

function run(engine: RulesEngine, samples: readonly CanonicalSample[]): AlertEvent[] {
  const out: AlertEvent[] = [];
  for (const s of samples) {
    out.push(...engine.onTick(s.ts));
    out.push(...engine.onSample(s, { live: true }).alerts);
  }
  return out;
}

/** `minutes` of wearable data (HR, SpO2 each second, RR every 4 s) from `at(sec)`, a cuff reading every 5 min from `cuffs`. */
function cuffStream(minutes: number, at: (sec: number) => { hr: number; rr: number; spo2: number }, cuffs: readonly number[]): CanonicalSample[] {
  const out: CanonicalSample[] = [];
  for (let sec = 0; sec < minutes * 60; sec++) {
    const v = at(sec);
    const metrics: CanonicalSample['metrics'] = { hr: v.hr, spo2: v.spo2 };
    if (sec % 4 === 0) metrics.rr = v.rr;
    const cuff = sec % 300 === 0 ? cuffs[sec / 300] : undefined;
    if (cuff !== undefined) {
      metrics.sbp = cuff;
      metrics.temp = 37;
    }
    const ts = T0 + sec * S;
    out.push({ v: 1, deviceId: 'd1', patientId: 'P1', ward: 'w1', ts, recvTs: ts, source: 'device', metrics, traceId: 't', ...(sec === 0 ? { acvpu: 'A' as const, o2: false } : {}) });
  }
  return out;
}

const raised = (events: AlertEvent[]) => events.filter((e) => e.event === 'raised');

describe('NEWS2 alert priority and message agree (issue 14 item 7)', () => {
  const TEXT = { low: /low–medium risk/, medium: /medium risk \(5–6\)/, high: /high risk \(≥7\): emergency/ } as const;

  it('raises an emergency-level score high, with the emergency message, even when the `for` window began in a lower band', () => {
    const e = createRulesEngine(news2Rules('0'));
    const samples: CanonicalSample[] = [];
    // A red RR (3: low-medium) from second 0; from second 30 HR 135 (3) and SpO2 91 (3) take the aggregate to 9.
    for (let sec = 0; sec <= 200; sec++) {
      const high = sec >= 30;
      samples.push({ v: 1, deviceId: 'd1', patientId: 'P1', ward: 'w1', ts: T0 + sec * S, recvTs: T0 + sec * S, source: 'device', traceId: 't', metrics: { rr: 26, hr: high ? 135 : 80, spo2: high ? 91 : 97 } });
    }
    const events = run(e, samples);
    const first = raised(events)[0];
    expect(first?.alert.priority).toBe('high');
    expect(first?.alert.message).toMatch(TEXT.high);
    expect(first?.ts).toBe(T0 + 120 * S);
  });

  it('every event carries the message of its own priority', () => {
    const e = createRulesEngine(news2Rules('0'));
    // 3 min at a lone red score (low), 3 min at 5 (medium), 3 min at 9 (high).
    const samples: CanonicalSample[] = [];
    for (let sec = 0; sec < 540; sec++) {
      const metrics = sec < 180 ? { rr: 26, hr: 80, spo2: 97 } : sec < 360 ? { rr: 26, hr: 95, spo2: 95 } : { rr: 26, hr: 135, spo2: 91 };
      samples.push({ v: 1, deviceId: 'd1', patientId: 'P1', ward: 'w1', ts: T0 + sec * S, recvTs: T0 + sec * S, source: 'device', traceId: 't', metrics });
    }
    const events = run(e, samples);
    expect(events.map((x) => [x.event, x.alert.priority])).toEqual([
      ['raised', 'low'],
      ['escalated', 'medium'],
      ['escalated', 'high'],
    ]);
    for (const x of events) expect(x.alert.message).toMatch(TEXT[x.alert.priority]);
  });
});

describe('NEWS2 on continuous data near band edges (issue 17)', () => {
  /** Sepsis-like over 90 min from a normal baseline: HR 78→120, RR 16→27, SpO2 97→92.5, temp 37.0→39.1, SBP 125→95. */
  const sepsis = (sec: number): Truth => {
    const k = Math.min(1, sec / 5400);
    return { hr: 78 + 42 * k, rr: 16 + 11 * k, spo2: 97 - 4.5 * k, temp: 37 + 2.1 * k, sbp: 125 - 30 * k };
  };
  const onsetSec = (truth: (sec: number) => Truth): number => {
    for (let sec = 0; ; sec++) if (urgent(truth(sec))) return sec;
  };

  it('a 90-minute sepsis-like ramp with realistic noise alerts within 10 minutes of its true NEWS2 onset (5 noise seeds)', () => {
    const onset = onsetSec(sepsis);
    const delays: number[] = [];
    for (const seed of [1, 2, 3, 4, 5]) {
      const alerts = raised(run(createRulesEngine(news2Rules('60s')), wearable(sepsis, 7200, seed)));
      expect(alerts.length).toBeGreaterThan(0);
      delays.push(((alerts[0] as AlertEvent).ts - (T0 + onset * S)) / M);
    }
    for (const d of delays) expect(d).toBeLessThanOrEqual(10);
  });

  it('without the summary the same ramp is late: every new reading can restart the 2-minute timer (the cause, reproduced)', () => {
    const onset = onsetSec(sepsis);
    const late = [1, 2, 3, 4, 5].map((seed) => {
      const alerts = raised(run(createRulesEngine(news2Rules('0')), wearable(sepsis, 7200, seed)));
      return alerts.length === 0 ? Infinity : ((alerts[0] as AlertEvent).ts - (T0 + onset * S)) / M;
    });
    const summarised = [1, 2, 3, 4, 5].map((seed) => {
      const alerts = raised(run(createRulesEngine(news2Rules('60s')), wearable(sepsis, 7200, seed)));
      return ((alerts[0] as AlertEvent).ts - (T0 + onset * S)) / M;
    });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(late)).toBeGreaterThan(mean(summarised));
  });

  // SBP 105 (1), temp 38.5 (1), RR 22 (2), SpO2 97 (0): 4 without HR. HR 90 scores 0, HR 91 scores 1.
  // The round's BP is entered as measured (no cuff noise): only the continuous parameters are noisy.
  const edge = (hr: number) => (): Truth => ({ hr, rr: 22, spo2: 97, temp: 38.5, sbp: 105 });

  it('a stable patient whose HR sits on the 90/91 edge for 6 hours, true NEWS2 4, raises nothing', () => {
    expect(urgent(edge(90)())).toBe(false);
    const events = run(createRulesEngine(news2Rules('60s')), wearable(edge(90), 6 * 3600, 11, 0));
    expect(events).toEqual([]);
  });

  it('the same patient with HR at 91, true NEWS2 5, raises one medium alert and keeps it for 6 hours', () => {
    expect(urgent(edge(91)())).toBe(true);
    const events = run(createRulesEngine(news2Rules('60s')), wearable(edge(91), 6 * 3600, 12, 0));
    // Unacknowledged, it escalates every escalateAfter; it never resolves and is never raised again.
    expect(raised(events).map((x) => x.alert.priority)).toEqual(['medium']);
    expect(events.filter((x) => x.event === 'resolved')).toEqual([]);
    expect(events.every((x) => x.alert.value === 5)).toBe(true);
    expect(events[0]?.ts).toBeLessThanOrEqual(T0 + 5 * M);
  });
});

describe('NEWS2 on spot observations between continuous readings (issue 17 leftovers)', () => {
  /** The shipped NEWS2 rule with the spot settings given. */
  function spotRules(news2: Record<string, unknown>): RuleSet {
    const r = parseRuleSet({
      version: 't-news2-spot',
      news2: { summary: '60s', ...news2 },
      rules: [{ id: 'news2', type: 'news2', bands: { 'low-medium': 'low', medium: 'medium', high: 'high' }, for: '2m', clearFor: '15m', escalateAfter: '10m' }],
    });
    if (!r.ok) throw new Error(r.errors.join('\n'));
    return r.ruleSet;
  }

  /** 30 min of wearable data at `hr` (RR 16, SpO2 97, temp 37 scoring 0) and a cuff reading every 5 min from `cuffs`. */
  const stream = (cuffs: readonly number[], hr = 80): CanonicalSample[] => cuffStream(30, () => ({ hr, rr: 16, spo2: 97 }), cuffs);

  it('spotHeld: a cuff reading that takes the score into a band alerts at that reading, not `for` later', () => {
    const cuffs = [104, 104, 86, 86, 86, 86];
    const held = raised(run(createRulesEngine(spotRules({ spotHeld: true })), stream(cuffs)));
    const waited = raised(run(createRulesEngine(spotRules({})), stream(cuffs)));
    // SBP 104 scores 1 (aggregate 1); 86 scores 3.
    expect(held.map((x) => [x.ts, x.alert.priority, x.alert.value])).toEqual([[T0 + 10 * M, 'low', 3]]);
    expect(waited.map((x) => x.ts)).toEqual([T0 + 12 * M]);
  });

  it('spotHeld does not shorten `for` for the continuous parameters', () => {
    // HR 135 (3) from minute 0, cuffs normal: the band is entered by the wearable, so `for` (2 min) applies.
    const events = raised(run(createRulesEngine(spotRules({ spotHeld: true })), stream([120, 120, 120], 135)));
    // Every reading is 135, so the 60 s median is at once; raised 2 min after the first reading.
    expect(events.map((x) => x.ts)).toEqual([T0 + 2 * M]);
  });

  it('confirmLoneSpotRed: one low cuff reading with everything else normal raises nothing; the published score still shows it', () => {
    const e = createRulesEngine(spotRules({ confirmLoneSpotRed: true, spotHeld: true }));
    const scores: number[] = [];
    const events: AlertEvent[] = [];
    for (const s of stream([104, 104, 88, 112, 110, 114])) {
      events.push(...e.onTick(s.ts));
      const out = e.onSample(s, { live: true });
      events.push(...out.alerts);
      if (out.score && s.metrics.sbp !== undefined) scores.push(out.score.score);
    }
    expect(events).toEqual([]);
    expect(scores).toEqual([1, 1, 3, 0, 1, 0]);
    // Without confirmation the same reading pages.
    expect(raised(run(createRulesEngine(spotRules({})), stream([104, 104, 88, 112, 110, 114]))).length).toBe(1);
  });

  it('confirmLoneSpotRed: the next low reading confirms it and (spotHeld) raises at once', () => {
    const events = raised(run(createRulesEngine(spotRules({ confirmLoneSpotRed: true, spotHeld: true })), stream([104, 104, 88, 85, 85, 85])));
    expect(events.map((x) => [x.ts, x.alert.priority, x.alert.value])).toEqual([[T0 + 15 * M, 'low', 3]]);
  });

  it('confirmLoneSpotRed: a low reading with another parameter scoring is not lone and raises at the reading', () => {
    // HR 95 scores 1: the aggregate with SBP 88 is 4, a red 3 that the wearable corroborates.
    const events = raised(run(createRulesEngine(spotRules({ confirmLoneSpotRed: true, spotHeld: true })), stream([104, 104, 88, 112, 110, 114], 95)));
    expect(events.map((x) => [x.ts, x.alert.value])).toEqual([[T0 + 10 * M, 4]]);
  });

  it('confirmLoneSpotRed: a fall of 20 mmHg or more since the previous reading is a change, not a reading to repeat', () => {
    const rules = spotRules({ confirmLoneSpotRed: true, spotHeld: true });
    expect(raised(run(createRulesEngine(rules), stream([110, 110, 90, 112, 110, 114]))).map((x) => x.ts)).toEqual([T0 + 10 * M]);
    expect(raised(run(createRulesEngine(rules), stream([109, 109, 90, 112, 110, 114])))).toEqual([]);
  });

  it('confirmLoneSpotRed: a reading older than news2.maxAge does not confirm', () => {
    const r = parseRuleSet({
      version: 't',
      news2: { summary: '60s', confirmLoneSpotRed: true, maxAge: { sbp: '4m' } },
      rules: [{ id: 'news2', type: 'news2', bands: { 'low-medium': 'low', medium: 'medium', high: 'high' }, for: '2m', clearFor: '15m' }],
    });
    if (!r.ok) throw new Error(r.errors.join('\n'));
    // Readings 5 min apart with a 4 min max age: each low reading is the first fresh one.
    expect(raised(run(createRulesEngine(r.ruleSet), stream([88, 88, 88, 88, 88, 88])))).toEqual([]);
  });
});

describe('NEWS2 spot confirmation, one alert per finding, shock index (issue 17, second pass)', () => {
  const NEWS2_RULE = { id: 'news2', type: 'news2', bands: { 'low-medium': 'low', medium: 'medium', high: 'high' }, for: '2m', clearFor: '15m', escalateAfter: '10m' };
  function rules(news2: Record<string, unknown>, extra: unknown[] = []): RuleSet {
    const r = parseRuleSet({ version: 't-i17b', news2: { summary: '60s', spotHeld: true, ...news2 }, rules: [NEWS2_RULE, ...extra] });
    if (!r.ok) throw new Error(r.errors.join('\n'));
    return r.ruleSet;
  }

  const steady = (hr: number, rr = 16, spo2 = 97) => () => ({ hr, rr, spo2 });

  it('confirmSpotRed: below-medium: a red cuff reading with an aggregate of 4 waits for the next reading; lone does not', () => {
    // HR 95 scores 1: SBP 88 takes the aggregate to 4, a red that only that one reading gives.
    const once = cuffStream(30, steady(95), [104, 104, 88, 112, 110, 114]);
    expect(raised(run(createRulesEngine(rules({ confirmSpotRed: 'below-medium' })), once))).toEqual([]);
    expect(raised(run(createRulesEngine(rules({ confirmSpotRed: 'lone' })), once)).map((x) => x.ts)).toEqual([T0 + 10 * M]);
    // Confirmed by the next reading, raised at it; a fall of 20 mmHg or more is a change and counts at once.
    expect(raised(run(createRulesEngine(rules({ confirmSpotRed: 'below-medium' })), cuffStream(30, steady(95), [104, 104, 88, 86, 86, 86]))).map((x) => [x.ts, x.alert.value])).toEqual([[T0 + 15 * M, 4]]);
    expect(raised(run(createRulesEngine(rules({ confirmSpotRed: 'below-medium' })), cuffStream(30, steady(95), [112, 112, 88, 112, 110, 114]))).map((x) => x.ts)).toEqual([T0 + 10 * M]);
  });

  it('confirmSpotRed: below-medium does not hold back a red that comes with an aggregate of 5 or more', () => {
    // RR 22 (2) and HR 95 (1): SBP 88 makes 6, an urgent response on any reading.
    const events = raised(run(createRulesEngine(rules({ confirmSpotRed: 'below-medium' })), cuffStream(30, steady(95, 22), [104, 104, 88, 112, 110, 114])));
    expect(events.map((x) => [x.ts, x.alert.priority])).toEqual([[T0 + 10 * M, 'medium']]);
  });

  it('lowMediumDefers: a lone red whose own rule is open raises one alert, not two; an aggregate of 5 still raises NEWS2', () => {
    const rrLow = { id: 'rr-low', type: 'threshold', condition: 'rr < 9', for: '2m', hysteresis: 2, clearFor: '60s', priority: 'high' };
    // RR 7 (3) from minute 0; from minute 20 SpO2 93 (2) takes the aggregate to 5.
    const s = cuffStream(30, (sec) => ({ hr: 80, rr: 7, spo2: sec < 1200 ? 97 : 93 }), [120, 120, 120, 120, 120, 120]);
    const deferred = raised(run(createRulesEngine(rules({ lowMediumDefers: true }, [rrLow])), s));
    expect(deferred.map((x) => [x.alert.ruleId, x.alert.priority])).toEqual([['rr-low', 'high'], ['news2', 'medium']]);
    const both = raised(run(createRulesEngine(rules({}, [rrLow])), s));
    expect(both.map((x) => [x.alert.ruleId, x.alert.priority])).toEqual([['rr-low', 'high'], ['news2', 'low']]);
  });

  const shock = { id: 'shock-index', type: 'shock-index', above: 0.9, fall: 20, window: '30m', hysteresis: 0.05, for: '2m', clearFor: '15m', priority: 'medium' };

  it('shock-index: HR / SBP of 0.9 or more with the systolic fallen 20 mmHg raises after `for`; without the fall, or below 0.9, nothing', () => {
    // HR 95 throughout; cuffs 125, 115, 105: at 10 min SI 95/105 = 0.90 and a 20 mmHg fall.
    const fell = raised(run(createRulesEngine(rules({}, [shock])), cuffStream(20, steady(95), [125, 115, 105, 105])));
    expect(fell.filter((x) => x.alert.ruleId === 'shock-index').map((x) => [x.ts, x.alert.value])).toEqual([[T0 + 12 * M, 0.9]]);
    const flat = raised(run(createRulesEngine(rules({}, [shock])), cuffStream(20, steady(95), [107, 106, 105, 105])));
    expect(flat.filter((x) => x.alert.ruleId === 'shock-index')).toEqual([]);
    const lowIndex = raised(run(createRulesEngine(rules({}, [shock])), cuffStream(20, steady(85), [125, 115, 105, 105])));
    expect(lowIndex.filter((x) => x.alert.ruleId === 'shock-index')).toEqual([]);
  });

  it('shock-index: a stable patient at an index of 0.95 for 6 hours with a noisy cuff raises nothing (no fall)', () => {
    const g = gaussian(21);
    const cuffs = Array.from({ length: 72 }, () => Math.round(105 + 4 * g()));
    const events = run(createRulesEngine(rules({}, [shock])), cuffStream(360, () => ({ hr: Math.round(100 + 1.5 * g()), rr: 16, spo2: 97 }), cuffs));
    expect(events.filter((x) => x.alert.ruleId === 'shock-index')).toEqual([]);
  });
});
