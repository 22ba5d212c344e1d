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
});
