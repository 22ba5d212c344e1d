/**
 * FHIR R4 resources the gateway emits (read-only): vital-signs Observations with LOINC
 * codes and UCUM units [FHIR R4 vital signs profile, observation-vitalsigns], the NEWS2
 * total as an Observation coded in SNOMED CT with its component scores, Bundles and
 * OperationOutcomes. Pure: no I/O, time passed in.
 *
 * Coding notes (shared/clinical/NEWS2.md, design/ANCHORS.md H5 and item 12):
 * - NEWS2 total is SNOMED CT 1104051000000101, never LOINC 88330-6 (a CMS mobility item).
 * - SpO2 is 2708-6 with 59408-5 (pulse oximetry) as a second coding, as US Core does.
 * - Inhaled O2 concentration (3150-0) and flow (3151-8) are not emitted: devices report only
 *   whether the patient is on oxygen, which NEWS2 scores as the air/oxygen component.
 */
import { createHash } from 'node:crypto';
import type { MetricName } from '../../core/vitals.js';

export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';
export const UCUM = 'http://unitsofmeasure.org';
export const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const DATA_ABSENT = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';

export interface Coding {
  system: string;
  code: string;
  display: string;
}

interface VitalDef {
  /** Observation.code codings; the first is the vital-signs profile's code. */
  codings: Coding[];
  text: string;
  unit: string;
  /** The FHIR R4 vital-signs profile the resource claims (and tests validate against). */
  profile: string;
}

export const SD = 'http://hl7.org/fhir/StructureDefinition/';

