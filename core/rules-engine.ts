/**
 * The rules engine: an event-time, per-patient state machine over canonical samples.
 * Pure and deterministic: time comes from the samples (event time) and from `onTick(now)`,
 * never from a clock, so replaying the same input gives the same alert events, and ten
 * minutes of samples processed in one second give the same result as in real time.
 *
 * Per sample the work is O(rules of the sample's metrics) with no array copies: trend
 * windows are ring buffers with running sums, timers live in one lazy min-heap.
 * Policies (late data, duplicates, live gating, ids, priorities) are recorded in
 * docs/decisions/0003-news2-and-alerting.md; the rule language in docs/rules.md.
 */
import {
  closeEpisode,
  emit,
  levelFor,
  newEpisode,
  RANK_PRIORITY,
  alertId as makeAlertId,
  step,
  type Episode,
  type EpisodeTiming,
  type Transition,
} from './alert-lifecycle.js';
import { PRIORITY_RANK, type Alert, type AlertEvent, type ClinicianAction } from './alerts-model.js';
import { isChartOrder } from './bus-messages.js';
import { METRIC_RANGES } from './payload.js';
import {
  CHART_DECIMALS,
  NEWS2_PARAMS,
  roundHalfUp,
  scoreAcvpu,
  scoreHr,
  scoreO2,
  scoreRr,
  scoreSbp,
  scoreSpo2,
  scoreTemp,
  scoreNews2,
  news2Risk,
  type News2Observations,
  type News2Param,
  type News2Result,
  type News2Risk,
} from './news2.js';
import { ruleMessage } from './rule-messages.js';
import { effectiveRules, ruleKind, type Condition, type News2Rule, type Rule, type RuleSet } from './rules-config.js';
import { TimerHeap } from './timer-heap.js';
import { ACVPU_VALUES, METRIC_NAMES, type Acvpu, type CanonicalSample } from './vitals.js';
import { MedianWindow, TrendWindow } from './windows.js';

export interface EngineOptions {
  /** Secret mixed into alert ids so they cannot be linked to a patient id by hashing guesses. */
  idSalt?: string;
  /** Forget a patient with no open alerts after this much event time without samples. Default 24 h; null = never. */
  idleEvictMs?: number | null;
}

export interface SampleContext {
  /** False for samples older than the caller's live window: scored, state advanced, no alert events. */
  live: boolean;
}

/** A NEWS2 result for the `news2.scores` topic. */
export interface ScoreOutput extends News2Result {
  patientId: string;
  ward: string;
  /** Event time the score is valid at. */
  ts: number;
  /** Parameters left out because their last value is older than news2.maxAge. */
  stale: News2Param[];
  /**
   * Event time of the sample each scored value came from: with `raw`, what this score used
   * (FHIR derivedFrom). Absent on scores written before it existed.
   */
  inputTs?: Partial<Record<News2Param, number>>;
}

export interface EngineOutput {
  alerts: readonly AlertEvent[];
  /** Present when the sample changed the NEWS2 result, or scoreInterval passed since the last one. */
  score?: ScoreOutput;
}

export interface EngineStats {
  patients: number;
  /** Rough size of per-patient state in bytes (state is bounded by window lengths). */
  bytesEstimate: number;
  openAlerts: number;
  samples: number;
  duplicates: number;
  /** Per-metric values older than the newest of that metric (beyond lateness for trends). */
  late: number;
  lowQuality: number;
  /** Values outside the possible range (or not finite): ignored by every rule and by NEWS2. */
  invalid: number;
  unassigned: number;
  timers: number;
}

export interface RulesEngine {
  readonly ruleSet: RuleSet;
  /** Process one sample. */
  onSample(s: CanonicalSample, ctx?: SampleContext): EngineOutput;
  /** Apply a clinician action; an ack of an open alert yields one 'acknowledged' event. */
  onAction(a: ClinicianAction): AlertEvent[];
  /** Fire due timers (missing data, unacknowledged escalation, idle eviction) up to `now`. */
  onTick(now: number): AlertEvent[];
  /** Rebuild open alerts from the alert log (in log order) without emitting anything. */
  restore(events: readonly AlertEvent[]): void;
  /** Snapshots of every open or acknowledged alert. */
  openAlerts(): Alert[];
  /**
   * Forget a patient without a word: another rules instance owns them now (their partition moved,
   * docs/decisions/0018). Their alerts stay open in the log; the new owner restores them.
   */
  forgetPatient(patientId: string): void;
  stats(): EngineStats;
}

// ------------------------------------------------------------------ compiled rules

const UNKNOWN_WARD = 'unassigned';
const METRIC_COUNT = METRIC_NAMES.length;
/** METRIC_NAMES index → NEWS2_PARAMS index (dbp is not a NEWS2 parameter). */
const METRIC_TO_N2: readonly number[] = METRIC_NAMES.map((m) => (NEWS2_PARAMS as readonly string[]).indexOf(m));
const N2 = { rr: 0, spo2: 1, o2: 2, sbp: 3, hr: 4, acvpu: 5, temp: 6 } as const;
/** Measured spot observations (a cuff reading, a temperature): one reading stands until the next. */
const SPOT_MASK = (1 << N2.sbp) | (1 << N2.temp);
const EMPTY: readonly AlertEvent[] = Object.freeze([]);
/** Possible range per metric index (ingest's table): anything outside is a device error, not a patient state. */
const RANGE_MIN: readonly number[] = METRIC_NAMES.map((m) => METRIC_RANGES[m][0]);
const RANGE_MAX: readonly number[] = METRIC_NAMES.map((m) => METRIC_RANGES[m][1]);

