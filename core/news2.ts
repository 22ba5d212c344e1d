/**
 * NEWS2 (RCP 2017) scorer: pure, table-free band functions that cite the chart rows.
 * Source of truth: /work/shared/clinical/NEWS2.md (Chart 1 scoring, Charts 3/4 risk).
 *
 * Policies (docs/decisions/0003-news2-and-alerting.md):
 * - Values are rounded with decimal round-half-up to chart resolution before scoring
 *   (integers for rr/spo2/sbp/hr, 0.1 °C for temp); both raw and rounded are returned.
 * - A missing parameter scores 0 and is named in `missing`: the aggregate is then a
 *   lower bound (`complete: false`), and `maxScore` is the upper bound.
 * - No Scale 2 order → Scale 1. Unknown air/oxygen → scored as air (lower bound), named missing.
 */
import { METRIC_RANGES } from './payload.js';
import type { Acvpu } from './vitals.js';

/** The seven NEWS2 parameters, in chart order. */
export const NEWS2_PARAMS = ['rr', 'spo2', 'o2', 'sbp', 'hr', 'acvpu', 'temp'] as const;
export type News2Param = (typeof NEWS2_PARAMS)[number];

/** The numeric parameters that get rounded to chart resolution. */
export type News2NumericParam = 'rr' | 'spo2' | 'sbp' | 'hr' | 'temp';

/** One observation set. Every field is optional: a missing one is reported, not guessed. */
export interface News2Observations {
  rr?: number | undefined;
  spo2?: number | undefined;
  /** SpO2 scale: 2 only on a clinician's order for hypercapnic respiratory failure. Default 1. */
  scale?: 1 | 2 | undefined;
  /** On supplemental oxygen. */
  o2?: boolean | undefined;
  sbp?: number | undefined;
  hr?: number | undefined;
  acvpu?: Acvpu | undefined;
  temp?: number | undefined;
}

export type News2Risk = 'low' | 'low-medium' | 'medium' | 'high';

export interface News2Result {
  /** Aggregate 0..20; a lower bound when `complete` is false. */
  score: number;
  /** Upper bound of the aggregate given the missing parameters (= score when complete). */
  maxScore: number;
  /** Risk of `score` [NEWS2 chart 4]. */
  risk: News2Risk;
  components: Record<News2Param, number>;
  complete: boolean;
  /** Missing parameters, in chart order. */
  missing: News2Param[];
  scale: 1 | 2;
  /** The values as given. */
  raw: Partial<Record<News2NumericParam, number>>;
  /** The values after round-half-up to chart resolution: these were scored. */
  rounded: Partial<Record<News2NumericParam, number>>;
}

/**
 * Physiologically possible input ranges: the same table ingest validates against
 * (core/payload.ts METRIC_RANGES). Outside them a value is a device or entry error, not a
 * patient state, so it is rejected rather than scored.
 */
export const NEWS2_LIMITS: Record<News2NumericParam, { min: number; max: number }> = {
  rr: { min: METRIC_RANGES.rr[0], max: METRIC_RANGES.rr[1] },
  spo2: { min: METRIC_RANGES.spo2[0], max: METRIC_RANGES.spo2[1] },
  sbp: { min: METRIC_RANGES.sbp[0], max: METRIC_RANGES.sbp[1] },
  hr: { min: METRIC_RANGES.hr[0], max: METRIC_RANGES.hr[1] },
  temp: { min: METRIC_RANGES.temp[0], max: METRIC_RANGES.temp[1] },
};

const NUMERIC: readonly News2NumericParam[] = ['rr', 'spo2', 'sbp', 'hr', 'temp'];
const ACVPU_SET: ReadonlySet<string> = new Set(['A', 'C', 'V', 'P', 'U']);

/** Largest score each parameter can contribute, for the upper bound of a partial set. */
const MAX_COMPONENT: Record<News2Param, number> = { rr: 3, spo2: 3, o2: 2, sbp: 3, hr: 3, acvpu: 3, temp: 3 };

// ------------------------------------------------------------------ rounding

/**
 * Decimal round-half-up of `x` to `decimals` places, on the shortest decimal
 * representation of the number (what a person reads), not on its binary value.
 * `Math.round(x*10)/10` and `toFixed` disagree on 38.05 because 38.05 is stored as
 * 38.04999…; here 38.05 → 38.1, 35.05 → 35.1, 36.05 → 36.1. Negative values round
 * half away from zero (symmetric), which never matters for vital signs.
 * @param x - a finite number
 * @param decimals - places to keep (0..10)
 * @returns the nearest double to the decimally rounded value
 */
