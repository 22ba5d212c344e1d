/**
 * The scripted scenarios of the simulator (docs/sim.md): clinical deteriorations that ramp vitals,
 * technical faults that break the device, and their placement on a patient's timeline.
 */
import type { Baseline } from './patient-model.js';

export type ScenarioKind = 'clinical' | 'technical' | 'robustness';

/**
 * A scripted scenario. Clinical ones ramp vitals by `delta` over `rampSec` (linear, then held);
 * technical ones break the device; `expect` lists the rule ids of which at least one should
 * alert (empty: nothing should alert). `criterion` says when the event counts as started for
 * time-to-alert: `news2-red` is the first second the noise-free vitals reach a NEWS2 urgent
 * trigger (aggregate >= 5 or a 3 in one parameter), `start` the scenario start, `battery`
 * the moment the battery crosses 15%.
 */
export interface ScenarioDef {
  name: string;
  kind: ScenarioKind;
  description: string;
  /** Ramp length in seconds, or [min, max] drawn per patient. */
  rampSec?: number | readonly [number, number];
  delta?: Partial<Baseline>;
  /** Absolute values to ramp to (per patient: target minus baseline), applied instead of delta for those vitals. */
  target?: Partial<Baseline>;
  /** How long a technical fault lasts (disconnect, skew, bad payloads); default: to the end. */
  durationSec?: number;
  clockSkewMs?: number;
  /** Battery at the start of the scenario and its fall per hour (0..1 units). */
  battery?: { start: number; perHour: number };
  /** Fraction of the device's messages during the scenario that are garbage. */
  badPayloadFraction?: number;
  /** The device sends nothing while the scenario lasts. */
  silent?: boolean;
  expect: readonly string[];
  criterion: 'news2-red' | 'start' | 'battery';
}

export const SCENARIOS: Record<string, ScenarioDef> = {
  sepsis: {
    name: 'sepsis', kind: 'clinical', description: 'sepsis-like: fever, tachycardia, tachypnoea, falling BP and SpO2 over 30-90 min',
    rampSec: [30 * 60, 90 * 60], delta: { hr: 25, rr: 8, temp: 2.2, sbp: -38, dbp: -20, spo2: -5 },
    expect: ['news2', 'hr-high', 'rr-high', 'sbp-low', 'spo2-low', 'hr-rising', 'shock-index'], criterion: 'news2-red',
  },
  hypoxia: {
    name: 'hypoxia', kind: 'clinical', description: 'acute hypoxia: SpO2 falls to 83% in 2 min, RR and HR rise',
    rampSec: 120, delta: { rr: 10, hr: 25 }, target: { spo2: 83 }, expect: ['spo2-low', 'news2', 'rr-high'], criterion: 'news2-red',
  },
  bradycardia: {
    name: 'bradycardia', kind: 'clinical', description: 'HR falls to 35/min over 3 min',
    rampSec: 180, target: { hr: 35 }, expect: ['hr-low', 'news2'], criterion: 'news2-red',
  },
  tachyarrhythmia: {
    name: 'tachyarrhythmia', kind: 'clinical', description: 'fast AF/SVT: HR jumps to 165/min within 30 s',
    rampSec: 30, target: { hr: 165 }, expect: ['hr-high', 'news2', 'hr-rising'], criterion: 'news2-red',
  },
  hypotension: {
    name: 'hypotension', kind: 'clinical', description: 'bleeding-like: SBP falls to 80 over 5 min, compensatory tachycardia',
    rampSec: 300, delta: { hr: 30 }, target: { sbp: 80, dbp: 48 }, expect: ['sbp-low', 'news2', 'hr-high', 'hr-rising', 'shock-index'], criterion: 'news2-red',
  },
  disconnect: {
    name: 'disconnect', kind: 'technical', description: 'the wearable stops sending for 15 min (out of range, switched off)',
    durationSec: 15 * 60, silent: true, expect: ['hr-missing', 'spo2-missing'], criterion: 'start',
  },
  'low-battery': {
    name: 'low-battery', kind: 'technical', description: 'battery at 30% falling 30%/h: crosses 15% after 30 min',
    battery: { start: 0.3, perHour: 0.3 }, expect: ['battery-low'], criterion: 'battery',
  },
  'clock-skew': {
    name: 'clock-skew', kind: 'technical', description: 'device clock jumps 10 min ahead: ingest rejects its samples as future_timestamp',
    durationSec: 20 * 60, clockSkewMs: 10 * 60_000, expect: ['hr-missing', 'spo2-missing'], criterion: 'start',
  },
  'bad-payloads': {
    name: 'bad-payloads', kind: 'robustness', description: 'a 2-minute burst where half the messages are malformed: nothing may alert',
    durationSec: 120, badPayloadFraction: 0.5, expect: [], criterion: 'start',
  },
  // Slow deteriorations (issue 17): each parameter crawls across its NEWS2 band edges for tens of
  // minutes, where noise makes the aggregate flicker. Appended last so the earlier scenarios keep
  // their patients and start times in the seeded deteriorating cohort.
  'sepsis-slow': {
    name: 'sepsis-slow', kind: 'clinical', description: 'sepsis over 60-120 min: temp +2.1 °C, HR +42 and RR +11 in all (fever included), SBP −30, SpO2 −4.5',
    rampSec: [60 * 60, 120 * 60], delta: { hr: 21, rr: 6.8, temp: 2.1, sbp: -30, dbp: -16, spo2: -4.5 },
    expect: ['news2', 'hr-high', 'rr-high', 'sbp-low', 'spo2-low', 'hr-rising', 'shock-index'], criterion: 'news2-red',
  },
  haemorrhage: {
    name: 'haemorrhage', kind: 'clinical', description: 'bleeding over 45-90 min: HR +48, RR +8, SBP −38, DBP −20',
    rampSec: [45 * 60, 90 * 60], delta: { hr: 48, rr: 8, sbp: -38, dbp: -20 },
    expect: ['news2', 'hr-high', 'rr-high', 'sbp-low', 'hr-rising', 'shock-index'], criterion: 'news2-red',
  },
  'hypoxia-slow': {
    name: 'hypoxia-slow', kind: 'clinical', description: 'slow hypoxia over 30-60 min: SpO2 −9, RR +8, HR +15',
    rampSec: [30 * 60, 60 * 60], delta: { spo2: -9, rr: 8, hr: 15 },
    expect: ['spo2-low', 'news2', 'rr-high'], criterion: 'news2-red',
  },
};

/** A scenario placed on a patient's timeline (seconds since the patient's simulation start). */
export interface ScheduledEvent {
  scenario: ScenarioDef;
  startSec: number;
  rampSec: number;
  /** Exclusive end of a technical fault; Infinity for held deteriorations. */
  endSec: number;
}

/** Back-compatible shape of a single deterioration. */
export interface Deterioration {
  name: string;
  onsetSec: number;
  rampSec?: number;
}

function drawRamp(r: ScenarioDef['rampSec'], rand: () => number): number {
  if (r === undefined) return 0;
  if (typeof r === 'number') return r;
  return Math.round(r[0] + rand() * (r[1] - r[0]));
}

/**
 * Place a scenario on a patient's timeline.
 * @param rand - drawn from for a ranged ramp (pass the patient's own for reproducibility)
 */
export function schedule(scenario: ScenarioDef, startSec: number, rand: () => number, rampSec?: number): ScheduledEvent {
  const ramp = rampSec ?? drawRamp(scenario.rampSec, rand);
  const endSec = scenario.durationSec !== undefined ? startSec + scenario.durationSec : Infinity;
  return { scenario, startSec, rampSec: ramp, endSec };
}
