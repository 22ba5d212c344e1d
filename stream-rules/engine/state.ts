/**
 * The rules engine's per-patient state and the rule set compiled for a ward or patient.
 * Each rule type's evaluator (`<type>.ts` in this folder) reads and advances only this state;
 * the engine (`engine.ts`) owns the maps, the timer heap and the dispatch.
 */
import { newEpisode, type Episode, type EpisodeTiming } from '../../core/alert-lifecycle.js';
import { PRIORITY_RANK } from '../../core/alerts-model.js';
import { NEWS2_PARAMS } from '../../core/news2.js';
import { effectiveRules, type Rule, type RuleSet } from '../../core/rules-config.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import { METRIC_NAMES } from '../../core/vitals.js';
import type { MedianWindow, TrendWindow } from '../../core/windows.js';

export const UNKNOWN_WARD = 'unassigned';
export const METRIC_COUNT = METRIC_NAMES.length;
/** METRIC_NAMES index → NEWS2_PARAMS index (dbp is not a NEWS2 parameter). */
export const METRIC_TO_N2: readonly number[] = METRIC_NAMES.map((m) => (NEWS2_PARAMS as readonly string[]).indexOf(m));
export const N2 = { rr: 0, spo2: 1, o2: 2, sbp: 3, hr: 4, acvpu: 5, temp: 6 } as const;
/** Measured spot observations (a cuff reading, a temperature): one reading stands until the next. */
export const SPOT_MASK = (1 << N2.sbp) | (1 << N2.temp);

export interface Compiled {
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

export interface PatientState {
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

export type Timer =
  | { kind: 'missing'; ps: PatientState; ri: number }
  | { kind: 'unacked'; ps: PatientState; ri: number; alertId: string }
  | { kind: 'idle'; ps: PatientState };

export function rank(p: Rule['priority']): number {
  return PRIORITY_RANK[p];
}

function metricIdx(m: string): number {
  return (METRIC_NAMES as readonly string[]).indexOf(m);
}

/** Fresh state for a patient first seen under `compiled`. */
export function newPatientState(id: string, ward: string | null, compiled: Compiled): PatientState {
  return {
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
}

/** The rules in force for a ward or patient at `ts`, indexed for the per-sample dispatch. */
export function compile(ruleSet: RuleSet, ward: string | null, patientId: string, ts: number): Compiled {
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
