import { describe, expect, it } from 'vitest';
import type { CanonicalSample } from '../../core/vitals.js';
import { SAMPLE_COLUMNS } from './clickhouse-body.js';
import { sampleNative } from './clickhouse-native.js';
import { sampleRows, type SampleRow } from './rows.js';

const HOSTILE = "O'Brien \\'); \" ` \\\\ \n\r\t\x01\x1f\x7f ü 患者 🫀 \u2028 \\t \\n";
// Over 127 UTF-8 bytes: a two-byte length prefix, and not ASCII (the slow path).
const LONG = `${'患者'.repeat(30)}-${'x'.repeat(50)}`;

const NUMERIC: Record<string, [(b: Buffer, o: number) => number, number]> = {
  DateTime: [(b, o) => b.readUInt32LE(o), 4],
  UInt64: [(b, o) => Number(b.readBigUInt64LE(o)), 8],
  Float64: [(b, o) => b.readDoubleLE(o), 8],
  Float32: [(b, o) => b.readFloatLE(o), 4],
};

/** A Native block (no block info) read back as ClickHouse reads it, for the types the encoder writes. */
function decode(buf: Buffer): { columns: Array<{ name: string; type: string; values: Array<string | number> }>; rows: number } {
  let o = 0;
  const varUInt = (): number => {
    let n = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = buf[o++] as number;
      n += (b & 0x7f) * shift;
      if (b < 0x80) return n;
    }
  };
  const str = (): string => {
    const n = varUInt();
    const s = buf.toString('utf8', o, o + n);
    o += n;
    return s;
  };
  const ncols = varUInt();
  const rows = varUInt();
  const columns = [];
  for (let c = 0; c < ncols; c++) {
    const name = str();
    const type = str();
    const values: Array<string | number> = [];
    for (let i = 0; i < rows; i++) {
      if (type === 'String') {
        values.push(str());
        continue;
      }
      const [read, width] = NUMERIC[type] ?? [];
      if (!read || !width) throw new Error(`unexpected type ${type}`);
      values.push(read(buf, o));
      o += width;
    }
    columns.push({ name, type, values });
  }
  expect(o).toBe(buf.length); // nothing left over
  return { columns, rows };
}

const expected = (r: SampleRow): Array<string | number> => [
  r.patient_key, r.patient_id, r.device_id, r.ward, r.metric, Math.floor(r.ts_ms / 1000), r.ts_ms, r.value, Math.fround(r.quality), r.source, r.recv_ts_ms, r.trace_id,
];

describe('sampleNative (ClickHouse Native block)', () => {
  const base = { v: 1 as const, source: 'device' as const, recvTs: 4_294_967_295_000 };
  const samples: CanonicalSample[] = [
    { ...base, deviceId: HOSTILE, patientId: HOSTILE, ward: HOSTILE, ts: 1_700_000_000_001, metrics: { hr: 70, spo2: 97.5, sbp: -1e-300 }, quality: { hr: 0.1, spo2: 1 }, traceId: LONG },
    { ...base, deviceId: 'd2', patientId: null, ward: null, ts: 0, metrics: { temp: 37.25, rr: 1e21 }, traceId: '' },
    { ...base, deviceId: 'd2', patientId: null, ward: 'String', ts: 4_294_967_295_000, metrics: { rr: 17 }, traceId: HOSTILE },
  ];
  const rows = sampleRows(samples);

  it('writes SAMPLE_COLUMNS in order with the schema types, every row and value as the server reads them', () => {
    const block = decode(sampleNative(rows, 0, rows.length));
    expect(block.rows).toBe(rows.length);
    expect(block.columns.map((c) => c.name).join(', ')).toBe(SAMPLE_COLUMNS);
    expect(block.columns.map((c) => c.type)).toEqual(['String', 'String', 'String', 'String', 'String', 'DateTime', 'UInt64', 'Float64', 'Float32', 'String', 'UInt64', 'String']);
    const back = rows.map((_, i) => block.columns.map((c) => c.values[i]));
    expect(back).toEqual(rows.map(expected));
  });

  it('encodes a sub-range on its own, and an empty range as no block', () => {
    const block = decode(sampleNative(rows, 2, 5));
    expect(rows.slice(2, 5).map((_, i) => block.columns.map((c) => c.values[i]))).toEqual(rows.slice(2, 5).map(expected));
    expect(sampleNative(rows, 3, 3).length).toBe(0);
  });

  it('starts with the column and row counts and the first column header, byte for byte', () => {
    const buf = sampleNative(rows, 0, 1);
    expect([...buf.subarray(0, 2)]).toEqual([12, 1]);
    expect(buf.subarray(2, 21).toString('latin1')).toBe('\x0bpatient_key\x06String');
  });
});
