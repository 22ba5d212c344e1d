import { describe, expect, it } from 'vitest';
import type { CanonicalSample } from '../../core/vitals.js';
import { sampleLines } from './clickhouse.js';
import { sampleRows } from './rows.js';

const HOSTILE = "O'Brien \\'); \" ` \\\\ \n\r\t\x01\x1f\x7f ü 患者 🫀 \u2028";

describe('sampleLines (ClickHouse JSONEachRow body)', () => {
  it('renders every row of every sample, column for column, reusing escaped strings only within a sample', () => {
    const base = { v: 1 as const, source: 'device' as const, recvTs: 1_700_000_000_123 };
    const samples: CanonicalSample[] = [
      { ...base, deviceId: HOSTILE, patientId: HOSTILE, ward: HOSTILE, ts: 1_700_000_000_001, metrics: { hr: 70, spo2: 97.5 }, quality: { hr: 0.5 }, traceId: HOSTILE },
      { ...base, deviceId: 'd2', patientId: null, ward: null, ts: 1_700_000_000_999, metrics: { temp: 37.25, rr: 16 }, traceId: 't2' },
      { ...base, deviceId: 'd2', patientId: null, ward: null, ts: 1_700_000_001_000, metrics: { rr: 17 }, traceId: 't3' },
    ];
    const rows = sampleRows(samples);
    const text = sampleLines(rows, 0, rows.length);
    expect(text.endsWith('\n')).toBe(true);
    const parsed = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toEqual(rows.map((r) => ({ ...r, ts: Math.floor(r.ts_ms / 1000) })));
    // A sub-range starts fresh.
    expect(sampleLines(rows, 3, 5).trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual(parsed.slice(3, 5));
    expect(sampleLines(rows, 2, 2)).toBe('');
  });
});
