import { describe, expect, it } from 'vitest';
import { TokenBuckets } from './rate-limit.js';

describe('TokenBuckets', () => {
  it('allows a burst, then refills at the rate', () => {
    const b = new TokenBuckets(10, 10);
    let ok = 0;
    for (let i = 0; i < 15; i++) if (b.take('d', 0)) ok++;
    expect(ok).toBe(10);
    expect(b.take('d', 50)).toBe(false); // half a token
    expect(b.take('d', 100)).toBe(true); // one token after 100 ms at 10/s
  });
  it('keeps keys apart', () => {
    const b = new TokenBuckets(1, 1);
    expect(b.take('a', 0)).toBe(true);
    expect(b.take('b', 0)).toBe(true);
    expect(b.take('a', 0)).toBe(false);
  });
  it('reserve: spends the burst at once, then schedules each token one interval later', () => {
    const b = new TokenBuckets(10, 2);
    const delays = Array.from({ length: 5 }, () => b.reserve('d', 0, 10_000));
    expect(delays).toEqual([
      { ok: true, delayMs: 0 },
      { ok: true, delayMs: 0 },
      { ok: true, delayMs: 100 },
      { ok: true, delayMs: 200 },
      { ok: true, delayMs: 300 },
    ]);
    // The debt is repaid by time: at 300 ms the bucket is empty again, not negative.
    expect(b.reserve('d', 300, 10_000)).toEqual({ ok: true, delayMs: 100 });
  });
  it('reserve: refuses once the wait would pass maxDebtMs, and reserves nothing then', () => {
    const b = new TokenBuckets(10, 1);
    for (let i = 0; i < 11; i++) expect(b.reserve('d', 0, 1000).ok).toBe(true);
    expect(b.reserve('d', 0, 1000)).toEqual({ ok: false });
    expect(b.reserve('d', 100, 1000)).toEqual({ ok: true, delayMs: 1000 });
  });
  it('take does not spend tokens reserved ahead (QoS 0 behind QoS 1 debt is dropped)', () => {
    const b = new TokenBuckets(10, 1);
    b.reserve('d', 0, 1000);
    b.reserve('d', 0, 1000);
    expect(b.take('d', 50)).toBe(false);
  });
});
