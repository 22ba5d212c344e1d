import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { rememberingPartitioner } from './kafka.js';

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
