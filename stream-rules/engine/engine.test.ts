import { describe, expect, it } from 'vitest';
import type { AlertEvent, ClinicianAction } from '../../core/alerts-model.js';
import { createRulesEngine, type RulesEngine } from './engine.js';
import { parseRuleSet, type RuleSet } from '../../core/rules-config.js';
import type { CanonicalSample } from '../../core/vitals.js';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const S = 1000;
const M = 60_000;

function rules(extra: Record<string, unknown> = {}, list?: unknown[]): RuleSet {
  const r = parseRuleSet({
    version: 't1',
    defaults: { minQuality: 0.5, maxGap: '30s', lateness: '2m', maxEscalations: 2 },
    rules: list ?? [
      {
        id: 'spo2-low', type: 'threshold', condition: 'spo2 < 90', for: '60s', hysteresis: 2, clearFor: '60s', priority: 'medium',
        escalate: { condition: 'spo2 < 85', for: '15s', priority: 'high' }, escalateAfter: '5m',
      },
      { id: 'hr-rising', type: 'rate', metric: 'hr', window: '10m', change: 25, hysteresis: 10, minSamples: 10, minSpan: '5m', clearFor: '2m', priority: 'low' },
      // No low-medium band here, so single-metric tests are not joined by a NEWS2 red-score alert.
      { id: 'news2', type: 'news2', bands: { medium: 'medium', high: 'high' }, for: '0s', clearFor: '5m' },
      { id: 'hr-missing', type: 'missing', metric: 'hr', after: '2m', priority: 'low' },
      { id: 'battery-low', type: 'battery', below: 0.15, clearAbove: 0.25, priority: 'low' },
    ],
    ...extra,
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.ruleSet;
}

function sample(ts: number, metrics: CanonicalSample['metrics'], extra: Partial<CanonicalSample> = {}): CanonicalSample {
  return { v: 1, deviceId: 'd1', patientId: 'P1', ward: 'w1', ts, recvTs: ts, source: 'device', metrics, traceId: `t${ts}`, ...extra };
}

/** Feed samples, ticking to each sample's time first (as replay does); collect alert events. */
function run(engine: RulesEngine, samples: CanonicalSample[], live = true): AlertEvent[] {
  const out: AlertEvent[] = [];
  for (const s of samples) {
    out.push(...engine.onTick(s.ts));
    out.push(...engine.onSample(s, { live }).alerts);
  }
  return out;
}

function series(from: number, seconds: number, f: (i: number) => CanonicalSample['metrics'], extra: Partial<CanonicalSample> = {}): CanonicalSample[] {
  return Array.from({ length: seconds }, (_, i) => sample(from + i * S, f(i), extra));
}

const brief = (e: AlertEvent) => [e.event, e.alert.ruleId, e.alert.priority, (e.ts - T0) / S];

describe('live SpO2-scale orders (chart actions)', () => {
  const news2Only = () => rules({ news2: { scoreInterval: '1s' } }, [{ id: 'news2', type: 'news2', bands: { 'low-medium': 'low', medium: 'medium', high: 'high' }, for: '0s', clearFor: '5m' }]);
  const order = (ts: number, spo2Scale: 1 | 2, until: number | null = null) =>
    ({ v: 1, action: 'chart', patientId: 'P1', spo2Scale, orderedBy: 'dr-1', role: 'clinician', ts, until }) as const;
  it('scores SpO2 88% on air as 3 on Scale 1, and 0 once a clinician orders Scale 2', () => {
    const e = createRulesEngine(news2Only());
    const before = e.onSample(sample(T0, { spo2: 88 }), { live: true }).score;
    expect(before?.components.spo2).toBe(3);
    expect(e.onAction(order(T0 + 10 * S, 2))).toEqual([]);
    const after = e.onSample(sample(T0 + 20 * S, { spo2: 88 }), { live: true }).score;
    expect(after?.components.spo2).toBe(0);
    expect(after?.scale).toBe(2);
  });
  it('applies an order from its time only, until it expires; the latest order wins whatever the delivery order', () => {
    const e = createRulesEngine(news2Only());
    e.onAction(order(T0 + 60 * S, 1));
    e.onAction(order(T0 + 10 * S, 2, T0 + 120 * S)); // older, delivered late: ignored
    expect(e.onSample(sample(T0 + 70 * S, { spo2: 88 }), { live: true }).score?.scale).toBe(1);
    const f = createRulesEngine(news2Only());
    f.onAction(order(T0 + 10 * S, 2, T0 + 120 * S));
    expect(f.onSample(sample(T0, { spo2: 88 }), { live: true }).score?.scale).toBe(1); // before the order
    expect(f.onSample(sample(T0 + 30 * S, { spo2: 88 }), { live: true }).score?.scale).toBe(2);
    expect(f.onSample(sample(T0 + 130 * S, { spo2: 88 }), { live: true }).score?.scale).toBe(1); // expired
  });
  it('ignores an order the chart-order check refuses, as the gateway view does (one check: isChartOrder)', () => {
    const e = createRulesEngine(news2Only());
    const partial = [{ ...order(T0, 2), orderedBy: undefined }, { ...order(T0, 2), until: '5000' }, { ...order(T0, 2), until: undefined }];
    for (const bad of partial) e.onAction(bad as unknown as ClinicianAction);
    expect(e.onSample(sample(T0 + 10 * S, { spo2: 88 }), { live: true }).score?.scale).toBe(1);
  });
});

describe('threshold rules on spot measurements (maxGap)', () => {
  const cuff = () =>
    rules({}, [{ id: 'sbp-low', type: 'threshold', condition: 'sbp <= 90', for: '4m', maxGap: '6m', hysteresis: 5, priority: 'medium' }]);
  it('one low cuff reading followed by a normal one raises nothing', () => {
    const e = createRulesEngine(cuff());
    expect(run(e, [sample(T0, { sbp: 88 }), sample(T0 + 5 * M, { sbp: 112 })])).toEqual([]);
  });
  it('two low readings five minutes apart confirm it', () => {
    const e = createRulesEngine(cuff());
    expect(run(e, [sample(T0, { sbp: 88 }), sample(T0 + 5 * M, { sbp: 86 })]).map(brief)).toEqual([['raised', 'sbp-low', 'medium', 300]]);
  });
  it('without maxGap the default 30 s gap breaks the run, so spaced readings never confirm', () => {
    const e = createRulesEngine(rules({}, [{ id: 'sbp-low', type: 'threshold', condition: 'sbp <= 90', for: '4m', hysteresis: 5, priority: 'medium' }]));
    expect(run(e, [sample(T0, { sbp: 88 }), sample(T0 + 5 * M, { sbp: 86 }), sample(T0 + 10 * M, { sbp: 85 })])).toEqual([]);
  });
});

describe('threshold rules: delay and hysteresis', () => {
  it('raises once after the delay, not before', () => {
    const e = createRulesEngine(rules());
    const ev = run(e, series(T0, 120, () => ({ spo2: 88, hr: 70 })));
    expect(ev.map(brief)).toEqual([['raised', 'spo2-low', 'medium', 60]]);
    expect(ev[0]?.alert).toMatchObject({ kind: 'clinical', state: 'open', value: 88, openedAt: T0 + 60 * S, message: 'SpO2 < 90% for 60 s', ward: 'w1' });
  });

  it('a value hovering at the threshold raises once and does not resolve in the band', () => {
    const e = createRulesEngine(rules());
    // 89, 90, 91, 89, ... for 10 minutes: 90 and 91 are in the hysteresis band (clears at ≥92).
    const ev = run(e, series(T0, 600, (i) => ({ spo2: 89 + (i % 3), hr: 70 })));
    // One raise; the only other event is the unacknowledged-time escalation (escalateAfter 5m).
    expect(ev.map(brief)).toEqual([['raised', 'spo2-low', 'medium', 60], ['escalated', 'spo2-low', 'high', 360]]);
    const after = run(e, series(T0 + 600 * S, 90, () => ({ spo2: 95, hr: 70 })));
    // The second (last, maxEscalations 2) timer escalation is due at 660, as is the resolve.
    expect(after.map(brief)).toEqual([['escalated', 'spo2-low', 'high', 660], ['resolved', 'spo2-low', 'high', 660]]);
    expect(after[1]?.alert).toMatchObject({ state: 'resolved', resolvedAt: T0 + 660 * S });
  });

  it('a short dip does not raise; a dip back into the band does not restart clearing', () => {
    const e = createRulesEngine(rules());
    expect(run(e, [...series(T0, 30, () => ({ spo2: 88 })), ...series(T0 + 30 * S, 60, () => ({ spo2: 97 }))])).toEqual([]);
  });

  it('escalates to the worse level after its own delay, and re-alarms an acknowledged alert', () => {
    const e = createRulesEngine(rules());
    const ev = run(e, series(T0, 70, () => ({ spo2: 88 })));
    expect(ev).toHaveLength(1);
    const id = ev[0]?.alert.id as string;
    const ack = e.onAction({ v: 1, action: 'ack', alertId: id, patientId: 'P1', userId: 'nurse-7', role: 'nurse', ts: T0 + 71 * S });
    expect(ack.map((x) => [x.event, x.alert.state, x.alert.ackBy, x.eventId])).toEqual([['acknowledged', 'acknowledged', 'nurse-7', `${id}:acknowledged:2`]]);
    const worse = run(e, series(T0 + 70 * S, 30, () => ({ spo2: 83 })));
    expect(worse.map(brief)).toEqual([['escalated', 'spo2-low', 'high', 85]]);
    expect(worse[0]?.alert).toMatchObject({ state: 'open', ackBy: null, message: 'SpO2 < 85% for 15 s', value: 83 });
    expect(worse[0]?.eventId).toBe(`${id}:escalated:3`);
  });

  it('does not skip the escalation delay when the value is already worse at the moment of raising', () => {
    const e = createRulesEngine(rules());
    const ev = run(e, [...series(T0, 59, () => ({ spo2: 88 })), ...series(T0 + 59 * S, 20, () => ({ spo2: 80 }))]);
    expect(ev.map(brief)).toEqual([['raised', 'spo2-low', 'medium', 60], ['escalated', 'spo2-low', 'high', 74]]);
  });

  it('never de-escalates an open alert', () => {
    const e = createRulesEngine(rules());
    const ev = run(e, [...series(T0, 90, () => ({ spo2: 80 })), ...series(T0 + 90 * S, 60, () => ({ spo2: 88 }))]);
    expect(ev.map((x) => x.event)).toEqual(['raised']);
    expect(e.openAlerts()[0]?.priority).toBe('high');
  });
});

describe('acknowledgement and unacknowledged escalation', () => {
  it('escalates one step per escalateAfter while unacknowledged, bounded by maxEscalations, stamped at the deadline', () => {
    const e = createRulesEngine(rules());
    run(e, series(T0, 61, () => ({ spo2: 88, hr: 70 })));
    const raisedAt = T0 + 60 * S;
    const spo2 = (x: AlertEvent[]) => x.filter((a) => a.alert.ruleId === 'spo2-low');
    expect(spo2(e.onTick(raisedAt + 5 * M - 1))).toEqual([]);
    const ev = spo2(e.onTick(raisedAt + 60 * M));
    expect(ev.map((x) => [x.event, x.alert.priority, x.ts - raisedAt])).toEqual([
      ['escalated', 'high', 5 * M],
      ['escalated', 'high', 10 * M],
    ]);
  });

  it('tick cadence does not change the events', () => {
    const a = createRulesEngine(rules());
    const b = createRulesEngine(rules());
    const input = series(T0, 61, () => ({ spo2: 88, hr: 70 }));
    run(a, input);
    run(b, input);
    const everySecond: AlertEvent[] = [];
    for (let t = T0 + 61 * S; t <= T0 + 30 * M; t += S) everySecond.push(...a.onTick(t));
    expect(b.onTick(T0 + 30 * M)).toEqual(everySecond);
  });

  it('an acknowledged alert does not escalate on time; acks are idempotent and checked', () => {
    const e = createRulesEngine(rules());
    const [raised] = run(e, series(T0, 61, () => ({ spo2: 88, hr: 70 })));
    const id = raised?.alert.id as string;
    const act = { v: 1 as const, action: 'ack' as const, alertId: id, patientId: 'P1', userId: 'u1', role: 'nurse', ts: T0 + 62 * S };
    expect(e.onAction({ ...act, patientId: 'P2' })).toEqual([]);
    expect(e.onAction({ ...act, alertId: 'al-0000000000000000' })).toEqual([]);
    expect(e.onAction(act)).toHaveLength(1);
    expect(e.onAction({ ...act, userId: 'u2' })).toEqual([]);
    expect(e.onTick(T0 + 60 * M).filter((a) => a.alert.ruleId === 'spo2-low')).toEqual([]);
    expect(e.openAlerts()[0]).toMatchObject({ state: 'acknowledged', ackBy: 'u1', ackAt: T0 + 62 * S });
  });

  it('an ack stamped before the alert opened (clock skew) is placed at the opening', () => {
    const e = createRulesEngine(rules());
    const [raised] = run(e, series(T0, 61, () => ({ spo2: 88 })));
    const [ack] = e.onAction({ v: 1, action: 'ack', alertId: raised?.alert.id as string, patientId: 'P1', userId: 'u', role: 'nurse', ts: T0 });
    expect(ack?.ts).toBe(raised?.ts);
  });
});

describe('signal quality, duplicates, late samples, live gating', () => {
  it('low-quality samples do not count for clinical rules and do not break a pending delay', () => {
    const e = createRulesEngine(rules());
    expect(run(e, series(T0, 120, () => ({ spo2: 80 }), { quality: { spo2: 0.2 } }))).toEqual([]);
    expect(e.stats().lowQuality).toBe(120);
    const mixed = series(T0 + 200 * S, 70, () => ({ spo2: 88 }), {}).map((s, i) => (i % 2 ? { ...s, quality: { spo2: 0.1 }, metrics: { spo2: 99 } } : s));
    expect(run(e, mixed).map(brief)).toEqual([['raised', 'spo2-low', 'medium', 260]]);
  });

  it('ignores duplicates and never runs a state machine backwards for late samples', () => {
    const e = createRulesEngine(rules());
    const input = series(T0, 70, () => ({ spo2: 88 }));
    const ev = run(e, [...input.slice(0, 30), input[29] as CanonicalSample, ...input.slice(30)]);
    expect(ev.map(brief)).toEqual([['raised', 'spo2-low', 'medium', 60]]);
    expect(e.stats().duplicates).toBe(1);
    // An older value (here a recovery) cannot resolve what later samples established.
    const late = e.onSample(sample(T0 + 5 * S, { spo2: 99 }));
    expect(late.alerts).toEqual([]);
    expect(e.stats().late).toBe(1);
    expect(e.openAlerts()).toHaveLength(1);
  });

  it('non-live samples are scored but raise nothing; a condition that held raises on the first live sample', () => {
    const e = createRulesEngine(rules());
    const backlog = series(T0, 90, () => ({ spo2: 88, hr: 70, rr: 16 }));
    const outs = backlog.map((s) => e.onSample(s, { live: false }));
    expect(outs.flatMap((o) => o.alerts)).toEqual([]);
    expect(outs[0]?.score).toMatchObject({ patientId: 'P1', ts: T0, score: 3, complete: false });
    const live = e.onSample(sample(T0 + 90 * S, { spo2: 88, hr: 70 }), { live: true });
    expect(live.alerts.map(brief)).toEqual([['raised', 'spo2-low', 'medium', 90]]);
  });

  it('samples without a patient are ignored', () => {
    const e = createRulesEngine(rules());
    expect(e.onSample(sample(T0, { spo2: 50 }, { patientId: null }))).toEqual({ alerts: [] });
    expect(e.stats()).toMatchObject({ patients: 0, unassigned: 1 });
  });
});

describe('rate of change', () => {
  it('raises on a sustained rise of 25/min within 10 min, not on noise, and resolves when flat', () => {
    const e = createRulesEngine(rules());
    // Noisy but flat for 10 min: no alert.
    const flat = series(T0, 600, (i) => ({ hr: 75 + ((i * 7) % 5) - 2 }));
    expect(run(e, flat)).toEqual([]);
    // Rising 3/min for 10 min: fitted change over the window passes 25.
    const rising = series(T0 + 600 * S, 600, (i) => ({ hr: 75 + (3 * i) / 60 }));
    const ev = run(e, rising);
    expect(ev.map((x) => [x.event, x.alert.ruleId, x.alert.priority])).toEqual([['raised', 'hr-rising', 'low']]);
    expect(ev[0]?.alert.value).toBeGreaterThanOrEqual(25);
    expect(ev[0]?.alert.message).toBe('Heart rate rose by 25 /min or more within 10 min');
    const plateau = series(T0 + 1200 * S, 900, () => ({ hr: 105 }));
    expect(run(e, plateau).map((x) => x.event)).toEqual(['resolved']);
  });

  it('a single outlier does not trigger the trend', () => {
    const e = createRulesEngine(rules());
    const s = series(T0, 600, (i) => ({ hr: i === 599 ? 180 : 75 }));
    expect(run(e, s).filter((x) => x.alert.ruleId === 'hr-rising')).toEqual([]);
  });
});

describe('NEWS2 rule and score output', () => {
  it('publishes a score on change or interval, raises by band, escalates, resolves after clearFor', () => {
    const e = createRulesEngine(rules());
    const scores: number[] = [];
    const events: AlertEvent[] = [];
    const feed = (s: CanonicalSample) => {
      events.push(...e.onTick(s.ts));
      const o = e.onSample(s);
      events.push(...o.alerts);
      if (o.score) scores.push(o.score.score);
    };
    // A manual observation round: SBP, temperature, ACVPU, on air.
    feed(sample(T0, { sbp: 120, temp: 37.0 }, { source: 'manual', acvpu: 'A', o2: false }));
    for (let i = 1; i <= 120; i++) feed(sample(T0 + i * S, { hr: 95, rr: 22, spo2: 95 }));
    // hr 1 + rr 2 + spo2 1 = 4, complete: low, no alert; published on change, then once a minute.
    expect(scores).toEqual([0, 4, 4]);
    expect(events).toEqual([]);
    // SpO2 drops to 93 (2): aggregate 5 → medium.
    for (let i = 121; i <= 130; i++) feed(sample(T0 + i * S, { hr: 95, rr: 22, spo2: 93 }));
    expect(events.map(brief)).toEqual([['raised', 'news2', 'medium', 121]]);
    expect(events[0]?.alert).toMatchObject({ value: 5, message: 'NEWS2 medium risk (5–6): urgent response' });
    // RR 25 (3): aggregate 6; HR 111 (2): aggregate 7 → high.
    feed(sample(T0 + 131 * S, { hr: 111, rr: 25, spo2: 93 }));
    expect(events.map(brief).at(-1)).toEqual(['escalated', 'news2', 'high', 131]);
    // Back to normal: resolves 5 minutes after it clears.
    for (let i = 132; i <= 132 + 360; i++) feed(sample(T0 + i * S, { hr: 70, rr: 16, spo2: 97 }));
    expect(events.map(brief).at(-1)).toEqual(['resolved', 'news2', 'high', 132 + 300]);
  });

  it('scores a partial set as a lower bound and names stale parameters', () => {
    const e = createRulesEngine(rules());
    e.onSample(sample(T0, { temp: 38.5 }, { source: 'manual' }));
    const o = e.onSample(sample(T0 + 7 * 3_600_000, { hr: 131 }));
    expect(o.score).toMatchObject({ score: 3, risk: 'low-medium', complete: false, stale: ['temp'] });
    expect(o.score?.missing).toEqual(['rr', 'spo2', 'o2', 'sbp', 'acvpu', 'temp']);
  });

  it('a late manual observation (older than the wearable stream) is used, scored at the newest time', () => {
    const e = createRulesEngine(rules());
    e.onSample(sample(T0 + 10 * M, { hr: 70 }));
    const o = e.onSample(sample(T0 + 2 * M, { sbp: 85 }, { source: 'manual' }));
    expect(o.score).toMatchObject({ ts: T0 + 10 * M, score: 3 });
    // What the score used: each value with the event time of its sample (FHIR derivedFrom), stale ones not.
    expect(o.score?.inputTs).toEqual({ hr: T0 + 10 * M, sbp: T0 + 2 * M });
    expect(o.score?.raw).toEqual({ hr: 70, sbp: 85 });
    e.onSample(sample(T0 + 5 * 3_600_000, { temp: 37 }, { source: 'manual', acvpu: 'A', o2: false }));
    const later = e.onSample(sample(T0 + 5 * 3_600_000 + M, { hr: 72 }));
    expect(later.score?.inputTs).toEqual({ hr: T0 + 5 * 3_600_000 + M, sbp: T0 + 2 * M, acvpu: T0 + 5 * 3_600_000, o2: T0 + 5 * 3_600_000, temp: T0 + 5 * 3_600_000 });
  });

  it('uses Scale 2 for a patient with that order', () => {
    const e = createRulesEngine(rules({ patients: { P1: { scale: 2 } } }));
    const o = e.onSample(sample(T0, { spo2: 97 }, { o2: true }));
    expect(o.score?.components).toMatchObject({ spo2: 3, o2: 2 });
    expect(o.score?.scale).toBe(2);
  });
});

describe('technical rules', () => {
  it('missing data raises at the moment data became overdue, and resolves when data returns', () => {
    const e = createRulesEngine(rules());
    run(e, series(T0, 10, () => ({ hr: 70 })));
    const lastHr = T0 + 9 * S;
    expect(e.onTick(lastHr + 2 * M - 1)).toEqual([]);
    const ev = e.onTick(lastHr + 5 * M);
    expect(ev.map((x) => [x.event, x.alert.ruleId, x.alert.kind, x.ts])).toEqual([['raised', 'hr-missing', 'technical', lastHr + 2 * M]]);
    expect(ev[0]?.alert.message).toBe('No heart rate data for 2 min: monitoring interrupted');
    expect(e.onTick(lastHr + 10 * M)).toEqual([]);
    const back = e.onSample(sample(lastHr + 11 * M, { hr: 72 }));
    expect(back.alerts.map((x) => x.event)).toEqual(['resolved']);
    // Re-armed: a second outage raises a second alert with a new id.
    const again = e.onTick(lastHr + 20 * M);
    expect(again.map((x) => x.event)).toEqual(['raised']);
    expect(again[0]?.alert.id).not.toBe(ev[0]?.alert.id);
  });

  it('low-quality data counts as missing', () => {
    const e = createRulesEngine(rules());
    run(e, series(T0, 1, () => ({ hr: 70 })));
    run(e, series(T0 + S, 200, () => ({ hr: 70 }), { quality: { hr: 0.1 } }));
    expect(e.openAlerts().map((a) => a.ruleId)).toEqual(['hr-missing']);
  });

  it('battery low raises and clears above clearAbove only', () => {
    const e = createRulesEngine(rules());
    const ev = run(e, [0.2, 0.14, 0.16, 0.2, 0.3].map((b, i) => sample(T0 + i * S, {}, { battery: b })));
    expect(ev.map((x) => [x.event, x.alert.kind, (x.ts - T0) / S])).toEqual([['raised', 'technical', 1], ['resolved', 'technical', 4]]);
  });
});

describe('determinism, restore, overrides, bounded state', () => {
  function scenario(): CanonicalSample[] {
    const out: CanonicalSample[] = [];
    for (let p = 0; p < 5; p++) {
      for (let i = 0; i < 900; i++) {
        out.push(sample(T0 + i * S + p, { spo2: 92 - ((i + p * 37) % 11), hr: 70 + (i / 20) * (p % 2) }, { patientId: `P${p}`, deviceId: `d${p}`, battery: 1 - i / 900 }));
      }
    }
    return out.sort((a, b) => a.ts - b.ts);
  }

  it('the same input gives the same events, ids included', () => {
    const a = run(createRulesEngine(rules()), scenario());
    const b = run(createRulesEngine(rules()), scenario());
    expect(a.length).toBeGreaterThan(5);
    expect(b).toEqual(a);
    expect(new Set(a.map((x) => x.eventId)).size).toBe(a.length);
    for (const x of a) expect(x.alert.id).not.toContain(x.alert.patientId);
  });

  it('events are snapshots: later transitions do not change events already returned', () => {
    const e = createRulesEngine(rules());
    const [raised] = run(e, series(T0, 61, () => ({ spo2: 88 })));
    run(e, series(T0 + 61 * S, 120, () => ({ spo2: 99 })));
    expect(raised?.alert.state).toBe('open');
  });

  it('restore rebuilds open alerts without emitting; the lifecycle continues with the same ids', () => {
    const a = createRulesEngine(rules());
    const log = [...run(a, series(T0, 70, () => ({ spo2: 88, hr: 70 })))];
    log.push(...a.onAction({ v: 1, action: 'ack', alertId: log[0]?.alert.id as string, patientId: 'P1', userId: 'u', role: 'r', ts: T0 + 70 * S }));
    const b = createRulesEngine(rules());
    b.restore(log);
    expect(b.openAlerts()).toEqual(a.openAlerts());
    const rest = series(T0 + 70 * S, 120, () => ({ spo2: 97, hr: 70 }));
    const ea = run(a, rest);
    const eb = run(b, rest);
    expect(eb).toEqual(ea);
    expect(eb.map((x) => x.eventId)).toEqual([`${log[0]?.alert.id}:resolved:3`]);
  });

  it('restore keeps an alert whose rule no longer exists on the board until a clinician acknowledges it, which closes it', () => {
    const a = createRulesEngine(rules());
    const log = run(a, series(T0, 70, () => ({ spo2: 88 })));
    const b = createRulesEngine(rules({}, [{ id: 'hr-missing', type: 'missing', metric: 'hr', after: '2m', priority: 'low' }]));
    b.restore(log);
    // No rule can resolve it: samples do not clear it.
    expect(run(b, series(T0 + 70 * S, 10, () => ({ spo2: 97 })))).toEqual([]);
    expect(b.openAlerts().map((x) => [x.ruleId, x.state])).toEqual([['spo2-low', 'open']]);
    const id = log[0]?.alert.id as string;
    const ack = { v: 1, action: 'ack', alertId: id, patientId: 'P1', userId: 'u', role: 'r', ts: T0 + 80 * S } as const;
    const closed = b.onAction(ack);
    expect(closed.map((x) => [x.event, x.alert.state, x.eventId])).toEqual([
      ['acknowledged', 'acknowledged', `${id}:acknowledged:2`],
      ['resolved', 'resolved', `${id}:resolved:3`],
    ]);
    expect(closed[1]?.alert).toMatchObject({ ackBy: 'u', resolvedAt: T0 + 80 * S });
    expect(b.openAlerts()).toEqual([]);
    // The same action again (a restart re-reads the actions topic) changes nothing.
    expect(b.onAction(ack)).toEqual([]);
    // After a restart from the log, it stays closed.
    const c = createRulesEngine(rules({}, [{ id: 'hr-missing', type: 'missing', metric: 'hr', after: '2m', priority: 'low' }]));
    c.restore([...log, ...closed]);
    expect(c.openAlerts()).toEqual([]);
  });

  it('acknowledging an alert whose rule still exists does not close it', () => {
    const e = createRulesEngine(rules());
    const log = run(e, series(T0, 70, () => ({ spo2: 88 })));
    const id = log[0]?.alert.id as string;
    expect(e.onAction({ v: 1, action: 'ack', alertId: id, patientId: 'P1', userId: 'u', role: 'r', ts: T0 + 80 * S }).map((x) => x.event)).toEqual(['acknowledged']);
    expect(e.openAlerts().map((x) => x.state)).toEqual(['acknowledged']);
  });

  it('applies ward overrides, and switches rules when the patient moves ward', () => {
    const e = createRulesEngine(rules({ wards: { icu: { rules: { 'spo2-low': { condition: 'spo2 < 86', for: '10s' } } } } }));
    expect(run(e, series(T0, 30, () => ({ spo2: 88 }), { ward: 'icu' }))).toEqual([]);
    const ev = run(e, series(T0 + 30 * S, 20, () => ({ spo2: 85 }), { ward: 'icu' }));
    expect(ev.map(brief)).toEqual([['raised', 'spo2-low', 'medium', 40]]);
    expect(ev[0]?.alert.ward).toBe('icu');
  });

  it('disabling a rule for a ward stops new alerts but lets an open one resolve', () => {
    const e = createRulesEngine(rules({ wards: { w2: { rules: { 'spo2-low': { enabled: false } } } } }));
    run(e, series(T0, 61, () => ({ spo2: 88 })));
    expect(run(e, series(T0 + 61 * S, 120, () => ({ spo2: 88 }), { ward: 'w2' }))).toEqual([]);
    expect(run(e, series(T0 + 181 * S, 70, () => ({ spo2: 97 }), { ward: 'w2' })).map((x) => x.event)).toEqual(['resolved']);
  });

  it('keeps per-patient state bounded by time', () => {
    const e = createRulesEngine(rules());
    run(e, series(T0, 3600, (i) => ({ hr: 70 + (i % 10), spo2: 97 })));
    const after1h = e.stats().bytesEstimate;
    run(e, series(T0 + 3600 * S, 3600, (i) => ({ hr: 70 + (i % 10), spo2: 97 })));
    expect(e.stats().bytesEstimate).toBe(after1h);
    expect(after1h).toBeLessThan(32_000);
  });

  it('idle patients are evicted, but not while an alert of theirs is unresolved', () => {
    const e = createRulesEngine(rules(), { idleEvictMs: 60 * M });
    run(e, series(T0, 61, () => ({ spo2: 88 })));
    run(e, series(T0, 5, () => ({ spo2: 97 }), { patientId: 'P2' }));
    expect(e.stats().patients).toBe(2);
    e.onTick(T0 + 3 * 60 * M);
    expect(e.stats().patients).toBe(1);
    expect(e.openAlerts().map((a) => a.patientId)).toEqual(['P1']);
  });
});

describe('forgetPatient (a partition moved to another rules instance)', () => {
  it('forgets the patient silently: no events, no timers fire, and a restore on the new owner continues the alert', () => {
    const a = createRulesEngine(rules());
    const log = run(a, series(T0, 70, () => ({ spo2: 88 })));
    run(a, series(T0, 5, () => ({ hr: 70 }), { patientId: 'P2' }));
    a.onAction({ v: 1, action: 'chart', patientId: 'P1', spo2Scale: 2, orderedBy: 'dr', role: 'clinician', ts: T0, until: null });
    expect(a.openAlerts().map((x) => x.patientId)).toEqual(['P1']);
    a.forgetPatient('P1');
    expect(a.openAlerts()).toEqual([]);
    expect(a.stats().patients).toBe(1);
    // The escalation timer (5 min unacknowledged) and the missing-data timer would have fired for P1.
    expect(a.onTick(T0 + 30 * M).filter((x) => x.alert.patientId === 'P1')).toEqual([]);
    // An ack for the forgotten alert is not this instance's business any more.
    expect(a.onAction({ v: 1, action: 'ack', alertId: log[0]?.alert.id as string, patientId: 'P1', userId: 'u', role: 'r', ts: T0 + 80 * S })).toEqual([]);
    // The new owner restores the same alert and resolves it under the same ids.
    const b = createRulesEngine(rules());
    b.restore(log);
    const ev = run(b, series(T0 + 70 * S, 70, () => ({ spo2: 97 })));
    expect(ev.map((x) => x.eventId)).toEqual([`${log[0]?.alert.id}:resolved:2`]);
  });
});

describe('restart safety of acknowledgements', () => {
  it('a re-delivered ack does not re-acknowledge an alert escalated after it, before or after a restore', () => {
    const a = createRulesEngine(rules());
    const log = run(a, series(T0, 70, () => ({ spo2: 88 })));
    const act = { v: 1 as const, action: 'ack' as const, alertId: log[0]?.alert.id as string, patientId: 'P1', userId: 'u', role: 'r', ts: T0 + 70 * S };
    log.push(...a.onAction(act));
    log.push(...run(a, series(T0 + 70 * S, 30, () => ({ spo2: 80 }))));
    expect(log.map((x) => x.event)).toEqual(['raised', 'acknowledged', 'escalated']);
    expect(a.onAction(act)).toEqual([]);
    const b = createRulesEngine(rules());
    b.restore(log);
    expect(b.onAction(act)).toEqual([]);
    expect(b.openAlerts()[0]?.state).toBe('open');
    expect(b.onAction({ ...act, ts: T0 + 200 * S })).toHaveLength(1);
  });
});

describe('impossible values', () => {
  it('are ignored by every rule and by NEWS2, and counted', () => {
    const e = createRulesEngine(rules());
    const out = e.onSample(sample(T0, { spo2: 150, hr: Number.NaN, rr: 16, temp: 5 }, { battery: 7 }));
    expect(out.score).toMatchObject({ score: 0, missing: ['spo2', 'o2', 'sbp', 'hr', 'acvpu', 'temp'] });
    expect(e.stats().invalid).toBe(3);
  });
});

describe('event time', () => {
  it('a recording processed at once gives the same events as the same data in real time', () => {
    const input: CanonicalSample[] = [];
    for (let i = 0; i < 600; i += 5) {
      // hr stops between 200 s and 400 s; SpO2 dips between 100 s and 300 s.
      const m: CanonicalSample['metrics'] = { spo2: i >= 100 && i < 300 ? 86 : 97 };
      if (i < 200 || i >= 400) m.hr = 70;
      input.push(sample(T0 + i * S, m));
    }
    // Real time: the clock ticks every 250 ms and samples arrive as their time comes.
    const rt = createRulesEngine(rules());
    const realTime: AlertEvent[] = [];
    let next = 0;
    for (let now = T0; now <= T0 + 600 * S; now += 250) {
      realTime.push(...rt.onTick(now));
      while (next < input.length && (input[next] as CanonicalSample).ts <= now) realTime.push(...rt.onSample(input[next++] as CanonicalSample).alerts);
    }
    // Batch: ticks only at each sample's time, as replay does.
    const batch = run(createRulesEngine(rules()), input);
    const key = (e: AlertEvent) => `${e.ts}:${e.eventId}`;
    expect(batch.length).toBeGreaterThanOrEqual(4);
    expect(batch.map(key).sort()).toEqual(realTime.filter((e) => e.ts <= T0 + 595 * S).map(key).sort());
    expect(batch).toEqual(realTime.filter((e) => e.ts <= T0 + 595 * S));
  });

  it('a patient override expires in event time', () => {
    const e = createRulesEngine(rules({ patients: { P1: { scale: 2, until: T0 + 3_600_000 } } }));
    expect(e.onSample(sample(T0, { spo2: 97 }, { o2: true })).score?.scale).toBe(2);
    expect(e.onSample(sample(T0 + 3_600_000, { spo2: 96 }, { o2: true })).score?.scale).toBe(1);
  });
});
