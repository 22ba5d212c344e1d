import { describe, expect, it } from 'vitest';
import { buildPolicy } from './access.js';

describe('access policy', () => {
  const nurse4B = buildPolicy({ sub: 'n', role: 'nurse', wards: ['4B'] });
  const viewer = buildPolicy({ sub: 'v', role: 'viewer', wards: ['4B'] });
  const clinician = buildPolicy({ sub: 'c', role: 'clinician', wards: ['4B'] });
  const admin = buildPolicy({ sub: 'a', role: 'admin', wards: ['*'] });
  const patient = buildPolicy({ sub: 'p', role: 'patient', wards: ['*'], patientId: 'MRN-1' });

  it('scopes staff to their wards; null wards are nobody\'s', () => {
    expect(nurse4B.canReadWard('4B')).toBe(true);
    expect(nurse4B.canReadWard('5A')).toBe(false);
    expect(nurse4B.canReadWard(null)).toBe(false);
    expect(nurse4B.canReadPatient('MRN-9', '5A')).toBe(false);
    expect(nurse4B.canReadAlerts('5A')).toBe(false);
    expect(admin.canReadWard('anything')).toBe(true);
  });
  it('lets clinicians, nurses and admins act, viewers only read; only clinicians order chart changes', () => {
    expect(nurse4B.canActOnWard('4B')).toBe(true);
    expect(nurse4B.canActOnWard('5A')).toBe(false);
    expect(viewer.canReadWard('4B')).toBe(true);
    expect(viewer.canActOnWard('4B')).toBe(false);
    expect(clinician.canOrderChart('4B')).toBe(true);
    expect(nurse4B.canOrderChart('4B')).toBe(false);
    expect(clinician.canOrderChart('5A')).toBe(false);
    expect(admin.isAdmin && !nurse4B.isAdmin).toBe(true);
  });
  it('gives the patient role its own record only: no ward, no alert, no write, whatever wards the token names', () => {
    expect(patient.canReadPatient('MRN-1', '4B')).toBe(true);
    expect(patient.canReadPatient('MRN-2', '4B')).toBe(false);
    expect(patient.canReadWard('4B')).toBe(false);
    expect(patient.canReadAlerts('4B')).toBe(false);
    expect(patient.canActOnWard('4B')).toBe(false);
    expect(patient.canOrderChart('4B')).toBe(false);
    expect(patient.isAdmin).toBe(false);
    expect(patient.principal.wards).toEqual([]);
  });
  it('denies a patient token without its patient id, and an unknown role, everything', () => {
    const noId = buildPolicy({ sub: 'p', role: 'patient', wards: [] });
    expect(noId.canReadPatient('', null)).toBe(false);
    expect(noId.canReadPatient('MRN-1', '4B')).toBe(false);
    const bogus = buildPolicy({ sub: 'x', role: 'root' as never, wards: ['*'] });
    expect(bogus.canReadWard('4B') || bogus.canReadPatient('MRN-1', '4B') || bogus.canReadAlerts('4B') || bogus.canActOnWard('4B') || bogus.isAdmin).toBe(false);
  });
});
