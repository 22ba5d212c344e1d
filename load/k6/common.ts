/**
 * Shared settings of the k6 scripts, kept in step with the Node harness (load/lib/e2e-load.ts):
 * 40 patients per ward, wards named L0, L1, …, patients LOAD-<tag>-NNNNN, one dashboard per ward.
 * Tokens come from the environment (mint them with `npx vitals token`), never from the script.
 */
export const BASE = __ENV.VITALS_URL || 'http://127.0.0.1:8080';
export const WS_URL = BASE.replace(/^http/, 'ws') + '/ws';
export const WARD_SIZE = 40;
export const WARDS = Number(__ENV.WARDS || 5);
export const TAG = __ENV.LOAD_TAG || 'k6';
/** A nurse token covering the wards L0..L{WARDS-1}: npx vitals token --role nurse --ward L0 --ward L1 … */
export const NURSE_TOKEN = __ENV.NURSE_TOKEN || '';

export function wardOf(vu: number): string {
  return `L${(vu - 1) % WARDS}`;
}

export function patientId(index: number): string {
  return `LOAD-${TAG}-${String(index + 1).padStart(5, '0')}`;
}
