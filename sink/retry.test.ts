import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../platform/backoff.js';
import { isTransientStoreError } from './retry.js';

describe('sink retry policy', () => {
  it.each(['connect ECONNREFUSED 127.0.0.1:28123', 'socket hang up', 'Timeout error.', 'Code: 159, e.displayText() = DB::Exception: Timeout exceeded'])('retries %s', (m) => {
    expect(isTransientStoreError(new Error(m))).toBe(true);
  });
  it.each(['Code: 27, e.displayText() = DB::Exception: Cannot parse input', 'Code: 53, Type mismatch', 'Conversion Error: Could not convert string'])('does not retry %s', (m) => {
    expect(isTransientStoreError(new Error(m))).toBe(false);
  });
  it('backs off exponentially up to 10 s', () => {
    expect(backoffDelay(0, () => 0)).toBe(50);
    expect(backoffDelay(3, () => 1)).toBe(800);
    expect(backoffDelay(30, () => 1)).toBe(10_000);
  });
});