interface Compiled {
  rules: readonly Rule[];
  scale: 1 | 2;
  validUntil: number;
  timing: EpisodeTiming[];
  /** Threshold and rate rule indices per metric index. */
  byMetric: number[][];
  missingByMetric: number[][];
  news2: number;
  battery: number[];
  /** Shock-index rule indices. */
  shock: number[];
  metricIndex: number[];
}

interface PatientState {
  id: string;
  ward: string | null;
  compiled: Compiled;
  eps: Episode[];
  windows: (TrendWindow | undefined)[];
  /** Per metric: newest time seen (order, duplicates) and newest good-quality time. */
  lastTs: Float64Array;
  lastGood: Float64Array;
  /** Latest NEWS2 parameter values and times, NEWS2_PARAMS order (o2 as 0/1, acvpu as index). */
  n2v: Float64Array;
  n2t: Float64Array;
  /** Recent good readings per numeric NEWS2 parameter when news2.summary is set (created on first use). */
  n2w: (MedianWindow | undefined)[];
  /** Components of the last evaluation and which parameters were missing or stale (bit k). */
  n2c: Int8Array;
  n2missing: number;
  /** Per spot parameter (SBP, temperature): the component of the reading before the current one, -1 when none fresh. */
  n2prev: Int8Array;
  /** Per spot parameter: the value of the reading before the current one (NaN when none fresh). */
  n2prevV: Float64Array;
  /** NEWS2 alert level of the last evaluation (0: not in an alerting band). */
  n2level: number;
  /** Recent cuff systolic readings as [ts, value, ts, value, ...] (shock-index rules only). */
  sbpHist: number[];
  batteryTs: number;
  maxTs: number;
  lastScore: ScoreOutput | null;
  dropped: boolean;
}

type Timer =
  | { kind: 'missing'; ps: PatientState; ri: number }
  | { kind: 'unacked'; ps: PatientState; ri: number; alertId: string }
  | { kind: 'idle'; ps: PatientState };

/** One NEWS2 component from a raw value, rounded to chart resolution first [NEWS2 chart 1]. */
function component(k: number, v: number, scale: 1 | 2, onO2: boolean): number {
  switch (k) {
    case N2.rr: return scoreRr(roundHalfUp(v, CHART_DECIMALS.rr));
    case N2.spo2: return scoreSpo2(roundHalfUp(v, CHART_DECIMALS.spo2), scale, onO2);
    case N2.o2: return scoreO2(v === 1);
    case N2.sbp: return scoreSbp(roundHalfUp(v, CHART_DECIMALS.sbp));
    case N2.hr: return scoreHr(roundHalfUp(v, CHART_DECIMALS.hr));
    case N2.acvpu: return scoreAcvpu(ACVPU_VALUES[v] as Acvpu);
    default: return scoreTemp(roundHalfUp(v, CHART_DECIMALS.temp));
  }
}

/**
 * A fall in systolic pressure of 20 mmHg or more since the previous reading is a change, not a
 * reading to repeat: the consensus threshold of a clinically significant fall (orthostatic hypotension).
 */
const SBP_FALL = 20;

/** A spot reading of this evaluation (bit k of `fresh`) scores in the NEWS2 components. */
function spotScores(fresh: number, comps: Int8Array): boolean {
  return (((fresh >> N2.sbp) & 1) === 1 && (comps[N2.sbp] as number) > 0) || (((fresh >> N2.temp) & 1) === 1 && (comps[N2.temp] as number) > 0);
}

function rank(p: Rule['priority']): number {
  return PRIORITY_RANK[p];
}

function metricIdx(m: string): number {
  return (METRIC_NAMES as readonly string[]).indexOf(m);
}

function compile(ruleSet: RuleSet, ward: string | null, patientId: string, ts: number): Compiled {
  const eff = effectiveRules(ruleSet, ward, patientId, ts);
  const byMetric: number[][] = Array.from({ length: METRIC_COUNT }, () => []);
  const missingByMetric: number[][] = Array.from({ length: METRIC_COUNT }, () => []);
  const battery: number[] = [];
  const shock: number[] = [];
  const metricIndex: number[] = [];
  let news2 = -1;
  const maxGapMs = ruleSet.defaults.maxGapMs;
  const timing = eff.rules.map((r, i): EpisodeTiming => {
    const t: EpisodeTiming = { forMs: r.forMs, clearForMs: r.clearForMs, escalateForMs: r.forMs, baseLevel: 1, maxGapMs, raiseAtEvidence: false };
    switch (r.type) {
      case 'threshold':
        metricIndex[i] = metricIdx(r.condition.metric);
        byMetric[metricIndex[i]]?.push(i);
        t.baseLevel = rank(r.priority);
        t.escalateForMs = r.escalate ? r.escalate.forMs : 0;
        if (r.maxGapMs !== null) t.maxGapMs = r.maxGapMs;
        break;
      case 'rate':
        metricIndex[i] = metricIdx(r.metric);
        byMetric[metricIndex[i]]?.push(i);
        t.baseLevel = rank(r.priority);
        break;
      case 'missing':
        metricIndex[i] = metricIdx(r.metric);
        missingByMetric[metricIndex[i]]?.push(i);
        // The outage is the evidence: no gap restarts the clearing timer's data.
        t.maxGapMs = Infinity;
        break;
      case 'news2':
        metricIndex[i] = -1;
        news2 = i;
        t.baseLevel = Math.min(...Object.values(r.bands).map((p) => rank(p)));
        // Raised at the priority of the band the score is in, so message and priority agree.
        t.raiseAtEvidence = true;
        // NEWS2 is re-evaluated whenever any parameter arrives; its inputs have their own max ages.
        t.maxGapMs = Infinity;
        break;
      case 'shock-index':
        metricIndex[i] = -1;
        shock.push(i);
        t.baseLevel = rank(r.priority);
        break;
      case 'battery':
        metricIndex[i] = -1;
        battery.push(i);
        t.baseLevel = rank(r.priority);
        t.maxGapMs = Infinity;
        break;
    }
    return t;
  });
  return { rules: eff.rules, scale: eff.scale, validUntil: eff.validUntil, timing, byMetric, missingByMetric, news2, battery, shock, metricIndex };
}

