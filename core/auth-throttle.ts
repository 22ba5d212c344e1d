/**
 * Failed-authentication throttling: after a few free failures a key (a device id, a source
 * address) is locked for a time that doubles with each further failure, up to a ceiling. A
 * locked key is refused before any password hashing, so guessing costs the guesser time and
 * the server nothing. Pure: time is passed in.
 */

export interface ThrottleOptions {
  /** Failures allowed before the first lockout. */
  freeFailures: number;
  /** First lockout; doubles per further failure. */
  baseLockMs: number;
  maxLockMs: number;
  /** A key with no failure for this long starts over. */
  forgetAfterMs: number;
}

interface Entry {
  failures: number;
  lockedUntil: number;
  lastFailure: number;
}

export class AuthThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly opts: ThrottleOptions) {}

  /** Milliseconds `key` stays locked at `now`; 0 when it may try. */
  lockedFor(key: string, now: number): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    if (now - e.lastFailure > this.opts.forgetAfterMs) {
      this.entries.delete(key);
      return 0;
    }
    return Math.max(0, e.lockedUntil - now);
  }

  fail(key: string, now: number): void {
    let e = this.entries.get(key);
    if (!e || now - e.lastFailure > this.opts.forgetAfterMs) e = { failures: 0, lockedUntil: 0, lastFailure: now };
    e.failures++;
    e.lastFailure = now;
    const over = e.failures - this.opts.freeFailures;
    if (over > 0) e.lockedUntil = now + Math.min(this.opts.maxLockMs, this.opts.baseLockMs * 2 ** Math.min(over - 1, 30));
    this.entries.set(key, e);
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  /** Drop keys idle past `forgetAfterMs` (call now and then: addresses are unbounded). */
  prune(now: number): void {
    for (const [k, e] of this.entries) if (now - e.lastFailure > this.opts.forgetAfterMs) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }
}
