/** Retry pacing shared by the runtime (connecting at start), the rules role and the sink. */

/** Exponential backoff with full jitter, 100 ms up to 10 s. */
export function backoffDelay(attempt: number, rand: () => number = Math.random): number {
  const cap = Math.min(10_000, 100 * 2 ** Math.min(attempt, 10));
  return Math.round(cap / 2 + (rand() * cap) / 2);
}
