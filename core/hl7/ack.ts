/**
 * The accept acknowledgement (original mode) that answers every message: `MSA|AA` accepted,
 * `AE` error in the content (resending the same message will not help), `AR` rejected (unknown
 * sender, unsupported message, identity check failed). Errors travel in ERR segments (HL7 v2.5+
 * layout: location, HL7 table 0357 code, severity, user message). Pure.
 */
import { escapeHl7, formatHl7Time, type Hl7Delimiters } from './message.js';

export type AckCode = 'AA' | 'AE' | 'AR';

/** HL7 table 0357 (message error condition codes) entries we use. */
export const HL7_ERROR = {
  segmentSequence: 100,
  requiredFieldMissing: 101,
  dataType: 102,
  tableValueNotFound: 103,
  unsupportedMessageType: 200,
  unsupportedEventCode: 201,
  unsupportedProcessingId: 202,
  unsupportedVersionId: 203,
  unknownKeyIdentifier: 204,
  applicationInternalError: 207,
} as const;

const ERROR_TEXT: Record<number, string> = {
  100: 'Segment sequence error',
  101: 'Required field missing',
  102: 'Data type error',
  103: 'Table value not found',
  200: 'Unsupported message type',
  201: 'Unsupported event code',
  202: 'Unsupported processing id',
  203: 'Unsupported version id',
  204: 'Unknown key identifier',
  207: 'Application internal error',
};

export interface Hl7Error {
  code: number;
  /** E: this error decided the ACK code; W: a value was dropped, the rest was accepted. */
  severity: 'E' | 'W';
  /** ERL: segment id, segment sequence (1-based), field; null when the message as a whole. */
  location: { segment: string; sequence: number; field: number } | null;
  /** Says why, for the gateway's operator; never carries patient data. */
  text: string;
}

export interface AckInput {
  code: AckCode;
  /** MSH-10 of the message answered ('' when it could not be read). */
  controlId: string;
  /** Raw MSH-3 and MSH-4 of the message answered: they become the ACK's receiving application/facility. */
  sendingApplication: string;
  sendingFacility: string;
  version: string;
  /** MSH-10 of the ACK itself. */
  ackControlId: string;
  now: number;
  errors: readonly Hl7Error[];
}

const STANDARD: Hl7Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };

/** ERR segments kept in one ACK: enough to diagnose, bounded whatever the message held. */
export const MAX_ERR_SEGMENTS = 20;

export function buildAck(a: AckInput): string {
  const e = (s: string): string => escapeHl7(s, STANDARD);
  const version = /^2\.\d{1,2}(\.\d{1,2})?$/.test(a.version) ? a.version : '2.6';
  const segs = [
    `MSH|^~\\&|VITALSTREAM|VITALSTREAM|${a.sendingApplication}|${a.sendingFacility}|${formatHl7Time(a.now)}||ACK^R01^ACK|${e(a.ackControlId)}|P|${version}`,
    `MSA|${a.code}|${e(a.controlId)}`,
  ];
  for (const err of a.errors.slice(0, MAX_ERR_SEGMENTS)) {
    const loc = err.location ? `${err.location.segment}^${err.location.sequence}^${err.location.field}` : '';
    segs.push(`ERR||${loc}|${err.code}^${e(ERROR_TEXT[err.code] ?? 'Error')}^HL70357|${err.severity}||||${e(err.text)}`);
  }
  return segs.join('\r') + '\r';
}
