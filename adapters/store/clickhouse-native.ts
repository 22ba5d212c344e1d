/**
 * Sample rows as one block of ClickHouse's Native format, the columnar layout clickhouse-client
 * sends over its own protocol. Posted over HTTP (`INSERT … FORMAT Native`) the server copies
 * columns instead of parsing text, which was most of its work per TabSeparated row (ADR 0020).
 *
 * Layout without block info (what the Native *format* is on 18.16 and on current servers: revision
 * 0): VarUInt column count, VarUInt row count, then per column its name, its type name and the
 * values: String = VarUInt byte length + UTF-8 bytes; UInt64, Float64, Float32 little-endian;
 * DateTime = UInt32 seconds. Types as in schema/clickhouse/001-samples.sql.
 */
import type { SampleRow } from './rows.js';

/** SAMPLE_COLUMNS (clickhouse-body.ts) in order, with their types. */
const SAMPLE_TYPES = [
  ['patient_key', 'String'],
  ['patient_id', 'String'],
  ['device_id', 'String'],
  ['ward', 'String'],
  ['metric', 'String'],
  ['ts', 'DateTime'],
  ['ts_ms', 'UInt64'],
  ['value', 'Float64'],
  ['quality', 'Float32'],
  ['source', 'String'],
  ['recv_ts_ms', 'UInt64'],
  ['trace_id', 'String'],
] as const;

const TWO_32 = 2 ** 32;

/** One column's bytes, growing as needed. */
class Column {
  buf: Buffer;
  off = 0;
  // The last string written, and where its bytes (length prefix included) start.
  private last: string | undefined;
  private lastStart = 0;
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }
  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }
  varUInt(n: number): void {
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.off++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.off++] = n;
  }
  /** VarUInt byte length + UTF-8 bytes. */
  string(s: string): void {
    // A sample fans out to one row per metric with the same strings: repeat the previous row's
    // bytes. Short copies and short ASCII strings are byte loops, cheaper at these lengths than
    // a call into Buffer's native code.
    if (s === this.last) {
      const start = this.lastStart;
      const len = this.off - start;
      this.lastStart = this.off;
      this.ensure(len);
      const b = this.buf;
      if (len > 32) this.off += b.copy(b, this.off, start, start + len);
      else for (let k = 0; k < len; k++) b[this.off++] = b[start + k] as number;
      return;
    }
    this.last = s;
    this.lastStart = this.off;
    const n = s.length;
    // At most 3 UTF-8 bytes per UTF-16 unit.
    this.ensure(n * 3 + 10);
    const b = this.buf;
    if (n < 0x80) {
      let o = this.off + 1;
      let k = 0;
      for (; k < n; k++) {
        const c = s.charCodeAt(k);
        if (c >= 0x80) break;
        b[o++] = c;
      }
      if (k === n) {
        b[this.off] = n;
        this.off = o;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.varUInt(bytes);
    this.off += this.buf.write(s, this.off, 'utf8');
  }
  u32(v: number): void {
    this.ensure(4);
    this.off = this.buf.writeUInt32LE(v, this.off);
  }
  /** Below 2^53 (timestamps in ms). */
  u64(v: number): void {
    this.ensure(8);
    this.off = this.buf.writeUInt32LE(v % TWO_32, this.off);
    this.off = this.buf.writeUInt32LE(Math.floor(v / TWO_32), this.off);
  }
  f64(v: number): void {
    this.ensure(8);
    this.off = this.buf.writeDoubleLE(v, this.off);
  }
  f32(v: number): void {
    this.ensure(4);
    this.off = this.buf.writeFloatLE(v, this.off);
  }
}

/**
 * The Native block for rows[from, to), columns in SAMPLE_COLUMNS order.
 * @param rows - validated sample rows (sampleRows): strings without lone surrogates, timestamps
 *   within UInt32 seconds and below 2^53 ms, finite numbers
 * @param from - first row
 * @param to - end of the range (exclusive)
 * @returns the block's bytes (an empty range gives an empty buffer: no block)
 */
export function sampleNative(rows: readonly SampleRow[], from: number, to: number): Buffer {
  const count = to - from;
  if (count <= 0) return Buffer.alloc(0);
  // One pass over the rows, each column into its own buffer, each field read at its own site.
  const cols = SAMPLE_TYPES.map(([name, type]) => {
    const c = new Column(count * (type === 'String' ? 16 : 8) + 32);
    c.string(name);
    c.string(type);
    return c;
  }) as Column[] & { length: 12 };
  const [patientKey, patientId, deviceId, ward, metric, ts, tsMs, value, quality, source, recvTsMs, traceId] = cols as [Column, Column, Column, Column, Column, Column, Column, Column, Column, Column, Column, Column];
  for (let i = from; i < to; i++) {
    const r = rows[i] as SampleRow;
    patientKey.string(r.patient_key);
    patientId.string(r.patient_id);
    deviceId.string(r.device_id);
    ward.string(r.ward);
    metric.string(r.metric);
    ts.u32(Math.floor(r.ts_ms / 1000));
    tsMs.u64(r.ts_ms);
    value.f64(r.value);
    quality.f32(r.quality);
    source.string(r.source);
    recvTsMs.u64(r.recv_ts_ms);
    traceId.string(r.trace_id);
  }
  const head = new Column(32);
  head.varUInt(cols.length);
  head.varUInt(count);
  return Buffer.concat([head, ...cols].map((c) => c.buf.subarray(0, c.off)));
}
