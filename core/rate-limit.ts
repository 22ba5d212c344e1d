/**
 * A token bucket per key; pure (time passed in).
 *
 * Two ways to spend a token, for the two MQTT delivery promises: `take` for what may be dropped
 * (QoS 0: no token, no message), `reserve` for what must not be (QoS 1: the caller waits until
 * the token exists, the bucket going into debt meanwhile, so the PUBACK is late but nothing is
 * lost). Only a key whose debt would pass `maxDebtMs` is refused outright.
 */
export type Reservation = { ok: true; delayMs: number } | { ok: false };

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number = ratePerSec,
  ) {}

  private refill(key: string, now: number): { tokens: number; at: number } {
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    if (now > b.at) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSec);
      b.at = now;
    }
    return b;
  }

  /** Take one token for `key` at time `now`; false when the bucket is empty (nothing is owed). */
  take(key: string, now: number): boolean {
    const b = this.refill(key, now);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /**
   * Reserve the next token for `key`: `delayMs` is how long the caller must wait before acting on
   * it (0 when one is available now). Refused, and nothing reserved, when that wait would exceed
   * `maxDebtMs`: the key is far past its rate.
   */
  reserve(key: string, now: number, maxDebtMs: number): Reservation {
    const b = this.refill(key, now);
    const after = b.tokens - 1;
    const delayMs = after >= 0 ? 0 : Math.ceil((-after / this.ratePerSec) * 1000);
    if (delayMs > maxDebtMs) return { ok: false };
    b.tokens = after;
    return { ok: true, delayMs };
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }
}
