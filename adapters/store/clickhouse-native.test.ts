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

type Block = { columns: Array<{ name: string; type: string; values: Array<string | number> }>; rows: number };

/** Native blocks (no block info) read back as ClickHouse reads them, for the types the encoder writes. */
function decode(parts: Buffer[]): Block[] {
  const buf = Buffer.concat(parts);
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
  const blocks: Block[] = [];
  while (o < buf.length) {
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
    blocks.push({ columns, rows });
  }
  expect(o).toBe(buf.length); // nothing left over
  return blocks;
}

/** The rows of decoded blocks, each as its column values in order. */
const rowsOf = (blocks: Block[]): Array<Array<string | number | undefined>> => blocks.flatMap((b) => Array.from({ length: b.rows }, (_, i) => b.columns.map((c) => c.values[i])));

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
    const blocks = decode(sampleNative(samples));
    expect(blocks).toHaveLength(1);
    const [block] = blocks as [Block];
    expect(block.rows).toBe(rows.length);
    expect(block.columns.map((c) => c.name).join(', ')).toBe(SAMPLE_COLUMNS);
    expect(block.columns.map((c) => c.type)).toEqual(['String', 'String', 'String', 'String', 'String', 'DateTime', 'UInt64', 'Float64', 'Float32', 'String', 'UInt64', 'String']);
    expect(rowsOf(blocks)).toEqual(rows.map(expected));
  });

  it('splits a batch into blocks of at most blockRows rows, mid-sample too, and encodes no block for no rows', () => {
    const blocks = decode(sampleNative(samples, 2));
    expect(blocks.map((b) => b.rows)).toEqual([2, 2, 2]);
    expect(rowsOf(blocks)).toEqual(rows.map(expected));
    expect(decode(sampleNative(samples, 4)).map((b) => b.rows)).toEqual([4, 2]);
    expect(sampleNative([])).toEqual([]);
  });

  it('starts with the column and row counts and the first column header, byte for byte', () => {
    const buf = Buffer.concat(sampleNative(samples.slice(1, 2)));
    expect([...buf.subarray(0, 2)]).toEqual([12, 2]);
    expect(buf.subarray(2, 21).toString('latin1')).toBe('\x0bpatient_key\x06String');
  });

  it('validates the whole batch as sampleRows does, naming the field and never the value', () => {
    const bad = [...samples, { ...samples[1], metrics: { hr: Number.NaN } } as CanonicalSample];
    expect(() => sampleNative(bad)).toThrow(/samples\[3\]\.metrics\.hr: not a finite number$/);
    expect(() => sampleNative([{ ...samples[0], traceId: 'x\uD800' } as CanonicalSample])).toThrow(/samples\[0\]\.traceId: not well-formed unicode$/);
  });
});
