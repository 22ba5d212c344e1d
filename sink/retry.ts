/** Which store failures are worth retrying, and how long to wait. */

const TRANSIENT = /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|socket hang up|Timeout|timed out|ENOTFOUND|EAI_AGAIN|other side closed|fetch failed|Code: (159|209|210|241|242|252|999)\b|Too many|TOO_MANY|unavailable|closed/i;

export function isTransientStoreError(e: Error): boolean {
  const cause = (e as { cause?: { message?: string; code?: string } }).cause;
  return TRANSIENT.test(e.message) || TRANSIENT.test(cause?.message ?? '') || TRANSIENT.test(cause?.code ?? '');
}

/** Exponential backoff with full jitter, 100 ms up to 10 s. */
export function backoffDelay(attempt: number, rand: () => number = Math.random): number {
  const cap = Math.min(10_000, 100 * 2 ** Math.min(attempt, 10));
  return Math.round(cap / 2 + (rand() * cap) / 2);
}
