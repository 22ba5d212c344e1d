/**
 * Sample rows as one block of ClickHouse's Native format, the columnar layout clickhouse-client
 * sends over its own protocol. Posted over HTTP (`INSERT … FORMAT Native`) the server copies
 * columns instead of parsing text, which was most of its work per TabSeparated row (ADR 0020).
 *
 * Layout without block info (what the Native *format* is on 18.16 and on current servers: revision
 * 0): VarUInt column count, VarUInt row count, then per column its name, its type name and the
 * values: String = VarUInt byte length + UTF-8 bytes; UInt64, Float64, Float32 little-endian;
 * DateTime = UInt32 seconds. Types as in schema/clickhouse/001-samples.sql. @clickhouse/client
 * cannot send this (its insert() takes JSON and text formats only), so the adapter posts it itself
 * (clickhouse-insert.ts).
 */
import type { CanonicalSample } from '../../core/vitals.js';
import { forEachSampleRow } from './rows.js';

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
  // Numbers go through a DataView: V8 compiles its little-endian stores inline (~25 % less CPU
  // per sample than Buffer's writeDoubleLE and friends, same bytes).
  private view: DataView;
  off = 0;
  // The last string written, and where its bytes (length prefix included) start.
  private last: string | undefined;
  private lastStart = 0;
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }
  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
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
    this.view.setUint32(this.off, v, true);
    this.off += 4;
  }
  /** Below 2^53 (timestamps in ms). */
  u64(v: number): void {
    this.ensure(8);
    this.view.setUint32(this.off, v % TWO_32, true);
    this.view.setUint32(this.off + 4, Math.floor(v / TWO_32), true);
    this.off += 8;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.off, v, true);
    this.off += 8;
  }
  f32(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.off, v, true);
    this.off += 4;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}

/** Rows per block: the body streams block by block, and the server squashes them into one part. */
export const NATIVE_BLOCK_ROWS = 10_000;

/**
 * A batch of samples as Native blocks of up to `blockRows` rows, validated first (sampleRows'
 * rules, via forEachSampleRow): rows go from each sample straight into the columns, with no row
 * objects, so the batch costs the sink's heap only its samples.
 * @param samples - canonical samples (a bad one throws before any bytes leave: the body is
 *   complete when this returns)
 * @param blockRows - rows per block
 * @returns the body: each block's header, then its 12 columns, as consecutive buffers
 */
export function sampleNative(samples: readonly CanonicalSample[], blockRows = NATIVE_BLOCK_ROWS): Buffer[] {
  const parts: Buffer[] = [];
  // The rows of a batch are about 5 per sample; columns grow if that guess is short.
  const expected = Math.min(blockRows, samples.length * 6);
  let cols = newColumns(expected);
  let count = 0;
  const close = (): void => {
    const head = new Column(16);
    head.varUInt(cols.length);
    head.varUInt(count);
    parts.push(head.bytes(), ...cols.map((c) => c.bytes()));
    cols = newColumns(expected);
    count = 0;
  };
  forEachSampleRow(samples, (r) => {
    const c = cols; // SAMPLE_TYPES order
    c[0].string(r.patient_key);
    c[1].string(r.patient_id);
    c[2].string(r.device_id);
    c[3].string(r.ward);
    c[4].string(r.metric);
    c[5].u32(Math.floor(r.ts_ms / 1000));
    c[6].u64(r.ts_ms);
    c[7].f64(r.value);
    c[8].f32(r.quality);
    c[9].string(r.source);
    c[10].u64(r.recv_ts_ms);
    c[11].string(r.trace_id);
    if (++count === blockRows) close();
  });
  if (count > 0) close();
  return parts;
}

type Columns = [Column, Column, Column, Column, Column, Column, Column, Column, Column, Column, Column, Column];

/** The 12 columns of a new block, each headed by its name and type. */
function newColumns(rows: number): Columns {
  return SAMPLE_TYPES.map(([name, type]) => {
    const c = new Column(rows * (type === 'String' ? 12 : 8) + 32);
    c.string(name);
    c.string(type);
    return c;
  }) as Columns;
}
