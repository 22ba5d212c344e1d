/**
 * Cohorts: which virtual patients, which scripted scenarios when, and the ground truth
 * (JSON lines) that alerts are scored against. The scenario file format (JSON or YAML) is
 * documented in docs/sim.md. Pure apart from parsing text.
 */
import { parse as parseYaml } from 'yaml';
import { onsetSec } from './ground-truth.js';
import { DEFAULT_CUFF_SEC, SCENARIOS, createPatient, prng, schedule, type PatientSim, type ScenarioDef, type ScheduledEvent } from './patient-model.js';

export interface SimDevice {
  deviceId: string;
  patientId: string;
  ward: string;
  bed: string;
}

export const SIM_WARDS = ['4B', '5A'];

/** Synthetic identities: SIM- prefixed, never real MRNs. */
export function simCohort(n: number, wards: readonly string[] = SIM_WARDS, prefix = ''): SimDevice[] {
  return Array.from({ length: n }, (_, i) => {
    const ward = wards[i % wards.length] as string;
    const bed = String(Math.floor(i / wards.length) + 1);
    const num = String(i + 1).padStart(4, '0');
    return { deviceId: `sim-wb-${prefix}${num}`, patientId: `SIM-${prefix}${num}`, ward, bed };
  });
}

export interface EventSpec {
  /** Patient index in the cohort (0-based). */
  patient: number;
  scenario: string;
  /** Seconds after the cohort start. */
  atSec: number;
  rampSec?: number;
}

export interface CohortSpec {
  name: string;
  seed: number;
  patients: number;
  /** Event-time length of an offline run. */
  hours: number;
  /** Event time of second 0 for offline runs, epoch ms. */
  startMs: number;
  artefacts: boolean;
  events: EventSpec[];
  /** Custom scenarios defined in the file, on top of the built-in ones. */
  scenarios: Record<string, ScenarioDef>;
  wards: string[];
  /** Seconds between cuff BP readings (default DEFAULT_CUFF_SEC, 5 min). */
  cuffSec?: number;
}

/** 2026-01-05 00:00 UTC: a fixed, reproducible event-time origin for offline cohorts. */
export const OFFLINE_T0 = Date.UTC(2026, 0, 5);

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "30m", "1.5h" or a number of seconds → seconds; null when neither. */
export function parseDurationSec(x: unknown): number | null {
  if (typeof x === 'number' && Number.isFinite(x) && x >= 0) return x;
  if (typeof x !== 'string') return null;
  const m = DURATION.exec(x.trim());
  return m ? Number(m[1]) * (UNIT[m[2] as string] as number) : null;
}

const CLINICAL_METRICS = ['hr', 'spo2', 'rr', 'temp', 'sbp', 'dbp'];

/**
 * Parse and validate a scenario file (JSON or YAML). Every problem is reported at once.
 */
