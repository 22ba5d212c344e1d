import { describe, expect, it } from 'vitest';
import { BUNDLE_HEADER, bundleVersion, decodeBundle, encodeBundle, splitRuns, type BundleEntry } from './kafka/bundle.js';

const entry = (key: string, value: string, timestamp: number): BundleEntry => ({ key: Buffer.from(key), value, timestamp });

describe('Kafka bundle format v1', () => {
  it('gives back every record, in order, byte for byte (multi-byte text, empty strings, large timestamps)', () => {
    const entries = [
      entry('P-1', '{"v":1,"hr":72}', 1_796_600_000_123),
      entry('é漢🫀', 'ward "Süd" \\ \n', 0),
      entry('', '', 8_640_000_000_000_000),
      ...Array.from({ length: 200 }, (_, i) => entry(`P-${i % 7}`, `{"i":${i},"x":"${'y'.repeat(i)}"}`, 1_796_600_000_000 + i)),
    ];
    const out = decodeBundle(encodeBundle(entries));
    expect(out).toEqual(entries.map((e) => ({ key: e.key.toString('utf8'), value: e.value, timestamp: e.timestamp })));
  });

  it('refuses bytes that are not a whole bundle instead of inventing records', () => {
    const good = encodeBundle([entry('P-1', 'a', 1), entry('P-2', 'bb', 2)]);
    expect(decodeBundle(good)).toHaveLength(2);
    for (let cut = 0; cut < good.length; cut++) expect(decodeBundle(good.subarray(0, cut))).toBeNull();
    expect(decodeBundle(Buffer.concat([good, Buffer.from([0])]))).toBeNull(); // trailing bytes
    const huge = Buffer.from(good);
    huge.writeUInt32BE(0xffffffff, 0); // a count no buffer this size can hold
    expect(decodeBundle(huge)).toBeNull();
    expect(decodeBundle(Buffer.from('{"v":1,"deviceId":"mon-1"}'))).toBeNull();
  });

  it('reads the version from the header whether kafkajs hands it over as bytes or text', () => {
    expect(bundleVersion(undefined)).toBeNull();
    expect(bundleVersion({})).toBeNull();
    expect(bundleVersion({ [BUNDLE_HEADER]: Buffer.from('1') })).toBe('1');
    expect(bundleVersion({ [BUNDLE_HEADER]: '2' })).toBe('2');
  });
});

describe('splitRuns', () => {
  const e = (value: string | null, key = 'P-1'): { key: Buffer; value: string | null } => ({ key: Buffer.from(key), value });
  const shape = (runs: ReturnType<typeof splitRuns<{ key: Buffer; value: string | null }>>): string[] =>
    runs.map((r) => (r.bundle ? `[${r.entries.map((x) => x.value).join(',')}]` : String(r.entry.value)));

  it('cuts a partition into bundles of at most maxRecords, in order; a lone record goes plain', () => {
    expect(shape(splitRuns(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((v) => e(v)), 3))).toEqual(['[a,b,c]', '[d,e,f]', 'g']);
    expect(shape(splitRuns([e('a')], 3))).toEqual(['a']);
    expect(splitRuns([], 3)).toEqual([]);
  });

  it('closes a bundle before it passes maxChars, and never bundles a tombstone or an over-long key', () => {
    expect(shape(splitRuns([e('aaaa'), e('bbbb'), e('cccc'), e('d')], 32, 8))).toEqual(['[aaaa,bbbb]', '[cccc,d]']);
    expect(shape(splitRuns([e('a'), e('b'), e(null), e('c'), e('d'), e('x', 'k'.repeat(70_000)), e('f')], 32))).toEqual(['[a,b]', 'null', '[c,d]', 'x', 'f']);
  });
});
