import { describe, expect, it } from 'vitest';
import { TimerHeap } from './timer-heap.js';

describe('TimerHeap', () => {
  it('pops due entries in deadline order, ties in insertion order', () => {
    const h = new TimerHeap<string>();
    const items: [number, string][] = [[50, 'e'], [10, 'a'], [30, 'c1'], [30, 'c2'], [20, 'b'], [30, 'c3'], [99, 'z']];
    for (const [d, v] of items) h.push(d, v);
    expect(h.peekDue()).toBe(10);
    const out: string[] = [];
    for (let e = h.popDue(50); e; e = h.popDue(50)) out.push(e.value);
    expect(out).toEqual(['a', 'b', 'c1', 'c2', 'c3', 'e']);
    expect(h.size).toBe(1);
    expect(h.popDue(98)).toBeUndefined();
  });
  it('stays ordered under random pushes', () => {
    const h = new TimerHeap<number>();
    let s = 1;
    for (let i = 0; i < 2000; i++) {
      s = (s * 48271) % 2147483647;
      h.push(s % 10_000, i);
    }
    let prev = -1;
    for (let e = h.popDue(Infinity); e; e = h.popDue(Infinity)) {
      expect(e.due).toBeGreaterThanOrEqual(prev);
      prev = e.due;
    }
    expect(h.size).toBe(0);
  });
});
