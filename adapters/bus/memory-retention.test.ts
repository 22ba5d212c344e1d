/**
 * Retention never removes what a required reader has not read (issue 11: acknowledged samples
 * were deleted before the rules role and the sink read them). Readers are held back by a
 * handler that waits on a gate, the log is pushed far past its limits, then they are released.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusRecord, Subscription } from '../../core/ports.js';
import { createMemoryBus, type MemoryBus, type MemoryBusOptions } from './memory.js';

const open: MemoryBus[] = [];
const make = async (opts: MemoryBusOptions): Promise<MemoryBus> => {
  const b = await createMemoryBus({ maxBatchSize: 50, retryBackoffMs: { initial: 20, max: 200 }, ...opts });
  open.push(b);
  await b.ensureTopics([{ name: 't', partitions: 1 }]);
  return b;
};

afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});

/** A handler that blocks until `release()`, collecting what it was given. */
function heldReader(): { got: BusRecord[]; handler: (rs: BusRecord[]) => Promise<void>; release: () => void } {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((res) => (release = res));
  const got: BusRecord[] = [];
  return {
    got,
    release: () => release(),
    handler: async (rs) => {
      await gate;
      got.push(...rs);
    },
  };
}

const waitFor = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

async function flood(bus: MemoryBus, n: number, timestamp?: number, start = 0): Promise<void> {
  for (let i = start; i < start + n; i += 100) {
    await bus.publish('t', Array.from({ length: 100 }, (_, j) => ({ key: 'k', value: `v${i + j}`, ...(timestamp === undefined ? {} : { timestamp }) })));
  }
}

/** Group `sink` reads the first 100 records, commits, and leaves. */
async function readFirstHundredAndLeave(bus: MemoryBus): Promise<void> {
  const first = heldReader();
  first.release();
  const sub = await bus.consume({ groupId: 'sink', topics: ['t'], handler: first.handler });
  await flood(bus, 100);
  await waitFor(() => first.got.length === 100);
  await sub.stop();
}

const values = (rs: BusRecord[]): string[] => rs.map((r) => r.value ?? '');
const expected = (n: number): string[] => Array.from({ length: n }, (_, i) => `v${i}`);