export function parseCohortText(text: string): { ok: true; spec: CohortSpec } | { ok: false; errors: string[] } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    return { ok: false, errors: [`not YAML or JSON: ${(e as Error).message.split('\n')[0]}`] };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, errors: ['expected an object with patients and events'] };
  const o = doc as Record<string, unknown>;
  const errors: string[] = [];
  const known = new Set(['name', 'seed', 'patients', 'hours', 'start', 'artefacts', 'events', 'scenarios', 'wards', 'cuff']);
  for (const k of Object.keys(o)) if (!known.has(k)) errors.push(`${k}: unknown field`);
  const int = (k: string, def: number, min: number): number => {
    const v = o[k] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      errors.push(`${k}: expected a whole number >= ${min}`);
      return def;
    }
    return v;
  };
  const patients = int('patients', 24, 1);
  const seed = int('seed', 1, 0);
  const hoursRaw = o['hours'] ?? 6;
  const hours = typeof hoursRaw === 'number' && hoursRaw > 0 ? hoursRaw : (errors.push('hours: expected a number > 0'), 6);
  let startMs = OFFLINE_T0;
  if (o['start'] !== undefined) {
    const t = Date.parse(String(o['start']));
    if (Number.isNaN(t)) errors.push('start: expected an ISO-8601 time like 2026-01-05T08:00:00Z');
    else startMs = t;
  }
  const artefacts = o['artefacts'] === undefined ? true : o['artefacts'] === true ? true : o['artefacts'] === false ? false : (errors.push('artefacts: true or false'), true);
  let cuffSec: number | undefined;
  if (o['cuff'] !== undefined) {
    const c = parseDurationSec(o['cuff']);
    if (c === null || c < 60 || !Number.isInteger(c)) errors.push('cuff: expected a whole-second duration of at least 1m like 15m');
    else cuffSec = c;
  }
  let wards = SIM_WARDS;
  if (o['wards'] !== undefined) {
    if (!Array.isArray(o['wards']) || o['wards'].length === 0 || !o['wards'].every((w) => typeof w === 'string' && /^[A-Za-z0-9_-]{1,32}$/.test(w))) errors.push('wards: a list of ward names');
    else wards = o['wards'] as string[];
  }

  const scenarios: Record<string, ScenarioDef> = {};
  if (o['scenarios'] !== undefined) {
    if (typeof o['scenarios'] !== 'object' || o['scenarios'] === null) errors.push('scenarios: expected name → definition');
    else
      for (const [name, raw] of Object.entries(o['scenarios'] as Record<string, unknown>)) {
        const at = `scenarios.${name}`;
        if (typeof raw !== 'object' || raw === null) {
          errors.push(`${at}: expected an object`);
          continue;
        }
        const d = raw as Record<string, unknown>;
        const like = d['like'] === undefined ? undefined : SCENARIOS[String(d['like'])];
        if (d['like'] !== undefined && !like) errors.push(`${at}.like: unknown scenario "${String(d['like'])}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
        const def: ScenarioDef = like
          ? { ...like, name }
          : { name, kind: 'clinical', description: String(d['description'] ?? name), expect: [], criterion: 'news2-red' };
        if (d['description'] !== undefined) def.description = String(d['description']);
        if (d['ramp'] !== undefined) {
          const r = parseDurationSec(d['ramp']);
          if (r === null) errors.push(`${at}.ramp: expected a duration like 20m`);
          else def.rampSec = r;
        }
        if (d['duration'] !== undefined) {
          const r = parseDurationSec(d['duration']);
          if (r === null) errors.push(`${at}.duration: expected a duration like 15m`);
          else def.durationSec = r;
        }
        if (d['delta'] !== undefined) {
          const delta: Record<string, number> = {};
          if (typeof d['delta'] !== 'object' || d['delta'] === null) errors.push(`${at}.delta: expected metric → change`);
          else
            for (const [m, v] of Object.entries(d['delta'] as Record<string, unknown>)) {
              if (!CLINICAL_METRICS.includes(m)) errors.push(`${at}.delta.${m}: unknown metric (${CLINICAL_METRICS.join(', ')})`);
              else if (typeof v !== 'number' || !Number.isFinite(v)) errors.push(`${at}.delta.${m}: expected a number`);
              else delta[m] = v;
            }
          def.delta = delta;
        }
        if (d['expect'] !== undefined) {
          if (!Array.isArray(d['expect']) || !d['expect'].every((x) => typeof x === 'string')) errors.push(`${at}.expect: a list of rule ids`);
          else def.expect = d['expect'] as string[];
        }
        if (!like && def.delta === undefined) errors.push(`${at}: a new scenario needs delta (or like: an existing one)`);
        scenarios[name] = def;
      }
  }

  const events: EventSpec[] = [];
  if (o['events'] !== undefined && !Array.isArray(o['events'])) errors.push('events: expected a list');
  ((o['events'] as unknown[] | undefined) ?? []).forEach((raw, i) => {
    const at = `events[${i}]`;
    if (typeof raw !== 'object' || raw === null) return void errors.push(`${at}: expected an object`);
    const e = raw as Record<string, unknown>;
    const p = e['patient'];
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= patients) errors.push(`${at}.patient: a patient index 0..${patients - 1}`);
    const name = String(e['scenario'] ?? '');
    if (!scenarios[name] && !SCENARIOS[name]) errors.push(`${at}.scenario: unknown scenario "${name}" (known: ${[...Object.keys(SCENARIOS), ...Object.keys(scenarios)].join(', ')})`);
    const atSec = parseDurationSec(e['at']);
    if (atSec === null) errors.push(`${at}.at: expected a duration after the start like 45m`);
    const rampSec = e['ramp'] === undefined ? undefined : parseDurationSec(e['ramp']);
    if (rampSec === null) errors.push(`${at}.ramp: expected a duration like 60m`);
    events.push({ patient: p as number, scenario: name, atSec: atSec ?? 0, ...(rampSec !== undefined && rampSec !== null ? { rampSec } : {}) });
  });
  if (errors.length) return { ok: false, errors };
  return { ok: true, spec: { name: typeof o['name'] === 'string' ? o['name'] : 'cohort', seed, patients, hours, startMs, artefacts, events, scenarios, wards, ...(cuffSec !== undefined ? { cuffSec } : {}) } };
}

/** The stable cohort for false-alert measurement: no scripted events, artefacts on, a full day. */
export function stableCohort(patients = 100, hours = 24, seed = 1001, cuffSec = DEFAULT_CUFF_SEC): CohortSpec {
  return { name: 'stable', seed, patients, hours, startMs: OFFLINE_T0, artefacts: true, events: [], scenarios: {}, wards: SIM_WARDS, cuffSec };
}

/**
 * The deteriorating cohort: `perScenario` patients for each built-in scenario, each starting at a
 * random time between 1 h and 3 h into a run of `hours`, with the same artefacts as the stable cohort.
 */
export function deterioratingCohort(perScenario = 10, hours = 5, seed = 2002, names: readonly string[] = Object.keys(SCENARIOS), cuffSec = DEFAULT_CUFF_SEC): CohortSpec {
  const rand = prng(seed);
  const events: EventSpec[] = [];
  let i = 0;
  for (const scenario of names) for (let k = 0; k < perScenario; k++) events.push({ patient: i++, scenario, atSec: Math.round(3600 + rand() * 7200) });
  // Start at 06:00 so the runs cross the end of the night.
  return { name: 'deteriorating', seed, patients: i, hours, startMs: OFFLINE_T0 + 6 * 3600_000, artefacts: true, events, scenarios: {}, wards: SIM_WARDS, cuffSec };
}

/** One built cohort: patients with their identities and scheduled events. */
export interface BuiltCohort {
  spec: CohortSpec;
  devices: SimDevice[];
  patients: PatientSim[];
}

export function buildCohort(spec: CohortSpec, idPrefix = ''): BuiltCohort {
  const devices = simCohort(spec.patients, spec.wards, idPrefix);
  const byPatient = new Map<number, EventSpec[]>();
  for (const e of spec.events) byPatient.set(e.patient, [...(byPatient.get(e.patient) ?? []), e]);
  const patients = devices.map((_, i) => {
    const p = createPatient(i, spec.seed, [], { artefacts: spec.artefacts, cuffSec: spec.cuffSec ?? DEFAULT_CUFF_SEC });
    for (const e of byPatient.get(i) ?? []) {
      const def = spec.scenarios[e.scenario] ?? (SCENARIOS[e.scenario] as ScenarioDef);
      p.events.push(schedule(def, e.atSec, p.rand, e.rampSec));
    }
    return p;
  });
  return { spec, devices, patients };
}

// ------------------------------------------------------------------ ground truth

export interface TruthCohort {
  v: 1;
  type: 'cohort';
  name: string;
  seed: number;
  fromTs: number;
  toTs: number;
  patients: SimDevice[];
}

export interface TruthEvent {
  v: 1;
  type: 'event';
  patientId: string;
  deviceId: string;
  scenario: string;
  kind: ScenarioDef['kind'];
  /** Scenario start (ramp begins, fault begins). */
  startTs: number;
  /** When it counts as happened (time-to-alert is measured from here); null: never reached. */
  onsetTs: number | null;
  /** End of a fault; null for deteriorations held to the end. */
  endTs: number | null;
  expect: string[];
}

export interface TruthArtefact {
  v: 1;
  type: 'artefact';
  patientId: string;
  kind: 'probe-off' | 'device-off';
  startTs: number;
  endTs: number;
}

export type TruthLine = TruthCohort | TruthEvent | TruthArtefact;

export function cohortTruth(c: BuiltCohort, fromTs: number, toTs: number): TruthCohort {
  return { v: 1, type: 'cohort', name: c.spec.name, seed: c.spec.seed, fromTs, toTs, patients: c.devices };
}

/** Ground truth of each scheduled event; `epochAt0` is the event time of the patients' second 0. */
export function eventTruth(c: BuiltCohort, epochAt0: number): TruthEvent[] {
  const out: TruthEvent[] = [];
  c.patients.forEach((p, i) => {
    const d = c.devices[i] as SimDevice;
    for (const e of p.events) out.push(truthOf(p, d, e, epochAt0));
  });
  return out;
}

function truthOf(p: PatientSim, d: SimDevice, e: ScheduledEvent, epochAt0: number): TruthEvent {
  const on = onsetSec(p, e, epochAt0);
  return {
    v: 1,
    type: 'event',
    patientId: d.patientId,
    deviceId: d.deviceId,
    scenario: e.scenario.name,
    kind: e.scenario.kind,
    startTs: epochAt0 + e.startSec * 1000,
    onsetTs: on === null ? null : epochAt0 + on * 1000,
    endTs: Number.isFinite(e.endSec) ? epochAt0 + e.endSec * 1000 : null,
    expect: [...e.scenario.expect],
  };
}

/** Artefact episodes logged so far (and cleared from the patients), for technical-alert attribution. */
export function drainArtefacts(c: BuiltCohort, epochAt0: number): TruthArtefact[] {
  const out: TruthArtefact[] = [];
  c.patients.forEach((p, i) => {
    for (const a of p.offLog) out.push({ v: 1, type: 'artefact', patientId: (c.devices[i] as SimDevice).patientId, kind: a.kind, startTs: epochAt0 + a.startSec * 1000, endTs: epochAt0 + Math.round(a.endSec * 1000) });
    p.offLog.length = 0;
  });
  return out;
}
