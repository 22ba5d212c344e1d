/**
 * Seeded, reproducible virtual patients (pure: no clock, no I/O).
 * Each patient has baselines, slow circadian drift, measurement noise, and an
 * optional scripted deterioration that moves several vitals together.
 */

/** mulberry32: a tiny, fast, seedable PRNG; good enough for simulation noise. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal from two uniforms (Box-Muller). */
function gauss(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export interface Baseline {
  hr: number;
  spo2: number;
  rr: number;
  temp: number;
  sbp: number;
  dbp: number;
}

/** A scripted change: from `onsetSec`, over `rampSec`, vitals move by `delta` (linear ramp, then held). */
export interface Deterioration {
  name: string;
  onsetSec: number;
  rampSec: number;
  delta: Partial<Baseline>;
}

export const SCENARIOS: Record<string, Omit<Deterioration, 'onsetSec'>> = {
  // Sepsis-like: fever, tachycardia, tachypnoea, falling BP and SpO2 (NEWS2 climbs to >= 7).
  sepsis: { name: 'sepsis', rampSec: 20 * 60, delta: { hr: 45, rr: 12, temp: 2.4, sbp: -35, dbp: -20, spo2: -6 } },
  hypoxia: { name: 'hypoxia', rampSec: 120, delta: { spo2: -13, rr: 10, hr: 25 } },
  bradycardia: { name: 'bradycardia', rampSec: 180, delta: { hr: -35 } },
  tachyarrhythmia: { name: 'tachyarrhythmia', rampSec: 30, delta: { hr: 80 } },
  hypotension: { name: 'hypotension', rampSec: 300, delta: { sbp: -40, dbp: -25, hr: 30 } },
};

export interface PatientSim {
  id: number;
  base: Baseline;
  rand: () => number;
  deterioration: Deterioration | null;
}

export function createPatient(id: number, seed: number, deterioration: Deterioration | null = null): PatientSim {
  const rand = prng(seed * 7919 + id);
  const base: Baseline = {
    hr: 62 + rand() * 24,
    spo2: 96 + rand() * 3,
    rr: 13 + rand() * 5,
    temp: 36.4 + rand() * 0.6,
    sbp: 112 + rand() * 22,
    dbp: 68 + rand() * 12,
  };
  return { id, base, rand, deterioration };
}

function ramp(d: Deterioration | null, tSec: number): number {
  if (!d || tSec < d.onsetSec) return 0;
  return Math.min(1, (tSec - d.onsetSec) / Math.max(1, d.rampSec));
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * The measured vitals of a patient at `tSec` seconds of simulated time.
 * HR and SpO2 every call (1 Hz); RR every 4 s; temperature and cuff BP every 5 minutes.
 */
export function measure(p: PatientSim, tSec: number, epochMs: number): Record<string, number> {
  const k = ramp(p.deterioration, tSec);
  const d = p.deterioration?.delta ?? {};
  // Circadian drift: a slow 24 h sine on HR and temperature.
  const hour = (epochMs / 3600_000) % 24;
  const circ = Math.sin(((hour - 4) / 24) * 2 * Math.PI);
  const v = (m: keyof Baseline, noise: number): number => p.base[m] + (d[m] ?? 0) * k + gauss(p.rand) * noise;
  const out: Record<string, number> = {
    hr: Math.round(clamp(v('hr', 2) + circ * 4, 25, 220)),
    spo2: Math.round(clamp(v('spo2', 0.6), 60, 100)),
  };
  if (tSec % 4 === 0) out.rr = Math.round(clamp(v('rr', 0.8), 4, 60));
  if (tSec % 300 === 0) {
    out.temp = round1(clamp(v('temp', 0.05) + circ * 0.2, 33, 42.5));
    out.sbp = Math.round(clamp(v('sbp', 4), 50, 240));
    out.dbp = Math.round(clamp(v('dbp', 3), 30, 140));
  }
  return out;
}