/** One Observation per sampled metric; sbp and dbp go together into the BP panel. */
export const VITALS: Record<Exclude<MetricName, 'sbp' | 'dbp'>, VitalDef> = {
  rr: { codings: [{ system: LOINC, code: '9279-1', display: 'Respiratory rate' }], text: 'Respiratory rate', unit: '/min', profile: `${SD}resprate` },
  hr: { codings: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }], text: 'Heart rate', unit: '/min', profile: `${SD}heartrate` },
  spo2: {
    codings: [
      { system: LOINC, code: '2708-6', display: 'Oxygen saturation in Arterial blood' },
      { system: LOINC, code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry' },
    ],
    text: 'Oxygen saturation',
    unit: '%',
    profile: `${SD}oxygensat`,
  },
  temp: { codings: [{ system: LOINC, code: '8310-5', display: 'Body temperature' }], text: 'Body temperature', unit: 'Cel', profile: `${SD}bodytemp` },
};
export const BP_PANEL: Coding = { system: LOINC, code: '85354-9', display: 'Blood pressure panel with all children optional' };
export const SBP: Coding = { system: LOINC, code: '8480-6', display: 'Systolic blood pressure' };
export const DBP: Coding = { system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' };

export const NEWS2_TOTAL: Coding = { system: SNOMED, code: '1104051000000101', display: 'Royal College of Physicians National Early Warning Score 2 (NEWS2) total score' };
/** Component score codes [NEWS2.md coding]; SpO2 scale 2 has no code there, so it is sent as text only. */
export const NEWS2_COMPONENTS: Record<'rr' | 'spo2' | 'o2' | 'sbp' | 'hr' | 'acvpu' | 'temp', Coding | null> = {
  rr: { system: SNOMED, code: '1104301000000104', display: 'NEWS2 respiration rate score' },
  spo2: { system: SNOMED, code: '1104311000000102', display: 'NEWS2 SpO2 scale 1 score' },
  o2: { system: SNOMED, code: '1104331000000105', display: 'NEWS2 air or oxygen score' },
  sbp: { system: SNOMED, code: '1104341000000101', display: 'NEWS2 systolic blood pressure score' },
  hr: { system: SNOMED, code: '1104351000000103', display: 'NEWS2 pulse score' },
  acvpu: { system: SNOMED, code: '1104361000000100', display: 'NEWS2 consciousness score' },
  temp: { system: SNOMED, code: '1104371000000107', display: 'NEWS2 temperature score' },
};

/** What `code=` may ask for: Observation.code values this server emits. */
export type SearchKind = keyof typeof VITALS | 'bp' | 'news2';
export function kindsForToken(system: string | null, code: string): SearchKind[] {
  const out: SearchKind[] = [];
  const matches = (c: Coding): boolean => c.code === code && (system === null || system === c.system);
  for (const [k, d] of Object.entries(VITALS) as Array<[keyof typeof VITALS, VitalDef]>) if (d.codings.some(matches)) out.push(k);
  if (matches(BP_PANEL)) out.push('bp');
  if (matches(NEWS2_TOTAL)) out.push('news2');
  return out;
}

export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A literal reference when the patient id is a valid FHIR id, else a logical one by identifier. */
export function subjectOf(patientId: string): Record<string, unknown> {
  return FHIR_ID.test(patientId) ? { reference: `Patient/${patientId}` } : { identifier: { system: 'urn:vitalstream:patient', value: patientId } };
}

/** A deterministic id that carries no patient data: kind, time, and a hash of the patient id. */
export function observationId(kind: string, patientId: string, ts: number): string {
  return `${kind}-${ts}-${patientHash(patientId)}`;
}

/** The hash part of observationId: what an id read matches patients by. */
export function patientHash(patientId: string): string {
  return createHash('sha256').update(patientId).digest('hex').slice(0, 12);
}

export type ObservationKind = SearchKind;
const KINDS = new Set<string>(['rr', 'hr', 'spo2', 'temp', 'bp', 'news2']);

/** An Observation id taken apart: kind, event time and patient hash; null when it is not one of ours. */
export function parseObservationId(id: string): { kind: ObservationKind; ts: number; hash: string } | null {
  const m = /^([a-z0-9]+)-(\d{1,15})-([0-9a-f]{12})$/.exec(id);
  if (!m || !KINDS.has(m[1] as string)) return null;
  return { kind: m[1] as ObservationKind, ts: Number(m[2]), hash: m[3] as string };
}

const iso = (ts: number): string => new Date(ts).toISOString();
const vitalCategory = [{ coding: [{ system: OBS_CATEGORY, code: 'vital-signs', display: 'Vital Signs' }], text: 'Vital Signs' }];
const quantity = (value: number, unit: string): Record<string, unknown> => ({ value, unit, system: UCUM, code: unit });

export function vitalObservation(kind: keyof typeof VITALS, patientId: string, ts: number, value: number): Record<string, unknown> {
  const d = VITALS[kind];
  return {
    resourceType: 'Observation',
    id: observationId(kind, patientId, ts),
    meta: { profile: [d.profile] },
    status: 'final',
    category: vitalCategory,
    code: { coding: d.codings, text: d.text },
    subject: subjectOf(patientId),
    effectiveDateTime: iso(ts),
    valueQuantity: quantity(value, d.unit),
  };
}

export function bpObservation(patientId: string, ts: number, sbp: number | null, dbp: number | null): Record<string, unknown> {
  const comp = (c: Coding, v: number | null): Record<string, unknown> =>
    v === null
      ? { code: { coding: [c], text: c.display }, dataAbsentReason: { coding: [{ system: DATA_ABSENT, code: 'unknown', display: 'Unknown' }] } }
      : { code: { coding: [c], text: c.display }, valueQuantity: quantity(v, 'mm[Hg]') };
  return {
    resourceType: 'Observation',
    id: observationId('bp', patientId, ts),
    meta: { profile: [`${SD}bp`] },
    status: 'final',
    category: vitalCategory,
    code: { coding: [BP_PANEL], text: 'Blood pressure' },
    subject: subjectOf(patientId),
    effectiveDateTime: iso(ts),
    component: [comp(SBP, sbp), comp(DBP, dbp)],
  };
}

/** The gateway's view of a `news2.scores` message (stream-rules/engine/engine.ts ScoreOutput). */
export interface ScoreLike {
  ts: number;
  score: number;
  maxScore?: number;
  risk?: string;
  complete?: boolean;
  scale?: 1 | 2;
  components?: Partial<Record<keyof typeof NEWS2_COMPONENTS, number>>;
  missing?: string[];
  /** Event time of the sample each scored value came from (absent on older scores). */
  inputTs?: Partial<Record<keyof typeof NEWS2_COMPONENTS, number>>;
}

/**
 * The ids of the Observations a score used, from what the score itself recorded (so two
 * reads of one score agree). Air/oxygen and ACVPU are not served as Observations.
 */
export function news2DerivedFrom(patientId: string, sc: ScoreLike): string[] {
  const t = sc.inputTs ?? {};
  const out: string[] = [];
  for (const k of ['rr', 'spo2', 'hr', 'temp'] as const) {
    const ts = t[k];
    if (typeof ts === 'number' && Number.isFinite(ts)) out.push(observationId(k, patientId, ts));
  }
  if (typeof t.sbp === 'number' && Number.isFinite(t.sbp)) out.push(observationId('bp', patientId, t.sbp));
  return out;
}

/**
 * The NEWS2 total as an Observation. A partial score (parameters missing) is a lower
 * bound: status `preliminary`, the missing components carry a dataAbsentReason.
 * `derivedFrom` names the vital-sign Observations the scorer used, as the score recorded them.
 */
export function news2Observation(patientId: string, sc: ScoreLike): Record<string, unknown> {
  const derivedFrom = news2DerivedFrom(patientId, sc);
  const missing = new Set(sc.missing ?? []);
  const component = (Object.keys(NEWS2_COMPONENTS) as Array<keyof typeof NEWS2_COMPONENTS>).map((k) => {
    const coding = k === 'spo2' && sc.scale === 2 ? null : NEWS2_COMPONENTS[k];
    const code = coding ? { coding: [coding], text: coding.display } : { text: 'NEWS2 SpO2 scale 2 score' };
    const v = sc.components?.[k];
    if (missing.has(k) || typeof v !== 'number') return { code, dataAbsentReason: { coding: [{ system: DATA_ABSENT, code: 'unknown', display: 'Unknown' }] } };
    return { code, valueInteger: v };
  });
  const complete = sc.complete !== false && missing.size === 0;
  return {
    resourceType: 'Observation',
    id: observationId('news2', patientId, sc.ts),
    status: complete ? 'final' : 'preliminary',
    category: [{ coding: [{ system: OBS_CATEGORY, code: 'survey', display: 'Survey' }], text: 'Early warning score' }],
    code: { coding: [NEWS2_TOTAL], text: 'NEWS2 total score' },
    subject: subjectOf(patientId),
    effectiveDateTime: iso(sc.ts),
    valueInteger: sc.score,
    ...(sc.risk ? { interpretation: [{ text: `clinical risk: ${sc.risk}` }] } : {}),
    ...(complete ? {} : { note: [{ text: `partial: ${[...missing].join(', ')} missing; the total is a lower bound (at most ${sc.maxScore ?? '?'})` }] }),
    ...(derivedFrom.length ? { derivedFrom: derivedFrom.map((id) => ({ reference: `Observation/${id}` })) } : {}),
    component,
  };
}

