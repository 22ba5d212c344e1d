/**
 * IHE PCD-01 (Device Enterprise Communication) `ORU^R01` to canonical observations. Pure: the
 * caller resolves equipment to registered devices, checks the patient and validates ranges with
 * the same code as MQTT payloads (core/payload.ts).
 *
 * Read: MSH-3/4/7/9/10/11/12, PID-3, OBR-7, OBX-2/3/5/6/8/11/14/18. One canonical sample per
 * (equipment, observation time); see docs/protocol.md "HL7 v2 / MLLP".
 */
import type { MetricName } from '../vitals.js';
import { HL7_ERROR, type Hl7Error } from './ack.js';
import { MDC_OBSERVATIONS, NOT_A_MEASUREMENT, QUESTIONABLE, QUESTIONABLE_QUALITY, mdcCodeOf, unitConversion } from './mdc.js';
import { firstSegment, parseHl7Time, repetitions, valueOf, type Hl7Message, type Hl7Segment } from './message.js';

export interface OruHeader {
  controlId: string;
  /** Raw MSH-3 / MSH-4 (echoed in the ACK). */
  sendingApplication: string;
  sendingFacility: string;
  version: string;
}

/** Why an observation was skipped without it being an error (each counted by a metric). */
export const IGNORE_REASONS = ['unknown_code', 'not_final', 'not_measured', 'no_value', 'not_carried', 'superseded'] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

/** The observations of one piece of equipment at one time, in canonical units (ranges not yet checked). */
export interface ObservationGroup {
  equipmentId: string;
  ts: number;
  metrics: Partial<Record<MetricName, number>>;
  quality: Partial<Record<MetricName, number>>;
  /** 1-based OBX sequence of each value, to point an error at it. */
  obx: Partial<Record<MetricName, number>>;
}

export interface OruContent {
  header: OruHeader;
  /** PID-3 identifiers (CX.1 of every repetition). */
  patientIds: string[];
  groups: ObservationGroup[];
  ignored: Partial<Record<IgnoreReason, number>>;
  /** Values that could not be read (wrong type, unit or time): dropped with a warning or error. */
  problems: Hl7Error[];
}

export type OruResult = { ok: true; content: OruContent } | { ok: false; ack: 'AE' | 'AR'; header: OruHeader; error: Hl7Error };

const FINAL = new Set(['F', 'C']);
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const EQUIPMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const at = (segment: string, sequence: number, field: number): Hl7Error['location'] => ({ segment, sequence, field });

function headerOf(m: Hl7Message, msh: Hl7Segment): OruHeader {
  return {
    controlId: valueOf(msh, 10, m.delimiters),
    sendingApplication: msh.fields[3] ?? '',
    sendingFacility: msh.fields[4] ?? '',
    version: valueOf(msh, 12, m.delimiters),
  };
}

/** MSH checks that decide whether the message is for us at all (AR when not). */
function checkHeader(m: Hl7Message, msh: Hl7Segment): Hl7Error | null {
  const d = m.delimiters;
  const fail = (code: number, field: number, text: string): Hl7Error => ({ code, severity: 'E', location: at('MSH', 1, field), text });
  if (valueOf(msh, 10, d) === '') return fail(HL7_ERROR.requiredFieldMissing, 10, 'MSH-10 message control id is empty');
  if (valueOf(msh, 9, d, 1) !== 'ORU') return fail(HL7_ERROR.unsupportedMessageType, 9, 'only ORU messages are accepted');
  if (valueOf(msh, 9, d, 2) !== 'R01') return fail(HL7_ERROR.unsupportedEventCode, 9, 'only ORU^R01 is accepted');
  // Training and debug messages are not about real patients: never scored.
  if (valueOf(msh, 11, d) !== 'P') return fail(HL7_ERROR.unsupportedProcessingId, 11, 'only processing id P (production) is accepted');
  if (!/^2\.[3-9](\.\d+)?$/.test(valueOf(msh, 12, d))) return fail(HL7_ERROR.unsupportedVersionId, 12, 'HL7 version 2.3 to 2.9 expected');
  return null;
}

