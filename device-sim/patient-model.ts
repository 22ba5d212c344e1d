/**
 * Seeded, reproducible virtual patients (pure: no clock, no I/O; time is passed in).
 *
 * A patient has per-patient baselines and traits, slow physiological variation (an
 * Ornstein-Uhlenbeck walk per vital), circadian drift, activity bouts (walking raises HR and
 * RR for minutes), nocturnal desaturation dips in some patients, measurement noise, and
 * device artefacts: motion (noisy values, low quality; a few slip through with passable
 * quality), SpO2 probe off (flat-lined SpO2 at quality 0) and the wearable taken off
 * (nothing sent). Scripted scenarios (SCENARIOS) move several vitals together (fever raises
 * HR and RR) or break the device (disconnect, low battery, clock skew, bad payloads).
 * The same seed and the same call sequence give the same observations. docs/sim.md
 * describes the model, the scenarios and the ground truth.
 */
import { CIRCADIAN, FEVER_HR_PER_C, FEVER_RR_PER_C, HOMEOSTASIS, WALK } from './physiology-params.js';
import { SCENARIOS, schedule, type Deterioration, type ScheduledEvent } from './scenarios.js';

// The scenarios (scenarios.ts) and the ground truth (ground-truth.ts) have their own modules; the
// scenarios are re-exported here, where callers have always found them.
export { HOMEOSTASIS } from './physiology-params.js';
export { SCENARIOS, schedule, type Deterioration, type ScenarioDef, type ScenarioKind, type ScheduledEvent } from './scenarios.js';

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
type Vital = keyof Baseline;
const VITALS: readonly Vital[] = ['hr', 'spo2', 'rr', 'temp', 'sbp', 'dbp'];

export interface Traits {
  /** Multiplies the slow variation and noise. */
  lability: number;
  /** Activity bouts per hour while awake. */
  activityPerHour: number;
  /** Nocturnal desaturation dips per hour asleep (0 for most patients). */
  dipsPerHour: number;
  /** Motion artefacts per hour awake (a third of that asleep). */
  motionPerHour: number;
  /** Probe-off and wearable-off episodes per day. */
  probeOffPerDay: number;
  deviceOffPerDay: number;
}

export interface ModelOptions {
  /** Physiological events and device artefacts (default true); false gives a clean patient. */
  artefacts?: boolean;
  /** Seconds between automatic cuff BP readings (default 300; issue 17 describes 900 for a ward wearable). */
  cuffSec?: number;
}

/** Default cuff cadence: every 5 minutes (the figures in BENCHMARKS.md name the cadence they used). */
export const DEFAULT_CUFF_SEC = 300;

interface Episode {
  kind: 'activity' | 'dip' | 'motion' | 'probe-off' | 'device-off';
  endSec: number;
  /** Size of the effect (activity HR rise, dip depth, motion error scale). */
  size: number;
  /** Motion artefact that the device's quality index misses. */
  passable: boolean;
}

export interface PatientSim {
  id: number;
  base: Baseline;
  traits: Traits;
  rand: () => number;
  events: ScheduledEvent[];
  artefacts: boolean;
  /** Seconds between cuff BP readings. */
  cuffSec: number;
  /** OU deviations per vital. */
  walk: Record<Vital, number>;
  episodes: Episode[];
  lastSec: number;
  lastSpo2: number;
  battery: number;
  /** Back-compatible view of the first clinical event. */
  deterioration: Deterioration | null;
  /** Device-off and probe-off episodes started so far (ground truth for technical alerts). */
  offLog: { kind: 'probe-off' | 'device-off'; startSec: number; endSec: number }[];
}

/**
 * A virtual patient.
 * @param id - index in the cohort (mixed into the seed)
 * @param seed - cohort seed
 * @param events - scripted scenarios, or one legacy deterioration `{name, onsetSec}`
 */
