/**
 * Ground truth from the noise-free model: the NEWS2 of a set of vitals and the second a scripted
 * event counts as having happened (time to alert is measured from it).
 */
import { CHART_DECIMALS, roundHalfUp, scoreHr, scoreRr, scoreSbp, scoreSpo2, scoreTemp } from '../core/news2.js';
import { trueVitals, type Baseline, type PatientSim } from './patient-model.js';
import type { ScheduledEvent } from './scenarios.js';

/** NEWS2 (Scale 1, on air, alert) of a set of vitals and whether it is an urgent trigger (>= 5 or a red 3). */
export function news2Of(v: Baseline): { score: number; urgent: boolean } {
  const c = [
    scoreRr(roundHalfUp(v.rr, CHART_DECIMALS.rr)),
    scoreSpo2(roundHalfUp(v.spo2, CHART_DECIMALS.spo2), 1, false),
    scoreSbp(roundHalfUp(v.sbp, CHART_DECIMALS.sbp)),
    scoreHr(roundHalfUp(v.hr, CHART_DECIMALS.hr)),
    scoreTemp(roundHalfUp(v.temp, CHART_DECIMALS.temp)),
  ];
  const score = c.reduce((a, b) => a + b, 0);
  return { score, urgent: score >= 5 || c.includes(3) };
}

/**
 * Ground truth: the second at which an event counts as having happened (see ScenarioDef.criterion),
 * or null when a clinical scenario never reaches an urgent NEWS2 trigger within `horizonSec`.
 * @param epochAt0 - event time of the patient's second 0 (for circadian drift)
 */
export function onsetSec(p: PatientSim, e: ScheduledEvent, epochAt0: number, horizonSec = 6 * 3600): number | null {
  const s = e.scenario;
  if (s.criterion === 'start') return e.startSec;
  if (s.criterion === 'battery' && s.battery) {
    const { start, perHour } = s.battery;
    return start <= 0.15 ? e.startSec : e.startSec + Math.ceil(((start - 0.15) / perHour) * 3600);
  }
  for (let t = e.startSec; t <= e.startSec + horizonSec; t++) {
    if (news2Of(trueVitals(p, t, epochAt0 + t * 1000)).urgent) return t;
  }
  return null;
}