/** Map one parsed message. `problems` are per-value; a failed result is about the whole message. */
export function mapOruR01(m: Hl7Message): OruResult {
  const d = m.delimiters;
  const msh = m.segments[0] as Hl7Segment;
  const header = headerOf(m, msh);
  const bad = checkHeader(m, msh);
  if (bad) return { ok: false, ack: 'AR', header, error: bad };

  const pid = firstSegment(m, 'PID');
  const patientIds = pid ? repetitions(pid, 3, d).map((_, i) => valueOf(pid, 3, d, 1, 1, i)).filter((s) => s !== '') : [];
  if (patientIds.length === 0) return { ok: false, ack: 'AE', header, error: { code: HL7_ERROR.requiredFieldMissing, severity: 'E', location: at('PID', 1, 3), text: 'PID-3 patient identifier is required to check the assignment' } };

  const obxCount = m.segments.filter((s) => s.name === 'OBX').length;
  if (obxCount === 0) return { ok: false, ack: 'AE', header, error: { code: HL7_ERROR.segmentSequence, severity: 'E', location: null, text: 'no OBX segment' } };

  const msgTime = valueOf(msh, 7, d);
  const senderEquipment = valueOf(msh, 3, d, 2) || valueOf(msh, 3, d, 1);
  const groups = new Map<string, ObservationGroup & { rank: Partial<Record<MetricName, number>> }>();
  const ignored: Partial<Record<IgnoreReason, number>> = {};
  const problems: Hl7Error[] = [];
  const ignore = (r: IgnoreReason): void => void (ignored[r] = (ignored[r] ?? 0) + 1);
  let obrTime = '';
  let equipment = '';
  let seq = 0;

  for (const seg of m.segments) {
    if (seg.name === 'OBR') {
      obrTime = valueOf(seg, 7, d);
      equipment = '';
      continue;
    }
    if (seg.name !== 'OBX') continue;
    seq++;
    const problem = (code: number, field: number, text: string): void => void problems.push({ code, severity: 'E', location: at('OBX', seq, field), text });
    // The equipment instance (OBX-18) is usually on the MDS-level OBX and holds for the metrics below it.
    equipment = valueOf(seg, 18, d, 1) || equipment;
    const code = mdcCodeOf(valueOf(seg, 3, d, 1), valueOf(seg, 3, d, 2));
    const def = code === null ? undefined : MDC_OBSERVATIONS.get(code);
    if (!def) {
      ignore('unknown_code');
      continue;
    }
    if (!FINAL.has(valueOf(seg, 11, d))) {
      ignore('not_final');
      continue;
    }
    const flags = repetitions(seg, 8, d).map((_, i) => valueOf(seg, 8, d, 1, 1, i).toLowerCase());
    if (flags.some((f) => NOT_A_MEASUREMENT.has(f))) {
      ignore('not_measured');
      continue;
    }
    const raw = valueOf(seg, 5, d);
    if (raw === '') {
      ignore('no_value');
      continue;
    }
    if (valueOf(seg, 2, d) !== 'NM' || !NUMBER.test(raw)) {
      problem(HL7_ERROR.dataType, 5, `${def.refId} value is not numeric (OBX-2 NM expected)`);
      continue;
    }
    const convert = unitConversion(def.metric ?? 'map', {
      id: valueOf(seg, 6, d, 1),
      text: valueOf(seg, 6, d, 2),
      system: valueOf(seg, 6, d, 3),
      altId: valueOf(seg, 6, d, 4),
      altSystem: valueOf(seg, 6, d, 6),
    });
    if (!convert) {
      problem(HL7_ERROR.tableValueNotFound, 6, `${def.refId} unit is missing or not a unit of this measurement`);
      continue;
    }
    const timeText = valueOf(seg, 14, d) || obrTime || msgTime;
    const ts = parseHl7Time(timeText);
    if (typeof ts !== 'number') {
      problem(HL7_ERROR.dataType, 14, ts === 'no_offset' ? 'observation time has no UTC offset' : 'observation time (OBX-14, else OBR-7, else MSH-7) is missing or not an HL7 DTM');
      continue;
    }
    const equipmentId = equipment || senderEquipment;
    if (!EQUIPMENT_ID.test(equipmentId)) {
      problem(HL7_ERROR.requiredFieldMissing, 18, 'equipment instance identifier (OBX-18, else MSH-3) is missing or not a device id');
      continue;
    }
    if (def.metric === null) {
      ignore('not_carried');
      continue;
    }
    const key = `${equipmentId}\u0000${ts}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { equipmentId, ts, metrics: {}, quality: {}, obx: {}, rank: {} }));
    const m2 = def.metric;
    const prev = g.rank[m2];
    if (prev !== undefined && prev <= def.rank) {
      ignore('superseded');
      continue;
    }
    if (prev !== undefined) ignore('superseded');
    g.metrics[m2] = round2(convert(Number(raw)));
    g.rank[m2] = def.rank;
    g.obx[m2] = seq;
    if (flags.some((f) => QUESTIONABLE.has(f))) g.quality[m2] = QUESTIONABLE_QUALITY;
    else delete g.quality[m2];
  }
  const out = [...groups.values()].map(({ rank: _rank, ...g }) => g);
  return { ok: true, content: { header, patientIds, groups: out, ignored, problems } };
}

/** Two decimals after a unit conversion, so 98.6 degF is 37, not 36.99999. */
function round2(x: number): number {
  return Math.round((x + Number.EPSILON * Math.sign(x)) * 100) / 100;
}