function breach(v: number, c: Condition): boolean {
  switch (c.op) {
    case '<':
      return v < c.value;
    case '<=':
      return v <= c.value;
    case '>':
      return v > c.value;
    case '>=':
      return v >= c.value;
  }
}

/** On the normal side of the threshold by at least the hysteresis. */
function clearedBy(v: number, c: Condition, h: number): boolean {
  switch (c.op) {
    case '<':
      return v >= c.value + h;
    case '<=':
      return v > c.value + h;
    case '>':
      return v <= c.value - h;
    case '>=':
      return v < c.value - h;
  }
}

/**
 * The risk an alert at `lvl` describes: `risk` itself when its band maps to `lvl`, else the highest
 * lower risk that does (an alert whose escalation is still pending keeps its band's text).
 */
function news2RiskAt(lvl: number, risk: News2Risk, rule: News2Rule): News2Risk {
  const order: News2Risk[] = ['low-medium', 'medium', 'high'];
  for (let i = order.indexOf(risk); i >= 0; i--) {
    const r = order[i] as News2Risk;
    if (news2Level(r, rule) <= lvl) return r;
  }
  return risk;
}

/** NEWS2 risk → alert level via the rule's bands; a risk above the highest band uses the highest. */
function news2Level(risk: News2Risk, rule: News2Rule): number {
  const order: News2Risk[] = ['low-medium', 'medium', 'high'];
  for (let i = order.indexOf(risk); i >= 0; i--) {
    const p = rule.bands[order[i] as 'low-medium' | 'medium' | 'high'];
    if (p !== undefined) return rank(p);
  }
  return 0;
}

// ------------------------------------------------------------------ engine

/**
 * Create a rules engine for a validated rule set.
 * @param ruleSet - from parseRuleSet
 * @param opts - id salt and idle eviction
 */