export function roundHalfUp(x: number, decimals: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  const p = POW10[decimals];
  if (p === undefined) throw new RangeError(`decimals out of range: ${decimals}`);
  // Fast path: already at resolution (the usual case for device values).
  // If round(x·p)/p === x, x is the double of a decimal with ≤ `decimals` places.
  if (decimals === 0 ? Number.isInteger(x) : Math.round(x * p) / p === x) return x;
  if (x > 0 && x < 1e9) {
    // Away from a tie, binary and decimal rounding agree: the error of x·p is ~1e-13 for
    // chart-sized values, far below the 1e-7 guard. Only near-ties need the exact path.
    const y = x * p;
    const fl = Math.floor(y);
    const frac = y - fl;
    if (Math.abs(frac - 0.5) > 1e-7) return (frac > 0.5 ? fl + 1 : fl) / p;
  }
  const neg = x < 0;
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(Math.abs(x)));
  if (!m) throw new RangeError(`cannot round ${x}`);
  const intPart = m[1] ?? '0';
  const frac = m[2] ?? '';
  const exp = m[3] ? Number(m[3]) : 0;
  // The value is digits × 10^-(scale).
  let digits = BigInt(intPart + frac);
  const scale = frac.length - exp;
  let q: bigint;
  if (scale <= decimals) {
    q = digits * 10n ** BigInt(decimals - scale);
  } else {
    const div = 10n ** BigInt(scale - decimals);
    q = digits / div;
    digits = digits % div;
    if (digits * 2n >= div) q += 1n;
  }
  // An exact integer divided by an exact power of ten is correctly rounded by IEEE 754,
  // so the result is the same double as the decimal literal (381n / 10 === 38.1).
  const r = Number(q) / p;
  return neg ? -r : r;
}

const POW10: readonly number[] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/** Chart resolution of each numeric parameter: 0.1 °C for temperature, integers otherwise. */
export const CHART_DECIMALS: Record<News2NumericParam, number> = { rr: 0, spo2: 0, sbp: 0, hr: 0, temp: 1 };

// ------------------------------------------------------------------ Chart 1 bands

/** Respiration rate score, on a value already rounded to an integer. */
export function scoreRr(rr: number): number {
  if (rr <= 8) return 3; // [NEWS2 chart 1: RR ≤8 → 3]
  if (rr <= 11) return 1; // [NEWS2 chart 1: RR 9–11 → 1]
  if (rr <= 20) return 0; // [NEWS2 chart 1: RR 12–20 → 0]
  if (rr <= 24) return 2; // [NEWS2 chart 1: RR 21–24 → 2]
  return 3; // [NEWS2 chart 1: RR ≥25 → 3]
}

/**
 * SpO2 score on an integer value.
 * Scale 1 never looks at air/oxygen; Scale 2 does, but only at SpO2 ≥93.
 */
export function scoreSpo2(spo2: number, scale: 1 | 2, onO2: boolean): number {
  if (scale === 1) {
    if (spo2 <= 91) return 3; // [NEWS2 chart 1: SpO2 scale 1 ≤91 → 3]
    if (spo2 <= 93) return 2; // [NEWS2 chart 1: SpO2 scale 1 92–93 → 2]
    if (spo2 <= 95) return 1; // [NEWS2 chart 1: SpO2 scale 1 94–95 → 1]
    return 0; // [NEWS2 chart 1: SpO2 scale 1 ≥96 → 0]
  }
  if (spo2 <= 83) return 3; // [NEWS2 chart 1: SpO2 scale 2 ≤83 → 3]
  if (spo2 <= 85) return 2; // [NEWS2 chart 1: SpO2 scale 2 84–85 → 2]
  if (spo2 <= 87) return 1; // [NEWS2 chart 1: SpO2 scale 2 86–87 → 1]
  if (spo2 <= 92) return 0; // [NEWS2 chart 1: SpO2 scale 2 88–92 → 0, on air or O2]
  if (!onO2) return 0; // [NEWS2 chart 1: SpO2 scale 2 ≥93 on air → 0]
  if (spo2 <= 94) return 1; // [NEWS2 chart 1: SpO2 scale 2 93–94 on O2 → 1]
  if (spo2 <= 96) return 2; // [NEWS2 chart 1: SpO2 scale 2 95–96 on O2 → 2]
  return 3; // [NEWS2 chart 1: SpO2 scale 2 ≥97 on O2 → 3]
}

