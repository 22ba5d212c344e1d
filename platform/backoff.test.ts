import { describe, expect, it } from 'vitest';
import { VitalsError } from '../core/errors.js';
import { backoffDelay, isRetriable, retry } from './backoff.js';

const unavailable = (): VitalsError => new VitalsError('VTL_ERR_STORE_UNAVAILABLE', 'down');

describe('backoff and retry', () => {
  it('backs off exponentially with equal jitter up to 10 s', () => {
    expect(backoffDelay(0, () => 0)).toBe(50);
    expect(backoffDelay(0, () => 1)).toBe(100);
    expect(backoffDelay(3, () => 1)).toBe(800);
    expect(backoffDelay(3, () => 0)).toBe(400);
    expect(backoffDelay(30, () => 1)).toBe(10_000);
    // Other limits, the same formula (the embedded bus's handler retries).
    expect(backoffDelay(0, () => 1, { initialMs: 20, maxMs: 200 })).toBe(20);
    expect(backoffDelay(2, () => 0, { initialMs: 20, maxMs: 200 })).toBe(40);
    expect(backoffDelay(40, () => 1, { initialMs: 20, maxMs: 200 })).toBe(200);
  });

  it('retries only errors marked retriable', () => {
    expect(isRetriable(unavailable())).toBe(true);
    expect(isRetriable(new VitalsError('VTL_ERR_BAD_REQUEST'))).toBe(false);
    // A message that looks transient is not a reason: the thrower decides.
    expect(isRetriable(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe(false);
  });

  it('runs until success, reporting each retry', async () => {
    const seen: number[] = [];
    const out = await retry(
      async (attempt) => {
        if (attempt < 3) throw unavailable();
        return attempt;
      },
      { delay: () => 1, onRetry: (_e, attempt) => seen.push(attempt) },
    );
    expect(out).toBe(3);
    expect(seen).toEqual([0, 1, 2]);
  });

  it('throws a non-retriable error at once and a retriable one after the budget', async () => {
    let calls = 0;
    const bad = new VitalsError('VTL_ERR_BAD_REQUEST');
    await expect(retry(async () => (calls++, Promise.reject(bad)), { delay: () => 1 })).rejects.toBe(bad);
    expect(calls).toBe(1);
    calls = 0;
    await expect(retry(async () => (calls++, Promise.reject(unavailable())), { retries: 2, delay: () => 1 })).rejects.toMatchObject({ code: 'VTL_ERR_STORE_UNAVAILABLE' });
    expect(calls).toBe(3);
  });

  it('waits with the sleep the caller gives, and an abort it wakes for ends the retry at once', async () => {
    let stop = false;
    const waits: number[] = [];
    const e = unavailable();
    await expect(
      retry(async () => Promise.reject(e), {
        delay: () => 60_000,
        aborted: () => stop,
        sleep: async (ms) => {
          waits.push(ms);
          stop = true; // a stop() that woke the sleeper
        },
      }),
    ).rejects.toBe(e);
    expect(waits).toEqual([60_000]);
  });

  it('stops waiting when aborted', async () => {
    let stop = false;
    const started = Date.now();
    setTimeout(() => (stop = true), 50);
    await expect(retry(async () => Promise.reject(unavailable()), { delay: () => 60_000, aborted: () => stop })).rejects.toMatchObject({ code: 'VTL_ERR_STORE_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
