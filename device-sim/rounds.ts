/**
 * Nurse rounds: what a ward nurse charts by hand at the bedside and a wearable cannot
 * measure, entered as manual observations: consciousness (ACVPU), air or oxygen, blood
 * pressure and temperature. Without them every NEWS2 is a lower bound (ACVPU and air/O2
 * missing). Pure and deterministic by seed: its own PRNG per patient, so adding rounds
 * changes nothing of the wearable's stream.
 *
 * Timing [NEWS2 chart: clinical response, minimum monitoring frequency]: every 4–6 h
 * (score 0–4), at least hourly once a round scores 5 or more. The first round walks the
 * ward in the first 30 seconds (at most 5 rounds a second on large cohorts), so a demo ward
 * has complete scores almost at once.
 */
import { scoreNews2 } from '../core/news2.js';
import type { Acvpu } from '../core/vitals.js';
import { prng, trueVitals, type PatientSim } from './patient-model.js';

export const ROUND_MIN_MS = 4 * 3600_000;
export const ROUND_MAX_MS = 6 * 3600_000;
/** Minimum frequency once a round scores 5 or more. */
export const ROUND_URGENT_MS = 3600_000;
const FIRST_ROUND_WITHIN_MS = 30_000;
/** First rounds at most 5 per second: half the gateway's default per-user limit (600/min). */
const FIRST_ROUND_SPACING_MS = 200;

/** A manual observation, as the gateway's POST /api/patients/{id}/observations takes it. */
export interface RoundObservation {
  ts: number;
  acvpu: Acvpu;
  o2: boolean;
  sbp: number;
  dbp: number;
  temp: number;
}

export interface Rounds {
  /** Event time of each patient's next round. */
  next: number[];
  rands: Array<() => number>;
}

export function createRounds(seed: number, patients: number, t0: number): Rounds {
  // Distinct from the patient model's streams (createPatient seeds by seed and index).
  const rands = Array.from({ length: patients }, (_, i) => prng((Math.imul(seed ^ 0x5eed, 2654435761) + i * 97 + 13) >>> 0));
  const within = Math.max(FIRST_ROUND_WITHIN_MS, patients * FIRST_ROUND_SPACING_MS);
  const next = rands.map((r, i) => t0 + Math.floor(((i + r()) / Math.max(1, patients)) * within));
  return { next, rands };
}

const gauss = (r: () => number): number => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());

/**
 * The round of patient `i` at event time `eventMs` (its second `tSec`): what the nurse
 * measures of the patient's true state, with a cuff's and a thermometer's error. A nurse
 * starts oxygen when SpO2 is 91% or lower; a patient at NEWS2 7 or more from a scripted
 * deterioration is newly confused (C).
 */
export function roundObservation(rounds: Rounds, i: number, p: PatientSim, tSec: number, eventMs: number): RoundObservation {
  const r = rounds.rands[i] as () => number;
  const truth = trueVitals(p, tSec, eventMs);
  const o2 = Math.round(truth.spo2) <= 91;
  const deteriorating = p.events.some((e) => e.scenario.kind === 'clinical' && tSec >= e.startSec);
  const base = scoreNews2({ rr: truth.rr, spo2: truth.spo2, hr: truth.hr, sbp: truth.sbp, temp: truth.temp, o2, acvpu: 'A' });
  const acvpu: Acvpu = deteriorating && base.score >= 7 ? 'C' : 'A';
  return {
    ts: Math.round(eventMs),
    acvpu,
    o2,
    sbp: Math.round(Math.min(240, Math.max(50, truth.sbp + gauss(r) * 4))),
    dbp: Math.round(Math.min(140, Math.max(30, truth.dbp + gauss(r) * 3))),
    temp: Math.round(Math.min(42.5, Math.max(33, truth.temp + gauss(r) * 0.15)) * 10) / 10,
  };
}

/**
 * The rounds due by `eventMs`, each patient's next one scheduled: hourly after a round
 * that scored 5 or more (with the wearable's HR, SpO2 and RR), else in 4–6 h.
 */
export function dueRounds(rounds: Rounds, patients: readonly PatientSim[], eventMs: number, tSecOf: (ms: number) => number): Array<{ index: number; obs: RoundObservation }> {
  const out: Array<{ index: number; obs: RoundObservation }> = [];
  patients.forEach((p, i) => {
    const at = rounds.next[i] as number;
    if (at > eventMs) return;
    const tSec = tSecOf(at);
    const obs = roundObservation(rounds, i, p, tSec, at);
    const truth = trueVitals(p, tSec, at);
    const score = scoreNews2({ rr: truth.rr, spo2: truth.spo2, hr: truth.hr, sbp: obs.sbp, temp: obs.temp, o2: obs.o2, acvpu: obs.acvpu }).score;
    const r = rounds.rands[i] as () => number;
    rounds.next[i] = at + (score >= 5 ? ROUND_URGENT_MS : ROUND_MIN_MS + Math.floor(r() * (ROUND_MAX_MS - ROUND_MIN_MS)));
    out.push({ index: i, obs });
  });
  return out;
}
