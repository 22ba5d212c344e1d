/**
 * The clinician -> patient access policy, pure. Built once per request or
 * connection and enforced where data leaves the system (REST replies, FHIR,
 * the WebSocket fan-out filter). Deny by default: an unknown role, a missing
 * patient claim or a null ward grants nothing.
 *
 * | role      | wards          | own patient | alerts        | ack, observations | chart orders | devices |
 * |-----------|----------------|-------------|---------------|-------------------|--------------|---------|
 * | admin     | read in scope  | -           | read in scope | in scope          | -            | yes     |
 *
 * Admin is scoped by ward like everyone else (devices, audit and erasure are its extras).
 * Wards '*' reach every ward and patients on no ward; writes always need the patient's ward.
 * | clinician | read in scope  | -           | read in scope | in scope          | in scope     | -       |
 * | nurse     | read in scope  | -           | read in scope | in scope          | -            | -       |
 * | viewer    | read in scope  | -           | read in scope | -                 | -            | -       |
 * | patient   | none           | read only   | none          | -                 | -            | -       |
 */

export const ROLES = ['admin', 'clinician', 'nurse', 'viewer', 'patient'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  sub: string;
  role: Role;
  /** Wards in scope; '*' means every ward. Ignored for the patient role. */
  wards: string[];
  /** The patient role's own patient id (from a token claim); null or absent for staff. */
  patientId?: string | null;
}

export interface AccessPolicy {
  principal: Principal;
  /** Ward-level reads: patient lists, ward subscriptions, ward alert lists. Staff only. */
  canReadWard(ward: string | null): boolean;
  /** One patient's vitals, scores, chart settings: staff with the ward in scope, or the patient themself. */
  canReadPatient(patientId: string, ward: string | null): boolean;
  /** Alert events (they carry internal notes and other staff's actions): staff with the ward in scope. */
  canReadAlerts(ward: string | null): boolean;
  /** Acknowledge alerts, enter observations. */
  canActOnWard(ward: string | null): boolean;
  /** Clinician orders on a patient's chart (SpO2 scale). */
  canOrderChart(ward: string | null): boolean;
  /** Devices, audit, erasure. */
  isAdmin: boolean;
}

const STAFF: ReadonlySet<Role> = new Set(['admin', 'clinician', 'nurse', 'viewer']);

export function buildPolicy(p: Principal): AccessPolicy {
  if (p.role === 'patient') return patientPolicy(p);
  const staff = STAFF.has(p.role);
  const all = p.wards.includes('*');
  const wards = new Set(p.wards);
  // Every ward ('*') also reaches patients on no ward now (discharged, history only); a
  // ward list does not. Writes always need a ward: they feed that ward's scoring.
  const inScope = (ward: string | null): boolean => staff && (all || (ward !== null && wards.has(ward)));
  const actsIn = (ward: string | null): boolean => ward !== null && inScope(ward);
  const acts = p.role === 'clinician' || p.role === 'nurse' || p.role === 'admin';
  return {
    principal: p,
    canReadWard: inScope,
    canReadPatient: (_id, ward) => inScope(ward),
    canReadAlerts: inScope,
    canActOnWard: (ward) => acts && actsIn(ward),
    canOrderChart: (ward) => p.role === 'clinician' && actsIn(ward),
    isAdmin: p.role === 'admin',
  };
}

/** A person reading their own record: no ward, no alert, no write; nothing without the patient claim. */
function patientPolicy(p: Principal): AccessPolicy {
  const self = typeof p.patientId === 'string' && p.patientId.length > 0 ? p.patientId : null;
  const no = (): boolean => false;
  return {
    principal: { ...p, wards: [] },
    canReadWard: no,
    canReadPatient: (id) => self !== null && id === self,
    canReadAlerts: no,
    canActOnWard: no,
    canOrderChart: no,
    isAdmin: false,
  };
}
