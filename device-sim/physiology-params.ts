/**
 * The numbers of the simulated physiology (docs/sim.md, "The patient model"): slow variation,
 * measurement noise, circadian drift, fever coupling and the homeostatic range of a stable patient.
 */
import type { Baseline } from './patient-model.js';

type Vital = keyof Baseline;

/** Per-vital slow variation: standard deviation and time constant (s) of the OU walk, measurement noise. */
export const WALK: Record<Vital, { sd: number; tau: number; noise: number }> = {
  hr: { sd: 4, tau: 600, noise: 1.5 },
  spo2: { sd: 0.7, tau: 300, noise: 0.6 },
  rr: { sd: 1.2, tau: 900, noise: 0.8 },
  temp: { sd: 0.12, tau: 3600, noise: 0.05 },
  sbp: { sd: 6, tau: 1800, noise: 4 },
  dbp: { sd: 4, tau: 1800, noise: 3 },
};

/** Circadian amplitude per vital (value at 04:00 is base - amplitude, at 16:00 base + amplitude). */
export const CIRCADIAN: Record<Vital, number> = { hr: 5, spo2: 0.4, rr: 0.8, temp: 0.25, sbp: 6, dbp: 4 };

/** Fever coupling: per °C above baseline, HR rises ~10/min and RR ~2/min. */
export const FEVER_HR_PER_C = 10;
export const FEVER_RR_PER_C = 2;

/**
 * Homeostasis: the range a stable patient's own level of a vital (baseline, circadian drift and
 * slow wander; before walking, a nocturnal dip or a scripted deterioration) stays in. Each bound is
 * the edge of the NEWS2 red band moved in by about one measurement-noise SD (RR ≤ 8, SBP ≤ 90,
 * HR ≤ 40 or ≥ 131, SpO2 ≤ 91 are red; red means an urgent review, so a patient who sits there for
 * minutes is not stable). The unbounded walk took some "stable" patients to RR 6-8, SBP 81-86 and
 * HR 40 for long stretches at night (issue 17; docs/decisions/0021, "The stable cohort"): real
 * alerts about a patient who was not stable. Excursions into a red band are scripted scenarios.
 */
export const HOMEOSTASIS: Readonly<Partial<Record<Vital, readonly [number, number]>>> = {
  rr: [10, 23],
  sbp: [95, 215],
  hr: [45, 125],
  spo2: [93, 100],
};
