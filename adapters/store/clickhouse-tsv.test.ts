import { describe, expect, it } from 'vitest';
import type { CanonicalSample } from '../../core/vitals.js';
import { sampleTsv, tsvField } from './clickhouse-body.js';
import { sampleRows, type SampleRow } from './rows.js';

const HOSTILE = "O'Brien \\'); \" ` \\\\ \n\r\t\x01\x1f\x7f ü 患者 🫀 \u2028 \\t \\n";

/** ClickHouse's reading of an escaped TabSeparated field (readEscapedString), for the escapes we emit. */
function unescape(field: string): string {
  return field.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r' })[c] ?? c);
}

const COLUMNS = ['patient_key', 'patient_id', 'device_id', 'ward', 'metric', 'ts', 'ts_ms', 'value', 'quality', 'source', 'recv_ts_ms', 'trace_id'] as const;

function parse(text: string): Array<Record<string, string>> {
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const fields = line.split('\t');
      expect(fields).toHaveLength(COLUMNS.length);
      return Object.fromEntries(COLUMNS.map((c, i) => [c, unescape(fields[i] as string)]));
    });
}

const asText = (r: SampleRow): Record<string, string> => ({
  patient_key: r.patient_key,
  patient_id: r.patient_id,
  device_id: r.device_id,
  ward: r.ward,
  metric: r.metric,
  ts: String(Math.floor(r.ts_ms / 1000)),
  ts_ms: String(r.ts_ms),
  value: String(r.value),
  quality: String(r.quality),
  source: r.source,
  recv_ts_ms: String(r.recv_ts_ms),
  trace_id: r.trace_id,
});

describe('tsvField (TabSeparated escaping)', () => {
  it('escapes backslash, tab, newline and carriage return, and nothing else', () => {
    expect(tsvField('a\tb\nc\\d\re')).toBe('a\\tb\\nc\\\\d\\re');
    expect(tsvField('\\t')).toBe('\\\\t'); // a literal backslash-t stays two characters
    expect(tsvField("plain 'quoted' ü 🫀")).toBe("plain 'quoted' ü 🫀");
    expect(unescape(tsvField(HOSTILE))).toBe(HOSTILE);
    expect(tsvField(HOSTILE)).not.toMatch(/[\t\n\r]/);
  });
});

describe('sampleTsv (ClickHouse TabSeparated body)', () => {
  it('renders every row of every sample, column for column, reusing escaped strings only within a sample', () => {
    const base = { v: 1 as const, source: 'device' as const, recvTs: 1_700_000_000_123 };
    const samples: CanonicalSample[] = [
      { ...base, deviceId: HOSTILE, patientId: HOSTILE, ward: HOSTILE, ts: 1_700_000_000_001, metrics: { hr: 70, spo2: 97.5 }, quality: { hr: 0.5 }, traceId: HOSTILE },
      { ...base, deviceId: 'd2', patientId: null, ward: null, ts: 1_700_000_000_999, metrics: { temp: 37.25, rr: 16 }, traceId: 't2' },
      { ...base, deviceId: 'd2', patientId: null, ward: null, ts: 1_700_000_001_000, metrics: { rr: 17 }, traceId: 't3' },
    ];
    const rows = sampleRows(samples);
    const text = sampleTsv(rows, 0, rows.length);
    expect(text.endsWith('\n')).toBe(true);
    const parsed = parse(text);
    expect(parsed).toEqual(rows.map(asText));
    // A sub-range starts fresh.
    expect(parse(sampleTsv(rows, 3, 5))).toEqual(parsed.slice(3, 5));
    expect(sampleTsv(rows, 2, 2)).toBe('');
  });
});