/** Air or oxygen score, on both scales. */
export function scoreO2(onO2: boolean): number {
  return onO2 ? 2 : 0; // [NEWS2 chart 1: Air or oxygen? Oxygen → 2, Air → 0]
}

/** Systolic BP score on an integer value. */
export function scoreSbp(sbp: number): number {
  if (sbp <= 90) return 3; // [NEWS2 chart 1: SBP ≤90 → 3]
  if (sbp <= 100) return 2; // [NEWS2 chart 1: SBP 91–100 → 2]
  if (sbp <= 110) return 1; // [NEWS2 chart 1: SBP 101–110 → 1]
  if (sbp <= 219) return 0; // [NEWS2 chart 1: SBP 111–219 → 0]
  return 3; // [NEWS2 chart 1: SBP ≥220 → 3]
}

/** Pulse score on an integer value. */
export function scoreHr(hr: number): number {
  if (hr <= 40) return 3; // [NEWS2 chart 1: Pulse ≤40 → 3]
  if (hr <= 50) return 1; // [NEWS2 chart 1: Pulse 41–50 → 1]
  if (hr <= 90) return 0; // [NEWS2 chart 1: Pulse 51–90 → 0]
  if (hr <= 110) return 1; // [NEWS2 chart 1: Pulse 91–110 → 1]
  if (hr <= 130) return 2; // [NEWS2 chart 1: Pulse 111–130 → 2]
  return 3; // [NEWS2 chart 1: Pulse ≥131 → 3]
}

/** Consciousness score. Chronic confusion at baseline is recorded as A, not C. */
export function scoreAcvpu(acvpu: Acvpu): number {
  return acvpu === 'A' ? 0 : 3; // [NEWS2 chart 1: Alert → 0; new confusion (C), V, P or U → 3]
}

/** Temperature score on a value already rounded to 0.1 °C. */
export function scoreTemp(temp: number): number {
  if (temp <= 35.0) return 3; // [NEWS2 chart 1: Temp ≤35.0 → 3]
  if (temp <= 36.0) return 1; // [NEWS2 chart 1: Temp 35.1–36.0 → 1]
  if (temp <= 38.0) return 0; // [NEWS2 chart 1: Temp 36.1–38.0 → 0]
  if (temp <= 39.0) return 1; // [NEWS2 chart 1: Temp 38.1–39.0 → 1] (not 11: naidihr bug)
  return 2; // [NEWS2 chart 1: Temp ≥39.1 → 2] (not 3: a common calculator bug)
}

// ------------------------------------------------------------------ Charts 3/4 risk

/**
 * Clinical risk [NEWS2 chart 4]: the one band function behind both the published score's
 * `risk` and the news2 rule's alert priority.
 * Precedence: ≥7 high, 5–6 medium whether or not a red score is present; a 3 in any
 * single parameter (only reachable at aggregate 3–4) is low–medium; otherwise low.
 * @param score - the aggregate
 * @param red - some single parameter scored 3 (the engine passes false while a lone spot red awaits confirmation)
 */
export function news2Risk(score: number, red: boolean): News2Risk {
  if (score >= 7) return 'high'; // [NEWS2 chart 4: aggregate ≥7 → high]
  if (score >= 5) return 'medium'; // [NEWS2 chart 4: aggregate 5–6 → medium]
  if (red) return 'low-medium'; // [NEWS2 chart 4: 3 in any single parameter → low–medium]
  return 'low'; // [NEWS2 chart 4: aggregate 0–4 → low]
}

// ------------------------------------------------------------------ validation + scoring

/**
 * Check an observation set against types and possible ranges.
 * @returns every problem found (empty when valid); messages name the field, never a patient
 */
