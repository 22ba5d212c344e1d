/**
 * Bundles: several records of one partition carried as one Kafka record (format v1, documented in
 * docs/protocol.md, "Bus records on Kafka"). kafkajs spends ~11 µs of CPU per record it encodes
 * (an Encoder and a 512-byte zeroed buffer each, Long arithmetic, object spreads), whatever the
 * record's size; a bundle pays that once for up to {@link MAX_BUNDLE_RECORDS} samples (ADR 0020).
 * The consumer side of this adapter unbundles, so every reader still sees one BusRecord per record.
 *
 * A bundle's Kafka record carries the header `vitals-bundle: 1`; its value is
 *   u32 count, then count × (u16 key bytes, key (UTF-8), f64 timestamp (epoch ms), u32 value bytes, value (UTF-8))
 * all big-endian. Tombstones (null values) are never bundled, nor are records of compacted topics.
 */

/** The header that marks a bundle, and its value for this format. */
export const BUNDLE_HEADER = 'vitals-bundle';
export const BUNDLE_VERSION = '1';

/**
 * Most records in one bundle. It bounds how far the bus's lag (counted in Kafka records) can
 * understate the samples a consumer is behind: flow control (VITALS_FLOW_MAX_LAG) counts records.
 */
export const MAX_BUNDLE_RECORDS = 32;
/** Most value length (UTF-16 units, so ≤ 3× in UTF-8 bytes) in one bundle: well under Kafka's 1 MiB batch limit. */
export const MAX_BUNDLE_BYTES = 128 * 1024;

/** One record as it goes into a bundle; the key's bytes are made once per key by the producer. */
export interface BundleEntry {
  key: Buffer;
  value: string;
  timestamp: number;
}

/** One record as it comes out of a bundle. */
export interface UnbundledRecord {
  key: string;
  value: string;
  timestamp: number;
}

const MAX_KEY_BYTES = 0xffff;

/** True if the key fits a bundle entry (u16 length); longer keys travel as plain records. */
export function bundleable(key: Buffer): boolean {
  return key.length <= MAX_KEY_BYTES;
}

/** One partition's records as they go out, in order: a bundle (two or more) or a plain record. */
export type Run<E> = { bundle: true; entries: E[] } | { bundle: false; entry: E };

/**
 * One partition's records, in order, cut into bundles of at most `maxRecords` records and about
 * `maxChars` characters of values; a run of one, a null value (tombstone) or a key too long for a
 * bundle goes plain, between the runs around it.
 */
export function splitRuns<E extends { key: Buffer; value: string | null }>(list: readonly E[], maxRecords = MAX_BUNDLE_RECORDS, maxChars = MAX_BUNDLE_BYTES): Run<E>[] {
  const out: Run<E>[] = [];
  let run: E[] = [];
  let chars = 0;
  const close = (): void => {
    if (run.length === 1) out.push({ bundle: false, entry: run[0] as E });
    else if (run.length > 1) out.push({ bundle: true, entries: run });
    run = [];
    chars = 0;
  };
  for (const e of list) {
    if (e.value === null || !bundleable(e.key)) {
      close();
      out.push({ bundle: false, entry: e });
      continue;
    }
    if (run.length >= maxRecords || (run.length > 0 && chars + e.value.length > maxChars)) close();
    run.push(e);
    chars += e.value.length;
  }
  close();
  return out;
}

/** The value of a bundle's Kafka record. Entries keep their order. */
export function encodeBundle(entries: readonly BundleEntry[]): Buffer {
  let size = 4;
  const lengths = new Array<number>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as BundleEntry;
    const n = Buffer.byteLength(e.value, 'utf8');
    lengths[i] = n;
    size += 2 + e.key.length + 8 + 4 + n;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = buf.writeUInt32BE(entries.length, 0);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as BundleEntry;
    at = buf.writeUInt16BE(e.key.length, at);
    at += e.key.copy(buf, at);
    at = buf.writeDoubleBE(e.timestamp, at);
    const n = lengths[i] as number;
    at = buf.writeUInt32BE(n, at);
    at += buf.write(e.value, at, n, 'utf8');
  }
  return buf;
}

/** The records of a bundle, in order; null if the bytes are not a well-formed v1 bundle. */
export function decodeBundle(buf: Buffer): UnbundledRecord[] | null {
  if (buf.length < 4) return null;
  const count = buf.readUInt32BE(0);
  // Each entry takes at least 14 bytes: a count beyond that is corrupt (and must not size an array).
  if (count > (buf.length - 4) / 14) return null;
  const out: UnbundledRecord[] = new Array(count);
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 2 > buf.length) return null;
    const k = buf.readUInt16BE(at);
    at += 2;
    if (at + k + 12 > buf.length) return null;
    const key = buf.toString('utf8', at, at + k);
    at += k;
    const timestamp = buf.readDoubleBE(at);
    at += 8;
    const n = buf.readUInt32BE(at);
    at += 4;
    if (at + n > buf.length) return null;
    out[i] = { key, value: buf.toString('utf8', at, at + n), timestamp };
    at += n;
  }
  return at === buf.length ? out : null;
}

/** The bundle format version in a Kafka record's headers; null for a plain record. */
export function bundleVersion(headers: Record<string, unknown> | undefined): string | null {
  const h = headers?.[BUNDLE_HEADER];
  if (h === undefined) return null;
  return Buffer.isBuffer(h) ? h.toString('utf8') : String(h);
}
