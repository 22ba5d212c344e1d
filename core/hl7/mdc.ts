/**
 * ISO/IEEE 11073-10101 (MDC) terms that PCD-01 observations carry, mapped to canonical metrics
 * and units. Codes are the context-free numbers (partition << 16 | term code), as OBX-3 and OBX-6
 * carry them; each was checked against the 10101 term codes (e.g. MDC_DIM_MMHG = 4::3872).
 */
import type { MetricName } from '../vitals.js';

export interface MdcObservation {
  refId: string;
  /** The canonical metric, or null when recognised but not carried by the canonical sample. */
  metric: MetricName | null;
  /** When two observations give the same metric at the same time, the lower rank wins. */
  rank: number;
}

/** OBX-3 codes read; every other code is ignored and counted, never rejected. */
export const MDC_OBSERVATIONS: ReadonlyMap<number, MdcObservation> = new Map([
  [147842, { refId: 'MDC_ECG_HEART_RATE', metric: 'hr', rank: 0 }],
  [149530, { refId: 'MDC_PULS_OXIM_PULS_RATE', metric: 'hr', rank: 1 }],
  [150456, { refId: 'MDC_PULS_OXIM_SAT_O2', metric: 'spo2', rank: 0 }],
  [151562, { refId: 'MDC_RESP_RATE', metric: 'rr', rank: 0 }],
  [150364, { refId: 'MDC_TEMP_BODY', metric: 'temp', rank: 0 }],
  [150344, { refId: 'MDC_TEMP', metric: 'temp', rank: 1 }],
  [150021, { refId: 'MDC_PRESS_BLD_NONINV_SYS', metric: 'sbp', rank: 0 }],
  [150022, { refId: 'MDC_PRESS_BLD_NONINV_DIA', metric: 'dbp', rank: 0 }],
  // The canonical sample has no mean pressure (NEWS2 scores systolic): validated, then counted as not carried.
  [150023, { refId: 'MDC_PRESS_BLD_NONINV_MEAN', metric: null, rank: 0 }],
]);

const BY_REF_ID = new Map([...MDC_OBSERVATIONS].map(([code, o]) => [o.refId, code]));

/** The MDC code of an OBX-3 (identifier, text, coding system): by number, else by reference id. */
export function mdcCodeOf(identifier: string, text: string): number | null {
  if (/^\d{1,9}$/.test(identifier)) return Number(identifier);
  return BY_REF_ID.get(identifier) ?? BY_REF_ID.get(text) ?? null;
}

/** A unit and how to bring a value in it to the metric's canonical unit. */
interface UnitDef {
  metrics: ReadonlyArray<MetricName | 'map'>;
  toCanonical: (v: number) => number;
}

const same = (v: number): number => v;
const PRESSURE = ['sbp', 'dbp', 'map'] as const;

const UNITS: ReadonlyArray<{ code: number; refId: string; ucum: readonly string[]; def: UnitDef }> = [
  { code: 262688, refId: 'MDC_DIM_PERCENT', ucum: ['%'], def: { metrics: ['spo2'], toCanonical: same } },
  { code: 264864, refId: 'MDC_DIM_BEAT_PER_MIN', ucum: ['/min', '{beat}/min', '{beats}/min'], def: { metrics: ['hr'], toCanonical: same } },
  { code: 264928, refId: 'MDC_DIM_RESP_PER_MIN', ucum: ['/min', '{breath}/min', '{breaths}/min', '{resp}/min'], def: { metrics: ['rr'], toCanonical: same } },
  { code: 268192, refId: 'MDC_DIM_DEGC', ucum: ['Cel'], def: { metrics: ['temp'], toCanonical: same } },
  { code: 266560, refId: 'MDC_DIM_FAHR', ucum: ['[degF]'], def: { metrics: ['temp'], toCanonical: (f) => ((f - 32) * 5) / 9 } },
  { code: 266016, refId: 'MDC_DIM_MMHG', ucum: ['mm[Hg]'], def: { metrics: PRESSURE, toCanonical: same } },
  { code: 265987, refId: 'MDC_DIM_KILO_PASCAL', ucum: ['kPa'], def: { metrics: PRESSURE, toCanonical: (kpa) => kpa * 7.500617 } },
];

/**
 * The conversion for a value of `metric` in the unit OBX-6 names: the MDC code or reference id
 * (components 1-3), or a UCUM code (components 1-3 with system UCUM, or the alternate 4-6).
 * null when the unit is missing, unknown, or not a unit of that metric.
 */
export function unitConversion(metric: MetricName | 'map', unit: { id: string; text: string; system: string; altId: string; altSystem: string }): ((v: number) => number) | null {
  for (const u of UNITS) {
    if (!u.def.metrics.includes(metric)) continue;
    const mdc = unit.id === String(u.code) || unit.id === u.refId || unit.text === u.refId;
    const ucum = (unit.system.toUpperCase() === 'UCUM' && u.ucum.includes(unit.id)) || (unit.altSystem.toUpperCase() === 'UCUM' && u.ucum.includes(unit.altId));
    if (mdc || ucum) return u.def.toCanonical;
  }
  return null;
}

/**
 * IHE PCD-01 OBX-8 measurement status values (from the 11073 MeasurementStatus bits) that say
 * the value is not a measurement of the patient: never scored, counted.
 */
export const NOT_A_MEASUREMENT = new Set(['invalid', 'unavailable', 'not-available', 'calibration-ongoing', 'test-data', 'demo-data']);

/**
 * OBX-8 values that say the value may be artefact: kept with this signal quality, which is below
 * the rules' default minQuality (0.5), so it is charted but does not drive alerts.
 */
export const QUESTIONABLE_QUALITY = 0.3;
export const QUESTIONABLE = new Set(['questionable', 'early-indication']);
