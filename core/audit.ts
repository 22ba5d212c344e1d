/** Audit events: who read or changed what, when, from where. Append-only. */
export interface AuditEvent {
  v: 1;
  id: string;
  ts: number;
  userId: string;
  role: string;
  /** e.g. `patient.vitals.read`, `device.create`, `alert.ack`, `patient.erase`. */
  action: string;
  resource: string;
  /** The patient concerned, if any. Stored, never logged. */
  patientId: string | null;
  address: string;
  outcome: 'ok' | 'denied' | 'error';
}
