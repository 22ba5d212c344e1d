/**
 * The rules engine: an event-time, per-patient state machine over canonical samples.
 * Pure and deterministic: time comes from the samples (event time) and from `onTick(now)`,
 * never from a clock, so replaying the same input gives the same alert events, and ten
 * minutes of samples processed in one second give the same result as in real time.
 *
 * Per sample the work is O(rules of the sample's metrics) with no array copies: trend
 * windows are ring buffers with running sums, timers live in one lazy min-heap.
 * This file owns the patients, alert index and timers and dispatches each input to the
 * evaluator of each rule type (`<type>.ts` beside it) over the patient's state (`state.ts`).
 * Policies (late data, duplicates, live gating, ids, priorities) are recorded in
 * docs/decisions/0003-news2-and-alerting.md; the rule language in docs/rules.md.
 */
import { emit, newEpisode, type Episode } from '../../core/alert-lifecycle.js';
import { PRIORITY_RANK, type Alert, type AlertEvent, type ClinicianAction } from '../../core/alerts-model.js';
import { isChartOrder, type ScoreOutput } from '../../core/bus-messages.js';
import { METRIC_RANGES } from '../../core/payload.js';
import { evalBattery } from './battery.js';
import { evalMissingOnData, onMissingTimer } from './missing.js';
import { evalNews2, news2Config, takeNews2Reading } from './news2.js';
import { addLateRate, evalRate } from './rate.js';
import { evalShock, recordCuff } from './shock-index.js';
import { compile, METRIC_COUNT, METRIC_TO_N2, N2, newPatientState, SPOT_MASK, UNKNOWN_WARD, type Compiled, type PatientState, type Timer } from './state.js';
import { evalThreshold } from './threshold.js';
import { createAlertOps } from './transitions.js';
import type { RuleSet } from '../../core/rules-config.js';
import { TimerHeap } from '../../core/timer-heap.js';
import { ACVPU_VALUES, METRIC_NAMES, type CanonicalSample } from '../../core/vitals.js';

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

const EMPTY: readonly AlertEvent[] = Object.freeze([]);
/** Possible range per metric index (ingest's table): anything outside is a device error, not a patient state. */
const RANGE_MIN: readonly number[] = METRIC_NAMES.map((m) => METRIC_RANGES[m][0]);
const RANGE_MAX: readonly number[] = METRIC_NAMES.map((m) => METRIC_RANGES[m][1]);

/**
 * Create a rules engine for a validated rule set.
 * @param ruleSet - from parseRuleSet
 * @param opts - id salt and idle eviction
 */
export function createRulesEngine(ruleSet: RuleSet, opts: EngineOptions = {}): RulesEngine {
  const idleMs = opts.idleEvictMs === undefined ? 86_400_000 : opts.idleEvictMs;
  const { minQuality, latenessMs, maxEscalations } = ruleSet.defaults;
  const n2cfg = news2Config(ruleSet);
  const hrMaxAge = n2cfg.maxAge[N2.hr] as number;

  const patients = new Map<string, PatientState>();
  const alertIndex = new Map<string, { ps: PatientState; ri: number }>();
  const orphans = new Map<string, Episode>();
  const timers = new TimerHeap<Timer>();
  const wardCache = new Map<string | null, Compiled>();
  const counters = { samples: 0, duplicates: 0, late: 0, lowQuality: 0, invalid: 0, unassigned: 0 };
  const ops = createAlertOps({ salt: opts.idSalt ?? '', maxEscalations, alertIndex, timers });
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
    ps = newPatientState(id, ward, compiledFor(ward, id, ts));
    patients.set(id, ps);
    if (idleMs !== null && Number.isFinite(ts)) timers.push(ts + idleMs, { kind: 'idle', ps });
    return ps;
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
            if (c.rules[ri]?.type === 'rate') addLateRate(ps, ri, ts, v);
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
        const e = evalMissingOnData(ops, ps, ri, ts, live, traceId);
        if (e) pending.push(e);
      }
      for (const ri of c.byMetric[mi] as number[]) {
        const e = c.rules[ri]?.type === 'threshold' ? evalThreshold(ops, ps, ri, ts, v, live, traceId) : evalRate(ops, ps, ri, ts, v, live, traceId);
        if (e) pending.push(e);
      }
      const k = METRIC_TO_N2[mi] as number;
      if (k >= 0 && ts > (ps.n2t[k] as number)) {
        takeNews2Reading(n2cfg, ps, k, ts, v);
        if (((SPOT_MASK >> k) & 1) === 1) spotNew |= 1 << k;
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
        const e = evalBattery(ops, ps, ri, ts, s.battery, live, traceId);
        if (e) pending.push(e);
      }
    }
    if (n2changed) fresh = true;
    if (fresh && ts > ps.maxTs) ps.maxTs = ts;
    const cuff = ((spotNew >> N2.sbp) & 1) === 1;
    if (c.shock.length > 0 && cuff) recordCuff(ps, ts, metrics.sbp as number);
    if (c.shock.length > 0 && ps.sbpHist.length > 0 && (metrics.hr !== undefined || cuff)) {
      for (const ri of c.shock) {
        const e = evalShock(ops, hrMaxAge, ps, ri, Math.max(ts, ps.maxTs), live, traceId);
        if (e) pending.push(e);
      }
    }
    let score: ScoreOutput | undefined;
    if (n2changed) {
      const now = Math.max(ts, ps.maxTs);
      score = evalNews2(ops, n2cfg, ps, now, scaleFor(ps, now), live, traceId, spotNew, pending);
    }
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
    const acked = emit(ep, 'acknowledged', ts);
    if (ref) return [acked];
    // An orphan (its rule left the rules file, or a newer episode holds the rule): nothing can
    // ever clear it, so the clinician's acknowledgement closes it. It stayed on the board until
    // someone had seen it; it does not stay there for ever (docs/rules.md).
    alert.state = 'resolved';
    alert.resolvedAt = ts;
    orphans.delete(a.alertId);
    return [acked, emit(ep, 'resolved', ts)];
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
      if (x.kind === 'missing') {
        const e = onMissingTimer(ops, ps, x.ri, now, x);
        if (e) out.push(e);
        continue;
      }
      // Unacknowledged escalation: valid only for the same alert, still unacknowledged,
      // and for the deadline that is current (older entries were superseded).
      const ep = ps.eps[x.ri] as Episode;
      const rule = ps.compiled.rules[x.ri];
      const a = ep.alert;
      if (!a || !rule || a.id !== x.alertId || a.state !== 'open' || rule.escalateAfterMs === null) continue;
      if (t.due !== ep.unackedSince + rule.escalateAfterMs || ep.timerEscalations >= maxEscalations) continue;
      ep.timerEscalations++;
      out.push(ops.escalate(ps, x.ri, t.due, PRIORITY_RANK[a.priority] + 1, null, null));
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
      if (a.state === 'open') ops.armUnacked(ps, ri);
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
