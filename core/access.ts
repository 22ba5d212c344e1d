/**
 * The clinician -> patient access policy, pure. Built once per request or
 * connection and enforced where data leaves the system (REST replies, the
 * WebSocket fan-out filter). Deny by default.
 */

export const ROLES = ['admin', 'clinician', 'nurse', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  sub: string;
  role: Role;
  /** Wards in scope; '*' means every ward. */
  wards: string[];
}

export interface AccessPolicy {
  principal: Principal;
  canReadWard(ward: string | null): boolean;
  /** Acknowledge alerts, enter observations. */
  canActOnWard(ward: string | null): boolean;
  /** Devices, audit, erasure. */
  isAdmin: boolean;
}

export function buildPolicy(p: Principal): AccessPolicy {
  const all = p.wards.includes('*');
  const wards = new Set(p.wards);
  const inScope = (ward: string | null): boolean => ward !== null && (all || wards.has(ward));
  const acts = p.role === 'clinician' || p.role === 'nurse' || p.role === 'admin';
  return {
    principal: p,
    canReadWard: inScope,
    canActOnWard: (ward) => acts && inScope(ward),
    isAdmin: p.role === 'admin',
  };
}
