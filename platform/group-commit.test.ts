import { describe, expect, it } from 'vitest';
import { GroupCommit, type GroupCommitOptions } from './group-commit.js';

/** A writer that records each write and lets the test settle them one by one. */
function writer<I>(opts: Omit<GroupCommitOptions<I>, 'write'> = {}) {
  const writes: Array<{ items: I[]; fail: (i: number, e: unknown) => void; settle: (e?: Error) => void }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const gc = new GroupCommit<I>({
    ...opts,
    write: (items, fail) =>
      new Promise<void>((resolve, reject) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        writes.push({ items: [...items], fail, settle: (e) => (inFlight--, e ? reject(e) : resolve()) });
      }),
  });
  return { gc, writes, maxInFlight: () => maxInFlight };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Which of `ps` have settled, and how. */
async function states(ps: Array<Promise<void>>): Promise<string[]> {
  const out = ps.map(() => 'pending');
  ps.forEach((p, i) => p.then(() => (out[i] = 'ok'), (e: Error) => (out[i] = e.message)));
  await tick();
  return out;
}

describe('GroupCommit', () => {
  it('time flush: the items of one turn go out in one write at the end of the turn, acknowledged only after it', async () => {
    const { gc, writes } = writer<string>();
    const ps = ['a', 'b', 'c'].map((x) => gc.add(x));
    expect(writes).toHaveLength(0); // not before the turn ends
    await tick();
    expect(writes.map((w) => w.items)).toEqual([['a', 'b', 'c']]);
    expect(await states(ps)).toEqual(['pending', 'pending', 'pending']);
    writes[0]?.settle();
    expect(await states(ps)).toEqual(['ok', 'ok', 'ok']);
  });

  it('size flush: a group that reaches a bound is written at once, within the turn', () => {
    const { gc, writes } = writer<number>({ bounds: [{ size: () => 1, max: 2 }] });
    void gc.add(1);
    expect(writes).toHaveLength(0);
    void gc.add(2);
    expect(writes.map((w) => w.items)).toEqual([[1, 2]]);
    void gc.add(3);
    expect(writes).toHaveLength(1); // the next group waits for its turn to end (and a free slot)
  });

  it("split: an item that would pass a bound starts the next group; an item alone may exceed it", async () => {
    const { gc, writes } = writer<number>({ bounds: [{ size: (n) => n, max: 10 }], maxInFlight: 9 });
    const ps = [4, 5, 3, 12, 1].map((n) => gc.add(n));
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[4, 5], [3], [12], [1]]);
    writes.forEach((w) => w.settle());
    await Promise.all(ps);
  });

  it('fill: the item joins, and the group closes having reached the bound', async () => {
    const { gc, writes } = writer<number>({ bounds: [{ size: (n) => n, max: 10 }], overflow: 'fill', maxInFlight: 9 });
    [4, 5, 3, 12, 1].map((n) => void gc.add(n));
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[4, 5, 3], [12], [1]]);
  });

  it('several bounds: the first one reached closes the group', async () => {
    const { gc, writes } = writer<string>({ bounds: [{ size: () => 1, max: 3 }, { size: (s) => s.length, max: 6 }], maxInFlight: 9 });
    ['ab', 'cd', 'e', 'fghij', 'k', 'l', 'm'].map((x) => void gc.add(x));
    await tick();
    expect(writes.map((w) => w.items)).toEqual([['ab', 'cd', 'e'], ['fghij', 'k'], ['l', 'm']]);
  });

  it('a failed write fails every item of its group and only those; later groups are still written', async () => {
    const { gc, writes } = writer<string>({ maxInFlight: 2 });
    const first = ['a', 'b'].map((x) => gc.add(x));
    await tick();
    const second = ['c', 'd'].map((x) => gc.add(x));
    await tick();
    expect(writes.map((w) => w.items)).toEqual([['a', 'b'], ['c', 'd']]);
    writes[0]?.settle(new Error('disk full'));
    expect(await states([...first, ...second])).toEqual(['disk full', 'disk full', 'pending', 'pending']);
    const third = gc.add('e');
    writes[1]?.settle();
    await tick();
    writes[2]?.settle();
    expect(await states([...second, third])).toEqual(['ok', 'ok', 'ok']);
  });

  it('a write that throws synchronously fails its group', async () => {
    const gc = new GroupCommit<string>({
      write: () => {
        throw new Error('bad');
      },
    });
    const ps = [gc.add('a'), gc.add('b')];
    expect(await states(ps)).toEqual(['bad', 'bad']);
  });

  it('fail(index) settles one item early; the rest of its group follows the write', async () => {
    const { gc, writes } = writer<string>();
    const ps = ['a', 'b', 'c'].map((x) => gc.add(x));
    await tick();
    writes[0]?.fail(1, new Error('unknown topic'));
    expect(await states(ps)).toEqual(['pending', 'unknown topic', 'pending']);
    writes[0]?.settle();
    expect(await states(ps)).toEqual(['ok', 'unknown topic', 'ok']);
  });

  it('one write in flight by default: the newest group fills meanwhile and starts when the write ends, in order', async () => {
    const { gc, writes, maxInFlight } = writer<number>({ bounds: [{ size: () => 1, max: 3 }] });
    const first = gc.add(1);
    await tick();
    const later = [2, 3, 4, 5].map((n) => gc.add(n));
    await tick();
    const last = gc.add(6); // a later turn: joins the group still filling
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[1]]);
    writes[0]?.settle();
    await first;
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[1], [2, 3, 4]]);
    writes[1]?.settle();
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[1], [2, 3, 4], [5, 6]]);
    writes[2]?.settle();
    await Promise.all([...later, last]);
    expect(maxInFlight()).toBe(1);
  });

  it('fillWhileWaiting false: a waiting group closes at the end of its first turn; later items form the next', async () => {
    const { gc, writes } = writer<number>({ fillWhileWaiting: false });
    const ps = [gc.add(1)];
    await tick();
    ps.push(gc.add(2));
    await tick();
    ps.push(gc.add(3)); // a later turn: not joined to the group of 2, which waits
    await tick();
    writes[0]?.settle();
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[1], [2]]);
    writes[1]?.settle();
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[1], [2], [3]]);
    writes[2]?.settle();
    await Promise.all(ps);
  });

  it('linger: a group waits as long as linger() said when it opened, unless a bound fills it first', async () => {
    let lingerMs = 60;
    const { gc, writes } = writer<number>({ bounds: [{ size: () => 1, max: 3 }], linger: () => lingerMs });
    const ps = [gc.add(1)];
    await tick();
    ps.push(gc.add(2)); // a later turn: joins the lingering group
    await tick();
    expect(writes).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 80));
    expect(writes.map((w) => w.items)).toEqual([[1, 2]]);
    writes[0]?.settle();
    await tick();
    ps.push(gc.add(3), gc.add(4), gc.add(5)); // full: starts at once, its linger cut short
    expect(writes.map((w) => w.items)).toEqual([[1, 2], [3, 4, 5]]);
    writes[1]?.settle();
    await tick();
    lingerMs = 0; // asked per group: this one closes at the end of its turn
    ps.push(gc.add(6));
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[1, 2], [3, 4, 5], [6]]);
    writes[2]?.settle();
    await Promise.all(ps);
  });

  it("a group opened by a setImmediate callback gets the rest of its own turn, not an earlier group's timer", async () => {
    const { gc, writes } = writer<number>({ fillWhileWaiting: false, bounds: [{ size: (n) => n, max: 10 }] });
    const ps: Array<Promise<void>> = [];
    setImmediate(() => {
      setImmediate(() => ps.push(gc.add(2))); // the next turn, before the group of 1 has had it
      ps.push(gc.add(1)); // opens a group while the first group's timer is still queued in this phase
    });
    ps.push(gc.add(10)); // full at once: written, its timer queued after the callback above
    await tick();
    await tick();
    writes[0]?.settle();
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[10], [1, 2]]);
    writes[1]?.settle();
    await Promise.all(ps);
  });

  it('maxInFlight writes at once; a freed slot starts the oldest waiting group', async () => {
    const { gc, writes, maxInFlight } = writer<number>({ bounds: [{ size: () => 1, max: 2 }], maxInFlight: 2 });
    const ps = [1, 2, 3, 4, 5, 6].map((n) => gc.add(n));
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[1, 2], [3, 4]]);
    writes[1]?.settle(); // the later one first
    await tick();
    expect(writes.map((w) => w.items)).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(await states(ps)).toEqual(['pending', 'pending', 'ok', 'ok', 'pending', 'pending']);
    writes[0]?.settle();
    writes[2]?.settle();
    await Promise.all(ps);
    expect(maxInFlight()).toBe(2);
  });

  it('idle() waits for everything added, including what is added while waiting', async () => {
    const { gc, writes } = writer<string>();
    await gc.idle();
    void gc.add('a');
    let idle = false;
    void gc.idle().then(() => (idle = true));
    await tick();
    void gc.add('b');
    writes[0]?.settle();
    await tick();
    expect(idle).toBe(false);
    writes[1]?.settle();
    await tick();
    expect(idle).toBe(true);
  });
});
