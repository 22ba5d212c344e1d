/**
 * Retry pacing and the one retry loop. Whether a failure is worth retrying is the thrower's
 * call: `VitalsError.retriable` (core/errors.ts), set by the adapter that knows the failure,
 * not a guess from the message text.
 */
import { isVitalsError } from '../core/errors.js';

/** Where backoff starts and where it stops growing. */
export interface BackoffLimits {
  /** The step of the first retry (default 100 ms). */
  initialMs?: number;
  /** The largest step (default 10 s). */
  maxMs?: number;
}

/**
 * Exponential backoff with equal jitter (half the step fixed, half random), 100 ms doubling up
 * to 10 s unless `limits` say otherwise: the fixed half keeps a retry from firing at once, the
 * random half spreads retries.
 */
export function backoffDelay(attempt: number, rand: () => number = Math.random, limits: BackoffLimits = {}): number {
  const { initialMs = 100, maxMs = 10_000 } = limits;
  const cap = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + (rand() * cap) / 2);
}

/** The default retry predicate: only a VitalsError whose code is marked retriable. */
export function isRetriable(e: unknown): boolean {
  return isVitalsError(e) && e.retriable;
}

export interface RetryOptions {
  /** Retries after the first attempt before the error is thrown (default: unbounded). */
  retries?: number;
  /** Which errors are retried (default {@link isRetriable}); any other is thrown at once. */
  retriable?: (e: unknown) => boolean;
  /** Checked after a failure and while waiting: true throws the last error (e.g. on SIGTERM). */
  aborted?: () => boolean;
  /** Called before each wait, for logs and metrics. */
  onRetry?: (e: unknown, attempt: number, waitMs: number) => void;
  /** Pacing (default {@link backoffDelay}). */
  delay?: (attempt: number) => number;
  /**
   * How to wait between attempts (default: steps of at most 100 ms, ended early once `aborted`).
   * A caller that can wake a sleeper on stop passes its own, so a stop ends the wait at once.
   */
  sleep?: (ms: number) => Promise<void>;
}

/** Sleep in steps of at most 100 ms so an abort during a long wait is seen at once. */
async function wait(ms: number, aborted: () => boolean): Promise<void> {
  for (let slept = 0; slept < ms && !aborted(); slept += 100) await new Promise((r) => setTimeout(r, Math.min(100, ms - slept)));
}

/**
 * Run `fn` until it resolves, retrying retriable failures with backoff.
 * @param fn - the operation; receives the attempt number (0 first)
 * @param opts - retry budget, predicate, abort check, hook and pacing
 * @returns what `fn` resolved to
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const { retries = Infinity, retriable = isRetriable, aborted = () => false, onRetry, delay = backoffDelay, sleep = (ms: number) => wait(ms, aborted) } = opts;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!retriable(e) || attempt >= retries || aborted()) throw e;
      const ms = delay(attempt);
      onRetry?.(e, attempt, ms);
      await sleep(ms);
      if (aborted()) throw e;
    }
  }
}
