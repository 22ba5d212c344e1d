import { describe, expect, it } from 'vitest';
import { assignCoPartitions, decodeOwned, encodeOwned } from './co-partition.js';

const all = (m: Map<string, number[]>): number[] => [...m.values()].flat().sort((a, b) => a - b);

describe('assignCoPartitions', () => {
  it('gives every partition to exactly one member, in fair shares', () => {
    const m = assignCoPartitions(
      [
        { memberId: 'b', owned: [] },
        { memberId: 'a', owned: [] },
        { memberId: 'c', owned: [] },
      ],
      12,
    );
    expect(all(m)).toEqual([...Array(12).keys()]);
    expect([...m.values()].map((p) => p.length)).toEqual([4, 4, 4]);
  });

  it('uneven counts differ by at most one', () => {
    const m = assignCoPartitions(
      [
        { memberId: 'a', owned: [] },
        { memberId: 'b', owned: [] },
      ],
      5,
    );
    expect(all(m)).toEqual([0, 1, 2, 3, 4]);
    const sizes = [...m.values()].map((p) => p.length).sort();
    expect(sizes).toEqual([2, 3]);
  });

  it('a joining member takes partitions only from above-share members; the rest stay', () => {
    const before = new Map([
      ['a', [0, 1, 2, 3, 4, 5]],
      ['b', [6, 7, 8, 9, 10, 11]],
    ]);
    const m = assignCoPartitions(
      [
        { memberId: 'a', owned: before.get('a') as number[] },
        { memberId: 'b', owned: before.get('b') as number[] },
        { memberId: 'c', owned: [] },
      ],
      12,
    );
    expect(all(m)).toEqual([...Array(12).keys()]);
    expect(m.get('a')).toEqual([0, 1, 2, 3]);
    expect(m.get('b')).toEqual([6, 7, 8, 9]);
    expect(m.get('c')).toEqual([4, 5, 10, 11]);
  });

  it('a member that left: the survivor keeps its own and takes the rest', () => {
    const m = assignCoPartitions([{ memberId: 'b', owned: [6, 7, 8, 9, 10, 11] }], 12);
    expect(m.get('b')).toEqual([...Array(12).keys()]);
  });

  it('a partition claimed twice goes to one member; out-of-range claims are ignored', () => {
    const m = assignCoPartitions(
      [
        { memberId: 'a', owned: [0, 1, 99] },
        { memberId: 'b', owned: [1, 2] },
      ],
      4,
    );
    expect(all(m)).toEqual([0, 1, 2, 3]);
    expect(m.get('a')).toContain(0);
    expect(m.get('b')).toContain(2);
  });

  it('more members than partitions: some get none', () => {
    const m = assignCoPartitions(
      [
        { memberId: 'a', owned: [] },
        { memberId: 'b', owned: [] },
        { memberId: 'c', owned: [] },
      ],
      2,
    );
    expect(all(m)).toEqual([0, 1]);
    expect([...m.values()].filter((p) => p.length === 0)).toHaveLength(1);
  });
});

describe('owned partitions in join metadata', () => {
  it('round-trips, and unreadable metadata owns nothing', () => {
    expect(decodeOwned(encodeOwned(new Set([3, 1, 2])))).toEqual([1, 2, 3]);
    expect(decodeOwned(Buffer.from('not json'))).toEqual([]);
    expect(decodeOwned(Buffer.from('{"a":1}'))).toEqual([]);
    expect(decodeOwned(null)).toEqual([]);
  });
});