export function createPatient(
  id: number,
  seed: number,
  events: ScheduledEvent[] | Deterioration | null = null,
  opts: ModelOptions = {},
): PatientSim {
  const rand = prng(seed * 7919 + id);
  const base: Baseline = {
    hr: 60 + rand() * 28,
    spo2: 94.5 + rand() * 4,
    rr: 12.5 + rand() * 6,
    temp: 36.3 + rand() * 0.8,
    sbp: 108 + rand() * 36,
    dbp: 64 + rand() * 18,
  };
  const traits: Traits = {
    lability: 0.7 + rand() * 0.7,
    activityPerHour: 0.1 + rand() * 0.3,
    dipsPerHour: rand() < 0.3 ? 0.5 + rand() * 1.5 : 0,
    motionPerHour: 1 + rand() * 4,
    probeOffPerDay: rand() * 3,
    deviceOffPerDay: rand() * 1.5,
  };
  let evs: ScheduledEvent[];
  if (events === null) evs = [];
  else if (Array.isArray(events)) evs = events;
  else {
    const def = SCENARIOS[events.name];
    if (!def) throw new Error(`unknown scenario "${events.name}"`);
    evs = [schedule(def, events.onsetSec, rand, events.rampSec)];
  }
  const walk = { hr: 0, spo2: 0, rr: 0, temp: 0, sbp: 0, dbp: 0 };
  for (const v of VITALS) walk[v] = gauss(rand) * WALK[v].sd * traits.lability;
  const first = evs.find((e) => e.scenario.kind === 'clinical');
  const battery = 0.6 + rand() * 0.4;
  return {
    id,
    base,
    traits,
    rand,
    events: evs,
    artefacts: opts.artefacts ?? true,
    cuffSec: opts.cuffSec ?? DEFAULT_CUFF_SEC,
    walk,
    episodes: [],
    lastSec: Number.NaN,
    lastSpo2: Math.round(base.spo2),
    battery,
    deterioration: first ? { name: first.scenario.name, onsetSec: first.startSec, rampSec: first.rampSec } : null,
    offLog: [],
  };
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Hour of day (UTC; the sim treats event time as ward-local) of an epoch time. */
function hourOf(epochMs: number): number {
  return (((epochMs / 3600_000) % 24) + 24) % 24;
}
const asleep = (hour: number): boolean => hour >= 23 || hour < 7;

/** Scripted clinical change of each vital at tSec, with fever coupling. */
function scriptedDelta(p: PatientSim, tSec: number): Baseline {
  const d: Baseline = { hr: 0, spo2: 0, rr: 0, temp: 0, sbp: 0, dbp: 0 };
  for (const e of p.events) {
    const s = e.scenario;
    if (s.kind !== 'clinical' || tSec < e.startSec) continue;
    const k = Math.min(1, (tSec - e.startSec) / Math.max(1, e.rampSec));
    for (const v of VITALS) {
      const t = s.target?.[v];
      d[v] += (t !== undefined ? t - p.base[v] : (s.delta?.[v] ?? 0)) * k;
    }
  }
  if (d.temp > 0) {
    d.hr += d.temp * FEVER_HR_PER_C;
    d.rr += d.temp * FEVER_RR_PER_C;
  }
  return d;
}

/**
 * Noise-free vitals: baseline, circadian drift and scripted change (no walk, no noise, no
 * artefacts). Used for ground truth: when the patient "really" reached a clinical state.
 */
export function trueVitals(p: PatientSim, tSec: number, epochMs: number): Baseline {
  const circ = Math.sin(((hourOf(epochMs) - 10) / 24) * 2 * Math.PI);
  const d = scriptedDelta(p, tSec);
  const out = { ...p.base };
  for (const v of VITALS) out[v] = p.base[v] + CIRCADIAN[v] * circ + d[v];
  return out;
}

/**
 * Noise-free vitals plus the slow wander, the patient's own level held inside HOMEOSTASIS; the
 * scripted change comes on top. Inside the range the value is exactly trueVitals + walk.
 */
function wandered(p: PatientSim, tSec: number, epochMs: number): Baseline {
  const v = trueVitals(p, tSec, epochMs);
  const circ = Math.sin(((hourOf(epochMs) - 10) / 24) * 2 * Math.PI);
  for (const k of VITALS) {
    v[k] += p.walk[k];
    const range = HOMEOSTASIS[k];
    if (range === undefined) continue;
    const own = p.base[k] + CIRCADIAN[k] * circ + p.walk[k];
    if (own < range[0] || own > range[1]) v[k] += clamp(own, range[0], range[1]) - own;
  }
  return v;
}

/**
 * The patient's physiological state now: noise-free vitals plus the slow wander, an activity bout
 * and a nocturnal dip, as `observe` adds them, without measurement noise or device artefacts. Used
 * to tell a false alert that the physiology itself warranted from one the measurements made up.
 * Draws nothing from the PRNG, so calling it does not change the stream.
 */
export function physiology(p: PatientSim, tSec: number, epochMs: number): Baseline {
  const v = wandered(p, tSec, epochMs);
  const act = p.episodes.find((e) => e.kind === 'activity');
  const dip = p.episodes.find((e) => e.kind === 'dip');
  if (act) {
    v.hr += act.size;
    v.rr += act.size / 6;
    v.sbp += act.size / 3;
  }
  if (dip) v.spo2 -= dip.size;
  return v;
}

/** One device message, before it is serialised: what the wearable would publish at this second. */
export interface Observation {
  /** Device clock (event time plus any scripted skew), epoch ms. */
  ts: number;
  metrics: Partial<Baseline>;
  quality: Partial<Record<Vital, number>>;
  battery: number;
  /** A malformed message to send instead of the sample (bad-payloads scenario). */
  garbage?: string;
}

const GARBAGE = [
  '{"hr":',
  '[1,2,3]',
  '{"hr":"seventy"}',
  '{"spo2":180}',
  '{"temp":5,"hr":-3}',
  '{"units":{"temp":"kelvin"},"temp":310}',
  '{"quality":{"spo2":0.9}}',
  'null',
];

function startEpisodes(p: PatientSim, tSec: number, dt: number, hour: number): void {
  const r = p.rand;
  const tr = p.traits;
  const sleeping = asleep(hour);
  const perSec = (perHour: number): number => (perHour * dt) / 3600;
  const has = (k: Episode['kind']): boolean => p.episodes.some((e) => e.kind === k);
  if (!sleeping && !has('activity') && r() < perSec(tr.activityPerHour)) {
    p.episodes.push({ kind: 'activity', endSec: tSec + 120 + r() * 480, size: 10 + r() * 20, passable: false });
  }
  if (sleeping && !has('dip') && r() < perSec(tr.dipsPerHour)) {
    p.episodes.push({ kind: 'dip', endSec: tSec + 15 + r() * 60, size: 2 + r() * 5, passable: false });
  }
  if (!has('motion') && r() < perSec(tr.motionPerHour * (sleeping ? 0.3 : 1))) {
    const passable = r() < 0.1;
    p.episodes.push({ kind: 'motion', endSec: tSec + 5 + r() * (passable ? 30 : 55), size: passable ? 0.4 : 1, passable });
  }
  if (!has('probe-off') && r() < perSec(tr.probeOffPerDay / 24)) {
    const endSec = tSec + 60 + r() * 14 * 60;
    p.episodes.push({ kind: 'probe-off', endSec, size: 0, passable: false });
    p.offLog.push({ kind: 'probe-off', startSec: tSec, endSec });
  }
  if (!has('device-off') && !sleeping && r() < perSec(tr.deviceOffPerDay / 16)) {
    const endSec = tSec + 5 * 60 + r() * 35 * 60;
    p.episodes.push({ kind: 'device-off', endSec, size: 0, passable: false });
    p.offLog.push({ kind: 'device-off', startSec: tSec, endSec });
  }
}

/**
 * What the device sends at `tSec` (seconds since the patient's start; calls must go forward in time,
 * at any step). HR and SpO2 every call, RR every 4 s, temperature every 5 minutes, cuff BP every
 * `p.cuffSec` (5 minutes unless set).
 * @returns null when the device sends nothing this second (taken off, disconnected)
 */
export function observe(p: PatientSim, tSec: number, epochMs: number): Observation | null {
  const dt = Number.isNaN(p.lastSec) ? 1 : Math.max(0, tSec - p.lastSec);
  const prevSec = Number.isNaN(p.lastSec) ? tSec - 1 : p.lastSec;
  p.lastSec = tSec;
  const r = p.rand;
  const hour = hourOf(epochMs);

  // Slow variation (OU) and the episode book-keeping advance whether or not anything is sent.
  for (const v of VITALS) {
    const { sd, tau } = WALK[v];
    const a = Math.exp(-dt / tau);
    p.walk[v] = p.walk[v] * a + sd * p.traits.lability * Math.sqrt(1 - a * a) * gauss(r);
  }
  p.episodes = p.episodes.filter((e) => e.endSec > tSec);
  if (p.artefacts && dt > 0) startEpisodes(p, tSec, dt, hour);

  // Battery drains ~1%/h; a scripted low battery overrides it.
  p.battery = Math.max(0.01, p.battery - (0.01 * dt) / 3600);
  let battery = p.battery;
  let skew = 0;
  let garbageP = 0;
  for (const e of p.events) {
    if (tSec < e.startSec || tSec >= e.endSec) continue;
    const s = e.scenario;
    if (s.silent) return null;
    if (s.battery) battery = Math.max(0.01, s.battery.start - (s.battery.perHour * (tSec - e.startSec)) / 3600);
    if (s.clockSkewMs) skew += s.clockSkewMs;
    if (s.badPayloadFraction) garbageP = s.badPayloadFraction;
  }
  if (p.episodes.some((e) => e.kind === 'device-off')) return null;
  const ts = Math.round(epochMs + skew);
  if (garbageP > 0 && r() < garbageP) return { ts, metrics: {}, quality: {}, battery, garbage: GARBAGE[Math.floor(r() * GARBAGE.length)] as string };

  const level = wandered(p, tSec, epochMs);
  const act = p.episodes.find((e) => e.kind === 'activity');
  const dip = p.episodes.find((e) => e.kind === 'dip');
  const motion = p.episodes.find((e) => e.kind === 'motion');
  const probeOff = p.episodes.some((e) => e.kind === 'probe-off');
  const noise = (v: Vital): number => gauss(r) * WALK[v].noise;
  const value = (v: Vital): number => level[v] + noise(v);

  let hr = value('hr') + (act ? act.size : 0);
  let spo2 = value('spo2') - (dip ? dip.size : 0);
  const q: Partial<Record<Vital, number>> = { hr: 0.9 + r() * 0.1, spo2: 0.85 + r() * 0.15 };
  if (motion) {
    hr += gauss(r) * 25 * motion.size + (motion.passable ? 15 : 0);
    spo2 -= Math.abs(gauss(r)) * 8 * motion.size;
    q.hr = motion.passable ? 0.5 + r() * 0.2 : 0.05 + r() * 0.4;
    q.spo2 = motion.passable ? 0.5 + r() * 0.2 : 0.05 + r() * 0.4;
  }
  const out: Observation = { ts, metrics: {}, quality: q, battery: Math.round(battery * 1000) / 1000 };
  out.metrics.hr = Math.round(clamp(hr, 25, 240));
  if (probeOff) {
    // The probe fell off: a flat line at the last reading, flagged as no signal.
    out.metrics.spo2 = p.lastSpo2;
    q.spo2 = 0;
  } else {
    out.metrics.spo2 = Math.round(clamp(spo2, 50, 100));
    if (!motion) p.lastSpo2 = out.metrics.spo2;
  }
  const crossed = (period: number): boolean => Math.floor(tSec / period) !== Math.floor(prevSec / period) || tSec === 0;
  if (crossed(4)) {
    out.metrics.rr = Math.round(clamp(value('rr') + (act ? act.size / 6 : 0), 4, 60));
    q.rr = motion ? q.hr : 0.9;
  }
  // The cuff's values are drawn on every 5-minute boundary whatever the cadence, so a cohort with a
  // 10- or 15-minute cuff is the same patients with the other readings left out (same random stream).
  let sbp: number | undefined;
  let dbp: number | undefined;
  const cuffValues = (): void => {
    sbp = Math.round(clamp(value('sbp') + (act ? act.size / 3 : 0), 50, 240));
    dbp = Math.round(clamp(value('dbp'), 30, 140));
  };
  if (crossed(300)) {
    out.metrics.temp = round1(clamp(value('temp'), 33, 42.5));
    q.temp = 1;
    cuffValues();
  }
  if (crossed(p.cuffSec)) {
    if (sbp === undefined) cuffValues();
    out.metrics.sbp = sbp;
    out.metrics.dbp = dbp;
    q.sbp = 1;
    q.dbp = 1;
  }
  return out;
}

/** The device payload (docs/protocol.md) of an observation, as the wearable would publish it. */
export function payloadOf(o: Observation): string {
  if (o.garbage !== undefined) return o.garbage;
  return JSON.stringify({ ts: o.ts, ...o.metrics, quality: o.quality, battery: o.battery });
}

/**
 * Back-compatible: the measured vitals at `tSec` of a clean patient (metrics only;
 * an empty object when the device sends nothing).
 */
export function measure(p: PatientSim, tSec: number, epochMs: number): Record<string, number> {
  const o = observe(p, tSec, epochMs);
  return o ? ({ ...o.metrics } as Record<string, number>) : {};
}
