import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { rememberingPartitioner } from './kafka.js';
import { KeyBytes } from './kafka/producer.js';

const meta = (n: number) => Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));

describe('rememberingPartitioner', () => {
  it('puts every key where kafkajs DefaultPartitioner (murmur2, Java-compatible) puts it, whatever the partition count', () => {
    const remembered = rememberingPartitioner();
    const reference = kafkajs.Partitioners.DefaultPartitioner();
    const keys = [...Array.from({ length: 500 }, (_, i) => `P-${i}`), 'device:mon-1', '', 'é漢🫀', 'BENCH-P-42'];
    let moved = 0;
    for (const n of [1, 3, 12, 12, 7, 12]) {
      for (const key of keys) {
        const args = { topic: 'vitals.samples', partitionMetadata: meta(n), message: { key, value: 'x' } };
        const p = remembered(args);
        expect(p).toBe(reference(args));
        if (n === 12 && p !== remembered({ ...args, partitionMetadata: meta(7) })) moved++;
      }
    }
    expect(moved).toBeGreaterThan(0); // the count is part of the memory's key
  });

  it('leaves an explicit partition and a keyless record to kafkajs', () => {
    const remembered = rememberingPartitioner();
    expect(remembered({ topic: 't', partitionMetadata: meta(12), message: { key: 'P-1', value: 'x', partition: 5 } })).toBe(5);
    const spread = new Set(Array.from({ length: 24 }, () => remembered({ topic: 't', partitionMetadata: meta(12), message: { key: null, value: 'x' } })));
    expect(spread.size).toBeGreaterThan(1); // round robin, not one remembered partition
  });
});

describe('rememberingPartitioner with key bytes', () => {
  it('puts a Buffer key (KeyBytes, one Buffer per key) where kafkajs puts its string', () => {
    const remembered = rememberingPartitioner();
    const reference = kafkajs.Partitioners.DefaultPartitioner();
    const bytes = new KeyBytes();
    for (const n of [12, 7, 12]) {
      for (const key of [...Array.from({ length: 300 }, (_, i) => `P-${i}`), 'é漢🫀']) {
        const b = bytes.of(key);
        expect(bytes.of(key)).toBe(b); // the same object: remembered by identity
        const p = remembered({ topic: 't', partitionMetadata: meta(n), message: { key: b, value: 'x' } });
        expect(p).toBe(reference({ topic: 't', partitionMetadata: meta(n), message: { key, value: 'x' } }));
        // Another Buffer with the same bytes is hashed again, to the same place.
        expect(remembered({ topic: 't', partitionMetadata: meta(n), message: { key: Buffer.from(key), value: 'x' } })).toBe(p);
      }
    }
  });
});
