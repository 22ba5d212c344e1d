import { describe, expect, it } from 'vitest';
import { AuthThrottle } from './auth-throttle.js';

const opts = { freeFailures: 3, baseLockMs: 1000, maxLockMs: 8000, forgetAfterMs: 60_000 };

describe('AuthThrottle', () => {
  it('allows the free failures, then locks for a doubling time up to the ceiling', () => {
    const t = new AuthThrottle(opts);
    for (let i = 0; i < 3; i++) t.fail('k', 0);
    expect(t.lockedFor('k', 0)).toBe(0);
    t.fail('k', 0);
    expect(t.lockedFor('k', 0)).toBe(1000);
    t.fail('k', 100);
    expect(t.lockedFor('k', 100)).toBe(2000);
    for (let i = 0; i < 10; i++) t.fail('k', 200);
    expect(t.lockedFor('k', 200)).toBe(8000);
    expect(t.lockedFor('other', 200)).toBe(0);
  });

  it('starts over after a success or a quiet period, and prunes idle keys', () => {
    const t = new AuthThrottle(opts);
    for (let i = 0; i < 5; i++) t.fail('k', 0);
    t.succeed('k');
    expect(t.lockedFor('k', 0)).toBe(0);
    for (let i = 0; i < 5; i++) t.fail('q', 0);
    expect(t.lockedFor('q', 61_000)).toBe(0);
    t.fail('z', 0);
    t.prune(61_000);
    expect(t.size).toBe(0);
  });
});
