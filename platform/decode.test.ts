import { describe, expect, it } from 'vitest';
import { decodeSample } from '../core/bus-messages.js';
import type { BusRecord } from '../core/ports.js';
import { decodeOrSkip } from './decode.js';
import { createLogger } from './log.js';

const rec = (value: string | null): BusRecord => ({ topic: 'vitals.samples', partition: 0, offset: '42', key: 'MRN-SECRET', value, timestamp: 1 });

describe('decodeOrSkip', () => {
  it('returns the decoded value, and null for a refused record, logged by topic and offset without its value', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
    const sample = { v: 1, deviceId: 'd1', patientId: 'MRN-SECRET', ward: '4B', ts: 1000, recvTs: 1001, source: 'mqtt', metrics: { hr: 70 }, traceId: 't' };
    expect(decodeOrSkip(rec(JSON.stringify(sample)), decodeSample, log)).toEqual(sample);
    expect(lines).toEqual([]);
    expect(decodeOrSkip(rec(JSON.stringify({ ...sample, v: 9 })), decodeSample, log)).toBeNull();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 'warn', topic: 'vitals.samples', offset: '42', msg: 'unreadable record skipped' });
    expect(lines[0]).not.toContain('MRN-SECRET');
  });
  it('skips a tombstone without a log line', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
    expect(decodeOrSkip(rec(null), decodeSample, log)).toBeNull();
    expect(lines).toEqual([]);
  });
});
