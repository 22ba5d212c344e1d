/** Which store failures are worth retrying (pacing: platform/backoff.ts). */

const TRANSIENT = /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|socket hang up|Timeout|timed out|ENOTFOUND|EAI_AGAIN|other side closed|fetch failed|Code: (159|209|210|241|242|252|999)\b|Too many|TOO_MANY|unavailable|closed/i;

export function isTransientStoreError(e: Error): boolean {
  const cause = (e as { cause?: { message?: string; code?: string } }).cause;
  return TRANSIENT.test(e.message) || TRANSIENT.test(cause?.message ?? '') || TRANSIENT.test(cause?.code ?? '');
}