export function checkObservations(obs: News2Observations): string[] {
  const errors: string[] = [];
  for (const p of NUMERIC) {
    const v = obs[p];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      errors.push(`${p}: must be a finite number`);
      continue;
    }
    const { min, max } = NEWS2_LIMITS[p];
    if (v < min || v > max) errors.push(`${p}: ${v} is outside the possible range ${min}..${max}`);
  }
  if (obs.scale !== undefined && obs.scale !== 1 && obs.scale !== 2) errors.push('scale: must be 1 or 2');
  // A string such as 'on air' is an error, never "anything but 'on air' is oxygen" (naidihr bug).
  if (obs.o2 !== undefined && typeof obs.o2 !== 'boolean') errors.push('o2: must be true or false');
  if (obs.acvpu !== undefined && (typeof obs.acvpu !== 'string' || !ACVPU_SET.has(obs.acvpu))) {
    errors.push('acvpu: must be one of A, C, V, P, U');
  }
  return errors;
}

/**
 * Score one NEWS2 observation set [NEWS2 chart 1, chart 4].
 * @param obs - the observations; missing ones score 0 and are listed in `missing`
 * @returns the aggregate, risk, per-parameter components, completeness and the rounded values
 * @throws RangeError when `checkObservations` finds a problem (call it first for untrusted input)
 */
export function scoreNews2(obs: News2Observations): News2Result {
  const errors = checkObservations(obs);
  if (errors.length > 0) throw new RangeError(errors.join('; '));
  const scale: 1 | 2 = obs.scale === 2 ? 2 : 1;
  const raw: Partial<Record<News2NumericParam, number>> = {};
  const rounded: Partial<Record<News2NumericParam, number>> = {};
  for (const p of NUMERIC) {
    const v = obs[p];
    if (v === undefined) continue;
    raw[p] = v;
    rounded[p] = roundHalfUp(v, CHART_DECIMALS[p]);
  }
  const onO2 = obs.o2 === true;
  const components: Record<News2Param, number> = {
    rr: rounded.rr === undefined ? 0 : scoreRr(rounded.rr),
    spo2: rounded.spo2 === undefined ? 0 : scoreSpo2(rounded.spo2, scale, onO2),
    o2: scoreO2(onO2),
    sbp: rounded.sbp === undefined ? 0 : scoreSbp(rounded.sbp),
    hr: rounded.hr === undefined ? 0 : scoreHr(rounded.hr),
    acvpu: obs.acvpu === undefined ? 0 : scoreAcvpu(obs.acvpu),
    temp: rounded.temp === undefined ? 0 : scoreTemp(rounded.temp),
  };
  const missing: News2Param[] = [];
  for (const p of NEWS2_PARAMS) {
    if (p === 'o2' ? obs.o2 === undefined : obs[p] === undefined) missing.push(p);
  }
  let score = 0;
  for (const p of NEWS2_PARAMS) score += components[p];
  // Upper bound: every missing parameter at its worst. Unknown air/oxygen is worst as
  // oxygen, which on Scale 2 can also raise the SpO2 component (≥93 on O2 → 1..3).
  let maxScore = 0;
  for (const p of NEWS2_PARAMS) {
    if (!missing.includes(p)) maxScore += components[p];
    else if (p !== 'spo2' && p !== 'o2') maxScore += MAX_COMPONENT[p];
  }
  if (missing.includes('o2')) maxScore += MAX_COMPONENT.o2;
  if (rounded.spo2 === undefined) maxScore += MAX_COMPONENT.spo2;
  else if (missing.includes('o2')) maxScore += scoreSpo2(rounded.spo2, scale, true) - components.spo2;
  return {
    score,
    maxScore,
    risk: news2Risk(score, NEWS2_PARAMS.some((p) => components[p] === 3)),
    components,
    complete: missing.length === 0,
    missing,
    scale,
    raw,
    rounded,
  };
}

// ------------------------------------------------------------------ maximum ages

/**
 * Default maximum age per parameter (ms). Wearable streams (rr, spo2, hr) go stale fast;
 * manual spot checks (sbp, temp, acvpu) follow the 4–6-hourly low-risk cadence of chart 4,
 * so 6 h. Oxygen status is charted with the observation round: 6 h as well.
 */
export const DEFAULT_MAX_AGE_MS: Record<News2Param, number> = {
  rr: 5 * 60_000,
  spo2: 5 * 60_000,
  hr: 5 * 60_000,
  o2: 6 * 3_600_000,
  sbp: 6 * 3_600_000,
  acvpu: 6 * 3_600_000,
  temp: 6 * 3_600_000,
};
