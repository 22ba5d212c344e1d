/**
 * FHIR R4 Patient and Device as this server knows them: identifiers and assignments from
 * the device registry, battery from the live view. No names or demographics: Vitalstream
 * holds none (the EHR does). Pure.
 */
import { createHash } from 'node:crypto';
import { FHIR_ID, UCUM, subjectOf } from './resources.js';

export const PATIENT_SYSTEM = 'urn:vitalstream:patient';
export const DEVICE_SYSTEM = 'urn:vitalstream:device';

/** A patient id usable as a FHIR resource id: others are referenced by identifier only. */
export function isFhirId(id: string): boolean {
  return FHIR_ID.test(id);
}

export function patientResource(patientId: string): Record<string, unknown> {
  return {
    resourceType: 'Patient',
    id: patientId,
    identifier: [{ use: 'usual', system: PATIENT_SYSTEM, value: patientId }],
    active: true,
  };
}

/** Device ids may hold `_`, which FHIR ids may not: those get a stable hashed id. */
export function deviceResourceId(deviceId: string): string {
  return isFhirId(deviceId) ? deviceId : `d-${createHash('sha256').update(deviceId).digest('hex').slice(0, 16)}`;
}

export interface DeviceFacts {
  deviceId: string;
  patientId: string | null;
  /** Online as the status topic (or its samples) last said; null when unknown. */
  online: boolean | null;
  /** Battery 0..1 when known. */
  battery: number | null;
}

export function deviceResource(d: DeviceFacts): Record<string, unknown> {
  return {
    resourceType: 'Device',
    id: deviceResourceId(d.deviceId),
    identifier: [{ system: DEVICE_SYSTEM, value: d.deviceId }],
    // Device.status is the record's status [R4 FHIRDeviceStatus]: registered devices are active.
    status: 'active',
    type: { text: 'Wearable vital signs monitor' },
    ...(d.patientId ? { patient: subjectOf(d.patientId) } : {}),
    ...(d.online === null ? {} : { note: [{ text: d.online ? 'Connected' : 'Not connected' }] }),
    ...(d.battery === null
      ? {}
      : { property: [{ type: { text: 'Battery level' }, valueQuantity: [{ value: Math.round(d.battery * 100), unit: '%', system: UCUM, code: '%' }] }] }),
  };
}
