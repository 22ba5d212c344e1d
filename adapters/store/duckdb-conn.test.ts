import { describe, expect, it } from 'vitest';
import { PASSIVE_HEALTH_MS, recentlyHealthy } from './duckdb-conn.js';

describe('duckdb store: passive health', () => {
  const now = 1_800_000_000_000;
  it('recent successful work vouches for the store', () => {
    expect(recentlyHealthy(now - 100, 0, now)).toBe(true);
  });
  it('probes when work last failed, when nothing ran lately, or when nothing ever ran', () => {
    expect(recentlyHealthy(now - 200, now - 100, now)).toBe(false);
    expect(recentlyHealthy(now - PASSIVE_HEALTH_MS, 0, now)).toBe(false);
    expect(recentlyHealthy(0, 0, now)).toBe(false);
  });
});
