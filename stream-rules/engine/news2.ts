/**
 * The news2 rule and the published NEWS2 score: the latest value of each parameter (a median
 * with news2.summary), scored at event time with the chart band functions, fed to the rule's
 * bands and published on change or every news2.scoreInterval.
 * The hot path scores components directly (no objects); the full News2Result is built with
 * scoreNews2 only when a score is published.
 */
import { step, type Episode, type EpisodeTiming } from '../../core/alert-lifecycle.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import {
  CHART_DECIMALS,
  NEWS2_PARAMS,
  news2Risk,
  roundHalfUp,
  scoreAcvpu,
  scoreHr,
  scoreNews2,
  scoreO2,
  scoreRr,
  scoreSbp,
  scoreSpo2,
  scoreTemp,
  type News2Observations,
  type News2Param,
  type News2Risk,
} from '../../core/news2.js';
import { ruleMessage } from '../../core/rule-messages.js';
import type { News2Rule, Rule, RuleSet } from '../../core/rules-config.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import { ACVPU_VALUES, type Acvpu } from '../../core/vitals.js';
import { MedianWindow } from '../../core/windows.js';
import { METRIC_TO_N2, N2, rank, SPOT_MASK, UNKNOWN_WARD, type PatientState } from './state.js';
import type { AlertOps } from './transitions.js';

/** The rule set's news2 settings, resolved once per engine. */
export interface News2Config {
  /** Maximum age per parameter, NEWS2_PARAMS order. */
  maxAge: number[];
  scoreIntervalMs: number;
  summaryMs: number;
  spotHeld: boolean;
  lowMediumDefers: boolean;
  /** A spot red is confirmed by the next reading while the aggregate is below this (0: never waits). */
  confirmBelow: number;
}

export function news2Config(ruleSet: RuleSet): News2Config {
  const n = ruleSet.news2;
  return {
    maxAge: NEWS2_PARAMS.map((p) => n.maxAgeMs[p]),
    scoreIntervalMs: n.scoreIntervalMs,
    summaryMs: n.summaryMs,
    spotHeld: n.spotHeld,
    lowMediumDefers: n.lowMediumDefers,
    // Lone: a 3 alone (aggregate below 4); below-medium: any aggregate below 5.
    confirmBelow: n.confirmSpotRed === 'below-medium' ? 5 : n.confirmSpotRed === 'lone' ? 4 : 0,
  };
}

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
function summarise(summaryMs: number, ps: PatientState, k: number, ts: number, v: number): number {
  let w = ps.n2w[k];
  if (w === undefined) ps.n2w[k] = w = new MedianWindow(summaryMs);
  w.add(ts, v);
  return w.median();
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

/**
 * Take a good numeric reading of NEWS2 parameter k at `ts` (newer than the one held).
 * A spot parameter (SBP, temperature) remembers how the reading before it scored, to confirm a lone red.
 */
export function takeNews2Reading(cfg: News2Config, ps: PatientState, k: number, ts: number, v: number): void {
  if (((SPOT_MASK >> k) & 1) === 1) {
    const pt = ps.n2t[k] as number;
    const fresh = pt !== -Infinity && ts - pt <= (cfg.maxAge[k] as number);
    ps.n2prev[k] = fresh ? component(k, ps.n2v[k] as number, 1, false) : -1;
    ps.n2prevV[k] = fresh ? (ps.n2v[k] as number) : Number.NaN;
  }
  ps.n2t[k] = ts;
  ps.n2v[k] = cfg.summaryMs > 0 ? summarise(cfg.summaryMs, ps, k, ts, v) : v;
}

/**
 * Score NEWS2 at `now` from the freshest values, feed the news2 rule (its event goes to `out`),
 * decide on score output.
 * @param scale - the SpO2 scale in force at `now`
 * @param spotNew - bit k set when this sample brought a spot reading of parameter k
 */
export function evalNews2(
  ops: AlertOps,
  cfg: News2Config,
  ps: PatientState,
  now: number,
  scale: 1 | 2,
  live: boolean,
  traceId: string,
  spotNew: number,
  out: AlertEvent[],
): ScoreOutput | undefined {
  const { n2v, n2t, n2c } = ps;
  const { maxAge } = cfg;
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
  if (score < cfg.confirmBelow && red && ((SPOT_MASK >> redAt) & 1) === 1 && ps.n2prev[redAt] !== 3 && !sbpFell(ps, redAt)) red = false;
  // The same band function as the published score; only an unconfirmed spot red differs.
  const risk = news2Risk(score, red);
  const ri = ps.compiled.news2;
  if (ri >= 0) {
    const rule = ps.compiled.rules[ri] as News2Rule;
    const ep = ps.eps[ri] as Episode;
    if (rule.enabled || ep.alert !== null) {
      let level = rule.enabled ? news2Level(risk, rule) : 0;
      // One finding, one alert: a lone red whose own threshold rule is already open adds nothing.
      if (cfg.lowMediumDefers && risk === 'low-medium' && ep.alert === null && singleOpen(ps, redAt)) level = 0;
      const tm = ps.compiled.timing[ri] as EpisodeTiming;
      // A spot reading that takes the score into an alerting band stands until the next reading:
      // the band counts as held from it, so `for` does not add a wait that no new data can end.
      if (cfg.spotHeld && level > 0 && ps.n2level === 0 && ep.alert === null && spotScores(spotNew, n2c)) {
        ep.pendingSince = Math.min(Number.isNaN(ep.pendingSince) ? Infinity : ep.pendingSince, now - tm.forMs);
      }
      ps.n2level = level;
      const tr = step(ep, now, level, level === 0, tm, live);
      const e = ops.apply(ps, ri, tr, now, level, score, (lvl) => ruleMessage(rule, false, news2RiskAt(lvl, risk, rule)), traceId);
      if (e) out.push(e);
    }
  }
  const last = ps.lastScore;
  if (!changed && last !== null && now - last.ts < cfg.scoreIntervalMs) return undefined;
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
