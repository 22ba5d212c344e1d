import { describe, expect, it } from 'vitest';
import { staleTestTopics } from './stale-topics.js';

const H = 3600_000;
const NOW = 1_800_000_000_000;

describe('staleTestTopics', () => {
  it('picks test topics whose every partition is idle past the limit, never product or internal ones', () => {
    const dirs = [
      { name: 'contract.0026e8b4-0', mtimeMs: NOW - 30 * H },
      { name: 'contract.0026e8b4-1', mtimeMs: NOW - 30 * H },
      // one partition written an hour ago: a suite may still use it
      { name: 'fc-ab12.vitals.samples-0', mtimeMs: NOW - 30 * H },
      { name: 'fc-ab12.vitals.samples-1', mtimeMs: NOW - 1 * H },
      { name: 'it-hl7-1796594573300-25964.alerts-0', mtimeMs: NOW - 48 * H },
      { name: 'e2e-split-1796595005619.registry-0', mtimeMs: NOW - 25 * H },
      { name: 'vitals.samples-0', mtimeMs: NOW - 100 * H },
      { name: 'ward7.vitals.samples-0', mtimeMs: NOW - 100 * H },
      { name: '__consumer_offsets-0', mtimeMs: NOW - 100 * H },
      { name: 'meta.properties', mtimeMs: NOW - 100 * H },
      { name: 'recovery-point-offset-checkpoint', mtimeMs: NOW - 100 * H },
    ];
    expect(staleTestTopics(dirs, NOW)).toEqual(['contract.0026e8b4', 'e2e-split-1796595005619.registry', 'it-hl7-1796594573300-25964.alerts']);
  });

  it('keeps everything younger than the limit', () => {
    expect(staleTestTopics([{ name: 'contract.x-0', mtimeMs: NOW - 23 * H }], NOW)).toEqual([]);
  });
});