export function createRulesEngine(ruleSet: RuleSet, opts: EngineOptions = {}): RulesEngine {
  const salt = opts.idSalt ?? '';
  const idleMs = opts.idleEvictMs === undefined ? 86_400_000 : opts.idleEvictMs;
  const { minQuality, latenessMs, maxEscalations } = ruleSet.defaults;
  const maxAge = NEWS2_PARAMS.map((p) => ruleSet.news2.maxAgeMs[p]);
  const scoreIntervalMs = ruleSet.news2.scoreIntervalMs;
  const summaryMs = ruleSet.news2.summaryMs;
  const { spotHeld, lowMediumDefers } = ruleSet.news2;
  // A spot red is confirmed by the next reading while the aggregate is below this (lone: 3 alone).
  const confirmBelow = ruleSet.news2.confirmSpotRed === 'below-medium' ? 5 : ruleSet.news2.confirmSpotRed === 'lone' ? 4 : 0;

  const patients = new Map<string, PatientState>();
  const alertIndex = new Map<string, { ps: PatientState; ri: number }>();
  const orphans = new Map<string, Episode>();
  const timers = new TimerHeap<Timer>();
  const wardCache = new Map<string | null, Compiled>();
  const counters = { samples: 0, duplicates: 0, late: 0, lowQuality: 0, invalid: 0, unassigned: 0 };
  /** Events of the sample being processed; handed out with splice so it is reused. */
  const pending: AlertEvent[] = [];

  function compiledFor(ward: string | null, patientId: string, ts: number): Compiled {
    if (Object.prototype.hasOwnProperty.call(ruleSet.patients, patientId)) return compile(ruleSet, ward, patientId, ts);
    let c = wardCache.get(ward);
    if (!c) {
      c = compile(ruleSet, ward, patientId, ts);
      wardCache.set(ward, c);
    }
    return c;
  }

  function getPatient(id: string, ward: string | null, ts: number): PatientState {
    let ps = patients.get(id);
    if (ps) {
      if (ward !== ps.ward || ts >= ps.compiled.validUntil) {
        ps.ward = ward;
        ps.compiled = compiledFor(ward, id, ts);
      }
      return ps;
    }
    const compiled = compiledFor(ward, id, ts);
    ps = {
      id,
      ward,
      compiled,
      eps: compiled.rules.map(() => newEpisode()),
      windows: compiled.rules.map(() => undefined),
      lastTs: new Float64Array(METRIC_COUNT).fill(-Infinity),
      lastGood: new Float64Array(METRIC_COUNT).fill(-Infinity),
      n2v: new Float64Array(NEWS2_PARAMS.length),
      n2t: new Float64Array(NEWS2_PARAMS.length).fill(-Infinity),
      n2w: NEWS2_PARAMS.map(() => undefined),
      n2c: new Int8Array(NEWS2_PARAMS.length),
      n2missing: -1,
      n2prev: new Int8Array(NEWS2_PARAMS.length).fill(-1),
      n2prevV: new Float64Array(NEWS2_PARAMS.length).fill(Number.NaN),
      n2level: 0,
      sbpHist: [],
      batteryTs: -Infinity,
      maxTs: -Infinity,
      lastScore: null,
      dropped: false,
    };
    patients.set(id, ps);
    if (idleMs !== null && Number.isFinite(ts)) timers.push(ts + idleMs, { kind: 'idle', ps });
    return ps;
  }

  /** The lone red at parameter k is a systolic pressure that fell by SBP_FALL or more since the previous reading. */
  function sbpFell(ps: PatientState, k: number): boolean {
    return k === N2.sbp && (ps.n2prevV[k] as number) - (ps.n2v[k] as number) >= SBP_FALL;
  }

  /** A threshold rule on NEWS2 parameter k's metric has an alert open for this patient. */
  function singleOpen(ps: PatientState, k: number): boolean {
    const mi = METRIC_TO_N2.indexOf(k);
    if (mi < 0) return false;
    for (const ri of ps.compiled.byMetric[mi] as number[]) {
      if ((ps.compiled.rules[ri] as Rule).type === 'threshold' && (ps.eps[ri] as Episode).alert !== null) return true;
    }
    return false;
  }

  /** The value NEWS2 scores for a parameter: the median of its good readings of the last news2.summary. */
  function summarise(ps: PatientState, k: number, ts: number, v: number): number {
    let w = ps.n2w[k];
    if (w === undefined) ps.n2w[k] = w = new MedianWindow(summaryMs);
    w.add(ts, v);
    return w.median();
  }

  // ---------------------------------------------------------------- transitions

  function raise(ps: PatientState, ri: number, ts: number, level: number, value: number | null, message: string, traceId?: string): AlertEvent {
    const rule = ps.compiled.rules[ri] as Rule;
    const ep = ps.eps[ri] as Episode;
    const id = makeAlertId(ps.id, rule.id, ts, salt);
    ep.alert = {
      id,
      patientId: ps.id,
      ward: ps.ward ?? UNKNOWN_WARD,
      ruleId: rule.id,
      kind: ruleKind(rule),
      priority: RANK_PRIORITY[level] ?? 'high',
      state: 'open',
      openedAt: ts,
      message,
      value,
      ackBy: null,
      ackAt: null,
      resolvedAt: null,
    };
    ep.events = 0;
    ep.pendingSince = Number.NaN;
    ep.timerEscalations = 0;
    ep.unackedSince = ts;
    alertIndex.set(id, { ps, ri });
    armUnacked(ps, ri);
    return emit(ep, 'raised', ts, traceId);
  }

  function escalate(ps: PatientState, ri: number, ts: number, level: number, value: number | null, message: string | null, traceId?: string): AlertEvent {
    const ep = ps.eps[ri] as Episode;
    const a = ep.alert as Alert;
    a.priority = RANK_PRIORITY[Math.min(3, level)] ?? 'high';
    a.ward = ps.ward ?? UNKNOWN_WARD;
    if (value !== null) a.value = value;
    if (message !== null) a.message = message;
    if (a.state === 'acknowledged') {
      // A worse condition re-alarms: the earlier acknowledgement was for a lesser alarm.
      a.state = 'open';
      a.ackBy = null;
      a.ackAt = null;
    }
    ep.unackedSince = ts;
    armUnacked(ps, ri);
    return emit(ep, 'escalated', ts, traceId);
  }

  function resolve(ps: PatientState, ri: number, ts: number, value: number | null, traceId?: string): AlertEvent {
    const ep = ps.eps[ri] as Episode;
    const a = ep.alert as Alert;
    a.state = 'resolved';
    a.resolvedAt = ts;
    a.ward = ps.ward ?? UNKNOWN_WARD;
    if (value !== null) a.value = value;
    const e = emit(ep, 'resolved', ts, traceId);
    alertIndex.delete(a.id);
    closeEpisode(ep);
    return e;
  }

  function armUnacked(ps: PatientState, ri: number): void {
    const rule = ps.compiled.rules[ri] as Rule;
    const ep = ps.eps[ri] as Episode;
    if (rule.escalateAfterMs === null || ep.alert === null || ep.timerEscalations >= maxEscalations) return;
    timers.push(ep.unackedSince + rule.escalateAfterMs, { kind: 'unacked', ps, ri, alertId: ep.alert.id });
  }

  /** Apply a transition from `step`; returns the event or null. */
  function apply(
    ps: PatientState,
    ri: number,
    tr: Transition,
    ts: number,
    level: number,
    value: number | null,
    msg: (lvl: number) => string,
    traceId: string,
  ): AlertEvent | null {
    if (tr === 0) return null;
    const ep = ps.eps[ri] as Episode;
    const tm = ps.compiled.timing[ri] as EpisodeTiming;
    if (tr === 'resolve') return resolve(ps, ri, ts, value, traceId);
    const lvl = levelFor(ep, ts, level, tm);
    if (tr === 'raise') return raise(ps, ri, ts, lvl, value, msg(lvl), traceId);
    if (ep.alert !== null && lvl <= PRIORITY_RANK[ep.alert.priority]) return null;
    return escalate(ps, ri, ts, lvl, value, msg(lvl), traceId);
  }

  // ---------------------------------------------------------------- per-rule evaluation

  function evalThreshold(ps: PatientState, ri: number, ts: number, v: number, live: boolean, traceId: string): AlertEvent | null {
    const rule = ps.compiled.rules[ri] as Rule & { type: 'threshold' };
    const ep = ps.eps[ri] as Episode;
    if (!rule.enabled && ep.alert === null) return null;
    const base = breach(v, rule.condition);
    const worse = rule.escalate !== null && breach(v, rule.escalate.condition);
    const level = !rule.enabled ? 0 : worse ? rank((rule.escalate as NonNullable<typeof rule.escalate>).priority) : base ? rank(rule.priority) : 0;
    const cleared = !base && clearedBy(v, rule.condition, rule.hysteresis);
    const tr = step(ep, ts, level, cleared, ps.compiled.timing[ri] as EpisodeTiming, live);
    return apply(ps, ri, tr, ts, level, v, (lvl) => ruleMessage(rule, lvl > rank(rule.priority)), traceId);
  }

  function evalRate(ps: PatientState, ri: number, ts: number, v: number, live: boolean, traceId: string): AlertEvent | null {
    const rule = ps.compiled.rules[ri] as Rule & { type: 'rate' };
    const ep = ps.eps[ri] as Episode;
    let w = ps.windows[ri];
    if (!w || w.windowMs !== rule.windowMs) ps.windows[ri] = w = new TrendWindow(rule.windowMs);
    w.add(ts, v);
    if (!rule.enabled && ep.alert === null) return null;
    const f = w.fit();
    let level = 0;
    let cleared = false;
    let change: number | null = null;
    if (f.n >= rule.minSamples && f.spanMs >= rule.minSpanMs && !Number.isNaN(f.slopePerMin)) {
      // Fitted change over the data actually in the window (slope × span), signed like rule.change.
      change = Math.round(f.slopePerMin * (f.spanMs / 60_000) * 10) / 10;
      const dir = rule.change > 0 ? change : -change;
      const need = Math.abs(rule.change);
      if (rule.enabled && dir >= need) level = rank(rule.priority);
      else cleared = dir < need - rule.hysteresis;
    }
    const tr = step(ep, ts, level, cleared, ps.compiled.timing[ri] as EpisodeTiming, live);
    return apply(ps, ri, tr, ts, level, change, () => ruleMessage(rule, false), traceId);
  }

  function evalMissingOnData(ps: PatientState, ri: number, ts: number, live: boolean, traceId: string): AlertEvent | null {
    const rule = ps.compiled.rules[ri] as Rule & { type: 'missing' };
    const ep = ps.eps[ri] as Episode;
    let e: AlertEvent | null = null;
    if (ep.alert !== null) {
      const tr = step(ep, ts, 0, true, ps.compiled.timing[ri] as EpisodeTiming, live);
      e = apply(ps, ri, tr, ts, 0, null, () => '', traceId);
    }
    if (ep.alert === null && !ep.armed && rule.enabled) {
      ep.armed = true;
      timers.push(ts + rule.afterMs, { kind: 'missing', ps, ri });
    }
    return e;
  }

  function evalBattery(ps: PatientState, ri: number, ts: number, b: number, live: boolean, traceId: string): AlertEvent | null {
    const rule = ps.compiled.rules[ri] as Rule & { type: 'battery' };
    const ep = ps.eps[ri] as Episode;
    if (!rule.enabled && ep.alert === null) return null;
    const level = rule.enabled && b < rule.below ? rank(rule.priority) : 0;
    const tr = step(ep, ts, level, b >= rule.clearAbove, ps.compiled.timing[ri] as EpisodeTiming, live);
    return apply(ps, ri, tr, ts, level, b, () => ruleMessage(rule, false), traceId);
  }

  /**
   * Shock index (HR / SBP) with the systolic fall over the rule's window. Evaluated on every HR or
   * cuff reading; the heart rate is NEWS2's (the minute's median with news2.summary).
   */
  function evalShock(ps: PatientState, ri: number, now: number, live: boolean, traceId: string): AlertEvent | null {
    const rule = ps.compiled.rules[ri] as Rule & { type: 'shock-index' };
    const ep = ps.eps[ri] as Episode;
    if (!rule.enabled && ep.alert === null) return null;
    const h = ps.sbpHist;
    const n = h.length;
    const hrTs = ps.n2t[N2.hr] as number;
    const sbpTs = n >= 2 ? (h[n - 2] as number) : -Infinity;
    let level = 0;
    let cleared = ep.alert === null;
    let si: number | null = null;
    if (now - sbpTs <= rule.sbpMaxAgeMs && now - hrTs <= (maxAge[N2.hr] as number)) {
      const sbp = h[n - 1] as number;
      si = Math.round(((ps.n2v[N2.hr] as number) / sbp) * 100) / 100;
      let peak = sbp;
      for (let i = 0; i < n; i += 2) if ((h[i] as number) >= sbpTs - rule.windowMs) peak = Math.max(peak, h[i + 1] as number);
      const fell = peak - sbp >= rule.fall;
      // The fall is needed to raise; once raised, the index alone keeps the alert open.
      if (rule.enabled && si >= rule.above && (fell || ep.alert !== null)) level = rank(rule.priority);
      cleared = si < rule.above - rule.hysteresis || (ep.alert === null && !fell);
    }
    const tr = step(ep, now, level, cleared, ps.compiled.timing[ri] as EpisodeTiming, live);
    return apply(ps, ri, tr, now, level, si, () => ruleMessage(rule, false), traceId);
  }

  /**
   * Score NEWS2 at `now` from the freshest values, feed the news2 rule, decide on score output.
   * The hot path scores components with the chart band functions directly (no objects);
   * the full News2Result is built with scoreNews2 only when a score is published.
   */
  function evalNews2(ps: PatientState, now: number, live: boolean, traceId: string, spotNew: number): ScoreOutput | undefined {
    const { n2v, n2t, n2c } = ps;
    const scale = scaleFor(ps, now);
    let missing = 0;
    for (let k = 0; k < 7; k++) {
      const t = n2t[k] as number;
      if (t === -Infinity || now - t > (maxAge[k] as number)) missing |= 1 << k;
    }
    const onO2 = (missing & (1 << N2.o2)) === 0 && n2v[N2.o2] === 1;
    let score = 0;
    let red = false;
    let redAt = -1;
    let changed = missing !== ps.n2missing;
    for (let k = 0; k < 7; k++) {
      const c = (missing & (1 << k)) !== 0 ? 0 : component(k, n2v[k] as number, scale, onO2);
      if (c !== n2c[k]) {
        changed = true;
        n2c[k] = c;
      }
      score += c;
      if (c === 3) {
        red = true;
        redAt = k;
      }
    }
    ps.n2missing = missing;
    // A red from one spot reading (alone, or with an aggregate below 5 as configured) waits for the
    // next reading of that parameter to confirm it; the published score is unchanged, only the alert waits.
    if (score < confirmBelow && red && ((SPOT_MASK >> redAt) & 1) === 1 && ps.n2prev[redAt] !== 3 && !sbpFell(ps, redAt)) red = false;
    // The same band function as the published score; only an unconfirmed spot red differs.
    const risk = news2Risk(score, red);
    const ri = ps.compiled.news2;
    if (ri >= 0) {
      const rule = ps.compiled.rules[ri] as News2Rule;
      const ep = ps.eps[ri] as Episode;
      if (rule.enabled || ep.alert !== null) {
        let level = rule.enabled ? news2Level(risk, rule) : 0;
        // One finding, one alert: a lone red whose own threshold rule is already open adds nothing.
        if (lowMediumDefers && risk === 'low-medium' && ep.alert === null && singleOpen(ps, redAt)) level = 0;
        const tm = ps.compiled.timing[ri] as EpisodeTiming;
        // A spot reading that takes the score into an alerting band stands until the next reading:
        // the band counts as held from it, so `for` does not add a wait that no new data can end.
        if (spotHeld && level > 0 && ps.n2level === 0 && ep.alert === null && spotScores(spotNew, n2c)) {
          ep.pendingSince = Math.min(Number.isNaN(ep.pendingSince) ? Infinity : ep.pendingSince, now - tm.forMs);
        }
        ps.n2level = level;
        const tr = step(ep, now, level, level === 0, tm, live);
        const e = apply(ps, ri, tr, now, level, score, (lvl) => ruleMessage(rule, false, news2RiskAt(lvl, risk, rule)), traceId);
        if (e) pending.push(e);
      }
    }
    const last = ps.lastScore;
    if (!changed && last !== null && now - last.ts < scoreIntervalMs) return undefined;
    const obs: News2Observations = { scale };
    const stale: News2Param[] = [];
    const inputTs: Partial<Record<News2Param, number>> = {};
    for (let k = 0; k < 7; k++) {
      if ((missing & (1 << k)) !== 0) {
        if ((n2t[k] as number) !== -Infinity) stale.push(NEWS2_PARAMS[k] as News2Param);
        continue;
      }
      inputTs[NEWS2_PARAMS[k] as News2Param] = n2t[k] as number;
      const v = n2v[k] as number;
      switch (k) {
        case N2.rr: obs.rr = v; break;
        case N2.spo2: obs.spo2 = v; break;
        case N2.o2: obs.o2 = v === 1; break;
        case N2.sbp: obs.sbp = v; break;
        case N2.hr: obs.hr = v; break;
        case N2.acvpu: obs.acvpu = ACVPU_VALUES[v] as Acvpu; break;
        case N2.temp: obs.temp = v; break;
      }
    }
    const s: ScoreOutput = { ...scoreNews2(obs), stale, inputTs, patientId: ps.id, ward: ps.ward ?? UNKNOWN_WARD, ts: now };
    ps.lastScore = s;
    return s;
  }

  // ---------------------------------------------------------------- API

  function onSample(s: CanonicalSample, ctx: SampleContext = { live: true }): EngineOutput {
    counters.samples++;
    const pid = s.patientId;
    if (pid === null) {
      counters.unassigned++;
      return { alerts: EMPTY };
    }
    const ts = s.ts;
    const live = ctx.live;
    const ps = getPatient(pid, s.ward, ts);
    const c = ps.compiled;
    let n2changed = false;
    let spotNew = 0;
    let fresh = false;
    const metrics = s.metrics;
    const quality = s.quality;
    const traceId = s.traceId;

    for (let mi = 0; mi < METRIC_COUNT; mi++) {
      const m = METRIC_NAMES[mi] as (typeof METRIC_NAMES)[number];
      const v = metrics[m];
      if (v === undefined) continue;
      // Ingest rejects these already; this guards other producers (replays, manual tools).
      if (!(v >= (RANGE_MIN[mi] as number) && v <= (RANGE_MAX[mi] as number))) {
        counters.invalid++;
        continue;
      }
      const prev = ps.lastTs[mi] as number;
      const good = quality === undefined || (quality[m] ?? 1) >= minQuality;
      if (ts <= prev) {
        if (ts === prev) {
          counters.duplicates++;
          continue;
        }
        // Late for this metric: state machines never run backwards; trend windows take it
        // when it is within the allowed lateness.
        counters.late++;
        if (good && ts >= prev - latenessMs) {
          for (const ri of c.byMetric[mi] as number[]) {
            if ((c.rules[ri] as Rule).type === 'rate') ps.windows[ri]?.add(ts, v);
          }
        }
        continue;
      }
      ps.lastTs[mi] = ts;
      fresh = true;
      if (!good) {
        counters.lowQuality++;
        continue;
      }
      ps.lastGood[mi] = ts;
      for (const ri of c.missingByMetric[mi] as number[]) {
        const e = evalMissingOnData(ps, ri, ts, live, traceId);
        if (e) pending.push(e);
      }
      for (const ri of c.byMetric[mi] as number[]) {
        const rule = c.rules[ri] as Rule;
        const e = rule.type === 'threshold' ? evalThreshold(ps, ri, ts, v, live, traceId) : evalRate(ps, ri, ts, v, live, traceId);
        if (e) pending.push(e);
      }
      const k = METRIC_TO_N2[mi] as number;
      if (k >= 0 && ts > (ps.n2t[k] as number)) {
        if (((SPOT_MASK >> k) & 1) === 1) {
          // Remember how the reading before this one scored (confirmation of a lone spot red).
          const pt = ps.n2t[k] as number;
          const fresh = pt !== -Infinity && ts - pt <= (maxAge[k] as number);
          ps.n2prev[k] = fresh ? component(k, ps.n2v[k] as number, 1, false) : -1;
          ps.n2prevV[k] = fresh ? (ps.n2v[k] as number) : Number.NaN;
          spotNew |= 1 << k;
        }
        ps.n2t[k] = ts;
        ps.n2v[k] = summaryMs > 0 ? summarise(ps, k, ts, v) : v;
        n2changed = true;
      }
    }
    if (s.o2 !== undefined && ts > (ps.n2t[N2.o2] as number)) {
      ps.n2t[N2.o2] = ts;
      ps.n2v[N2.o2] = s.o2 ? 1 : 0;
      n2changed = true;
    }
    if (s.acvpu !== undefined && ts > (ps.n2t[N2.acvpu] as number)) {
      const ai = ACVPU_VALUES.indexOf(s.acvpu);
      if (ai >= 0) {
        ps.n2t[N2.acvpu] = ts;
        ps.n2v[N2.acvpu] = ai;
        n2changed = true;
      }
    }
    if (s.battery !== undefined && s.battery >= 0 && s.battery <= 1 && ts > ps.batteryTs) {
      ps.batteryTs = ts;
      fresh = true;
      for (const ri of c.battery) {
        const e = evalBattery(ps, ri, ts, s.battery, live, traceId);
        if (e) pending.push(e);
      }
    }
    if (n2changed) fresh = true;
    if (fresh && ts > ps.maxTs) ps.maxTs = ts;
    if (c.shock.length > 0 && ((spotNew >> N2.sbp) & 1) === 1) {
      // Keep the cuff readings of the longest shock-index window.
      const h = ps.sbpHist;
      let keep = 0;
      for (const ri of c.shock) keep = Math.max(keep, (c.rules[ri] as Rule & { type: 'shock-index' }).windowMs);
      h.push(ts, metrics.sbp as number);
      while (h.length > 2 && (h[0] as number) < ts - keep) h.splice(0, 2);
    }
    if (c.shock.length > 0 && ps.sbpHist.length > 0 && (metrics.hr !== undefined || ((spotNew >> N2.sbp) & 1) === 1)) {
      for (const ri of c.shock) {
        const e = evalShock(ps, ri, Math.max(ts, ps.maxTs), live, traceId);
        if (e) pending.push(e);
      }
    }
    let score: ScoreOutput | undefined;
    if (n2changed) score = evalNews2(ps, Math.max(ts, ps.maxTs), live, traceId, spotNew);
    const alerts = pending.length === 0 ? EMPTY : pending.splice(0);
    return score === undefined ? { alerts } : { alerts, score };
  }

  /** Live SpO2-scale orders by patient; they win over the rules file's patient overrides (newer). */
  const chartOrders = new Map<string, { scale: 1 | 2; from: number; until: number | null }>();
  const scaleFor = (ps: PatientState, now: number): 1 | 2 => {
    const o = chartOrders.get(ps.id);
    return o && now >= o.from && (o.until === null || now < o.until) ? o.scale : ps.compiled.scale;
  };

  function onAction(a: ClinicianAction): AlertEvent[] {
    if (a.action === 'chart') {
      if (isChartOrder(a)) {
        const cur = chartOrders.get(a.patientId);
        // Replays deliver orders again, possibly out of order: the latest order wins.
        if (!cur || a.ts >= cur.from) chartOrders.set(a.patientId, { scale: a.spo2Scale, from: a.ts, until: typeof a.until === 'number' ? a.until : null });
      }
      return [];
    }
    if (a.action !== 'ack') return [];
    const ref = alertIndex.get(a.alertId);
    const ep = ref ? (ref.ps.eps[ref.ri] as Episode) : orphans.get(a.alertId);
    const alert = ep?.alert;
    if (!ep || !alert || alert.patientId !== a.patientId || alert.state !== 'open') return [];
    // Acks carry the gateway's wall-clock time; never place one before the alert opened.
    const ts = Math.max(a.ts, alert.openedAt);
    // The same action delivered again (a restart re-reads the actions topic) must not
    // re-acknowledge an alert that was escalated after that acknowledgement.
    const key = `${a.userId}|${ts}`;
    if (ep.acks.includes(key)) return [];
    ep.acks.push(key);
    alert.state = 'acknowledged';
    alert.ackBy = a.userId;
    alert.ackAt = ts;
    return [emit(ep, 'acknowledged', ts)];
  }

  function onTick(now: number): AlertEvent[] {
    const out: AlertEvent[] = [];
    for (let t = timers.popDue(now); t !== undefined; t = timers.popDue(now)) {
      const x = t.value;
      const ps = x.ps;
      if (ps.dropped) continue;
      if (x.kind === 'idle') {
        const due = ps.maxTs + (idleMs ?? Infinity);
        if (due > now) timers.push(due, x);
        else if (ps.eps.some((e) => e.alert !== null)) timers.push(now + (idleMs ?? 0), x);
        else {
          ps.dropped = true;
          patients.delete(ps.id);
        }
        continue;
      }
      const ep = ps.eps[x.ri] as Episode;
      const rule = ps.compiled.rules[x.ri] as Rule;
      if (x.kind === 'missing') {
        ep.armed = false;
        if (rule.type !== 'missing' || !rule.enabled || ep.alert !== null) continue;
        const due = (ps.lastGood[ps.compiled.metricIndex[x.ri] as number] as number) + rule.afterMs;
        if (due > now) {
          ep.armed = true;
          timers.push(due, x);
          continue;
        }
        // Stamped at the moment data became overdue, not at tick time: tick cadence
        // does not change the event, so replays agree with live runs.
        out.push(raise(ps, x.ri, due, rank(rule.priority), null, ruleMessage(rule, false)));
        ep.lastEvidenceTs = due;
        continue;
      }
      // Unacknowledged escalation: valid only for the same alert, still unacknowledged,
      // and for the deadline that is current (older entries were superseded).
      const a = ep.alert;
      if (!a || a.id !== x.alertId || a.state !== 'open' || rule.escalateAfterMs === null) continue;
      if (t.due !== ep.unackedSince + rule.escalateAfterMs || ep.timerEscalations >= maxEscalations) continue;
      ep.timerEscalations++;
      out.push(escalate(ps, x.ri, t.due, PRIORITY_RANK[a.priority] + 1, null, null));
    }
    return out;
  }

  function restore(events: readonly AlertEvent[]): void {
    const last = new Map<string, { e: AlertEvent; n: number; timerEsc: number }>();
    const acks = new Map<string, string[]>();
    for (const e of events) {
      if (e.event === 'acknowledged') {
        const list = acks.get(e.alert.id) ?? [];
        list.push(`${e.alert.ackBy ?? ''}|${e.alert.ackAt ?? e.ts}`);
        acks.set(e.alert.id, list);
      }
      const prev = last.get(e.alert.id);
      const m = /:(\d+)$/.exec(e.eventId);
      const n = Math.max(prev?.n ?? 0, m ? Number(m[1]) : (prev?.n ?? 0) + 1);
      let timerEsc = prev?.timerEsc ?? 0;
      // Unacknowledged-time escalations step one priority (or stay at high); the log does not
      // say which kind an escalation was, so this may over-count: fewer, never more, re-notifications.
      if (e.event === 'escalated' && prev) {
        const d = PRIORITY_RANK[e.alert.priority] - PRIORITY_RANK[prev.e.alert.priority];
        if (d === 1 || (d === 0 && e.alert.priority === 'high')) timerEsc++;
      }
      last.set(e.alert.id, { e, n, timerEsc });
    }
    for (const [id, { e, n, timerEsc }] of last) {
      if (e.event === 'resolved' || e.alert.state === 'resolved') continue;
      const a: Alert = { ...e.alert };
      const ps = getPatient(a.patientId, a.ward === UNKNOWN_WARD ? null : a.ward, e.ts);
      const ri = ps.compiled.rules.findIndex((r) => r.id === a.ruleId);
      const ep = ri >= 0 ? (ps.eps[ri] as Episode) : newEpisode();
      if (ri < 0 || (ep.alert !== null && ep.alert.id !== id)) {
        // The rule no longer exists (or a newer episode holds it): keep the alert visible and
        // acknowledgeable; it cannot resolve by itself.
        const o = newEpisode();
        o.alert = a;
        o.events = n;
        o.acks = acks.get(id) ?? [];
        orphans.set(id, o);
        continue;
      }
      ep.alert = a;
      ep.events = n;
      ep.acks = acks.get(id) ?? [];
      ep.timerEscalations = Math.min(timerEsc, maxEscalations);
      ep.unackedSince = e.ts;
      alertIndex.set(id, { ps, ri });
      if (a.state === 'open') armUnacked(ps, ri);
    }
  }

  function openAlerts(): Alert[] {
    const out: Alert[] = [];
    for (const { ps, ri } of alertIndex.values()) {
      const a = (ps.eps[ri] as Episode).alert;
      if (a) out.push({ ...a });
    }
    for (const o of orphans.values()) if (o.alert) out.push({ ...o.alert });
    return out;
  }

  function forgetPatient(patientId: string): void {
    const ps = patients.get(patientId);
    if (ps) {
      for (const ep of ps.eps) if (ep.alert) alertIndex.delete(ep.alert.id);
      // Timers still in the heap see the flag and are skipped.
      ps.dropped = true;
      patients.delete(patientId);
    }
    for (const [id, o] of orphans) if (o.alert?.patientId === patientId) orphans.delete(id);
    chartOrders.delete(patientId);
  }

  function stats(): EngineStats {
    let bytes = 0;
    for (const ps of patients.values()) {
      // Object headers, typed arrays and one episode object per rule.
      bytes += 600 + ps.eps.length * 160;
      for (const w of ps.windows) if (w) bytes += 120 + w.capacity * 16;
      for (const w of ps.n2w) if (w) bytes += 120 + w.capacity * 24;
    }
    bytes += (alertIndex.size + orphans.size) * 400;
    return { patients: patients.size, bytesEstimate: bytes, openAlerts: alertIndex.size + orphans.size, ...counters, timers: timers.size };
  }

  return { ruleSet, onSample, onAction, onTick, restore, openAlerts, forgetPatient, stats };
}