describe('memory bus retention and required readers', () => {
  it('a consumer group far behind under count and age retention pressure reads every record, in order', async () => {
    const bus = await make({ retention: { topics: { t: { maxRecords: 100, maxAgeMs: 60_000 } } } });
    const held = heldReader();
    const sub: Subscription = await bus.consume({ groupId: 'sink', topics: ['t'], handler: held.handler });
    // Stamped two hours ago: every record is past the age limit as well as the count limit.
    await flood(bus, 5000, Date.now() - 2 * 3_600_000);
    await bus.runRetention();
    expect(bus.stats().topics.t?.firstOffset).toBe(0);
    expect(await bus.lag()).toEqual([{ consumer: 'sink', topic: 't', lag: 5000, required: true }]);
    held.release();
    await waitFor(() => held.got.length === 5000);
    expect(values(held.got)).toEqual(expected(5000));
    await bus.runRetention();
    // Once read, retention applies again (all of it is past the age limit).
    expect(bus.stats().topics.t).toMatchObject({ records: 0, firstOffset: 5000 });
    expect(await bus.lag()).toEqual([{ consumer: 'sink', topic: 't', lag: 0, required: true }]);
    await sub.stop();
  });

  it('a required tail (the rules role) is never skipped; an optional one skips ahead and says so', async () => {
    const bus = await make({ retention: { topics: { t: { maxRecords: 100 } } } });
    const rules = heldReader();
    const view = heldReader();
    await bus.tail({ topics: ['t'], from: 'earliest', handler: rules.handler, required: true, name: 'rules' });
    await bus.tail({ topics: ['t'], from: 'earliest', handler: view.handler, name: 'view' });
    await flood(bus, 3000);
    await bus.runRetention();
    const lag = await bus.lag();
    expect(lag).toContainEqual({ consumer: 'rules', topic: 't', lag: 3000, required: true });
    expect(lag).toContainEqual({ consumer: 'view', topic: 't', lag: 3000, required: false });
    rules.release();
    await waitFor(() => rules.got.length === 3000);
    expect(values(rules.got)).toEqual(expected(3000));
    await bus.runRetention();
    view.release();
    await waitFor(() => view.got.at(-1)?.value === 'v2999');
    // The optional reader got its first (held) batch, then jumped to what retention kept.
    expect(view.got.length).toBeLessThan(3000);
  });

  it('an idle group holds retention while it may come back, then stops pinning the log', async () => {
    const bus = await make({ retention: { topics: { t: { maxRecords: 100 } } }, inactiveGroupHoldMs: 200 });
    await readFirstHundredAndLeave(bus);
    await flood(bus, 2000, undefined, 100);
    await bus.runRetention();
    expect(bus.stats().topics.t?.firstOffset).toBe(100);
    expect(await bus.lag()).toEqual([{ consumer: 'sink', topic: 't', lag: 2000, required: true }]);
    await new Promise((r) => setTimeout(r, 250));
    await bus.runRetention();
    expect(bus.stats().topics.t?.records).toBe(100);
    expect(await bus.lag()).toEqual([]);
  });

  it('committed offsets survive a restart and hold retention until the group re-attaches', async () => {
    const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'vitals-ret-'));
    const opts: MemoryBusOptions = { dataDir, segmentBytes: 4096, retention: { topics: { t: { maxRecords: 100 } } } };
    const bus = await make(opts);
    await readFirstHundredAndLeave(bus);
    await flood(bus, 1900, undefined, 100);
    await bus.close();
    const bus2 = await make(opts);
    await bus2.runRetention();
    const again = heldReader();
    again.release();
    await bus2.consume({ groupId: 'sink', topics: ['t'], handler: again.handler });
    await waitFor(() => again.got.length === 1900);
    expect(values(again.got)).toEqual(expected(2000).slice(100));
    await bus2.close();
    await fsp.rm(dataDir, { recursive: true, force: true });
  });

  it('hands in-process readers the publisher’s decoded object (no parse per reader), durable or not', async () => {
    for (const dataDir of [null, await fsp.mkdtemp(path.join(os.tmpdir(), 'vitals-dec-'))]) {
      const bus = await make({ dataDir });
      const obj = { v: 1, n: 1 };
      const got: BusRecord[] = [];
      await bus.tail({ topics: ['t'], from: 'earliest', handler: async (rs) => void got.push(...rs) });
      await bus.publish('t', [{ key: 'k', value: JSON.stringify(obj), decoded: obj }]);
      await waitFor(() => got.length === 1);
      expect(got[0]?.decoded).toBe(obj);
    }
  });

  it('drops a record’s decoded object once every reader has handled it, never before; a later reader parses the value', async () => {
    for (const dataDir of [null, await fsp.mkdtemp(path.join(os.tmpdir(), 'vitals-dec-'))]) {
      const bus = await make({ dataDir });
      const a = { v: 1, n: 'a' };
      const fast: BusRecord[] = [];
      const slow = heldReader();
      await bus.tail({ topics: ['t'], from: 'earliest', handler: async (rs) => void fast.push(...rs) });
      await bus.consume({ groupId: 'held', topics: ['t'], handler: slow.handler });
      await bus.publish('t', [{ key: 'k', value: JSON.stringify(a), decoded: a }]);
      await waitFor(() => fast.length === 1);
      // The next append runs the release: the held reader has not handled `a` yet, so it keeps it.
      await bus.publish('t', [{ key: 'k', value: JSON.stringify({ v: 1, n: 'b' }), decoded: { v: 1, n: 'b' } }]);
      await waitFor(() => fast.length === 2);
      expect(fast[0]?.decoded).toBe(a);
      slow.release();
      await waitFor(() => slow.got.length === 2);
      expect(slow.got[0]?.decoded).toBe(a);
      await bus.publish('t', [{ key: 'k', value: JSON.stringify({ v: 1, n: 'c' }), decoded: { v: 1, n: 'c' } }]);
      await waitFor(() => fast.length === 3 && slow.got.length === 3);
      expect(fast[0]?.decoded).toBeUndefined();
      expect(fast[1]?.decoded).toBeUndefined();
      // A reader that starts later gets the values to parse.
      const late: BusRecord[] = [];
      await bus.tail({ topics: ['t'], from: 'earliest', handler: async (rs) => void late.push(...rs) });
      await waitFor(() => late.length === 3);
      expect(late.map((r) => (JSON.parse(r.value as string) as { n: string }).n)).toEqual(['a', 'b', 'c']);
    }
  });

  it('a topic nobody reads keeps no decoded objects', async () => {
    const bus = await make({ dataDir: null });
    await bus.publish('t', [{ key: 'k', value: '{"v":1}', decoded: { v: 1 } }]);
    const got: BusRecord[] = [];
    await bus.tail({ topics: ['t'], from: 'earliest', handler: async (rs) => void got.push(...rs) });
    await waitFor(() => got.length === 1);
    expect(got[0]?.decoded).toBeUndefined();
  });
});
