import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TOPICS, type BusRecord, type Subscription } from '../../core/ports.js';
import { busContract } from '../../test/support/bus-contract.js';
import { createMemoryBus, type MemoryBus, type MemoryBusOptions } from './memory.js';
import { DEFAULT_TOPIC_SPECS, defaultTopicSpecs } from './topics.js';

// Small batches so the hand-over tests cross batch boundaries; fast retries.
const fast: MemoryBusOptions = { maxBatchSize: 50, retryBackoffMs: { initial: 20, max: 200 } };

busContract('memory', () => createMemoryBus(fast), { quietMs: 100 });

const tmpDirs: string[] = [];
async function tmpDir(): Promise<string> {
  const d = await fsp.mkdtemp(path.join(os.tmpdir(), 'vitals-bus-'));
  tmpDirs.push(d);
  return d;
}

busContract('memory with dataDir', async () => createMemoryBus({ ...fast, dataDir: await tmpDir() }), { quietMs: 100 });

async function drain(bus: MemoryBus, topic: string): Promise<BusRecord[]> {
  const out: BusRecord[] = [];
  const sub = await bus.tail({ topics: [topic], from: 'earliest', handler: async (rs) => void out.push(...rs) });
  await sub.caughtUp;
  await sub.stop();
  return out;
}

describe('memory bus specifics', () => {
  const open: MemoryBus[] = [];
  const make = async (opts: MemoryBusOptions = {}): Promise<MemoryBus> => {
    const b = await createMemoryBus({ ...fast, ...opts });
    open.push(b);
    return b;
  };

  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close()));
    await Promise.all(tmpDirs.splice(0).map((d) => fsp.rm(d, { recursive: true, force: true })));
  });

  it('a group asking for batching.maxWaitMs gets a trickle in few batches, and nothing lost', async () => {
    const bus = await make();
    await bus.ensureTopics([{ name: 't-linger', partitions: 1 }]);
    const batches: number[] = [];
    const sub = await bus.consume({ groupId: 'g-linger', topics: ['t-linger'], batching: { maxWaitMs: 150 }, handler: async (rs) => void batches.push(rs.length) });
    // 40 records, each published alone a few ms apart: a trickle.
    for (let i = 0; i < 40; i++) {
      await bus.publish('t-linger', [{ key: 'k', value: String(i) }]);
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 400));
    await sub.stop();
    expect(batches.reduce((a, b) => a + b, 0)).toBe(40);
    expect(batches.length).toBeLessThanOrEqual(4);
  });

  it('a batching group that is caught up lingers even when each slow call finds new records waiting', async () => {
    const bus = await make();
    await bus.ensureTopics([{ name: 't-steady', partitions: 1 }]);
    const batches: number[] = [];
    // Each call takes 20 ms (a store insert), so a record always arrives while it runs.
    const sub = await bus.consume({
      groupId: 'g-steady',
      topics: ['t-steady'],
      batching: { minBytes: 1 << 20, maxWaitMs: 200 },
      handler: async (rs) => {
        batches.push(rs.length);
        await new Promise((r) => setTimeout(r, 20));
      },
    });
    // A steady trickle: 120 records, one every 5 ms.
    for (let i = 0; i < 120; i++) {
      await bus.publish('t-steady', [{ key: 'k', value: String(i) }]);
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 500));
    await sub.stop();
    expect(batches.reduce((a, b) => a + b, 0)).toBe(120);
    // Without the linger after a call that found the reader caught up: one call per 20 ms, ~30.
    expect(batches.length).toBeLessThanOrEqual(8);
  });

  it('a batching group reads a backlog without lingering, minBytes/200 records to a call', async () => {
    const bus = await make();
    await bus.ensureTopics([{ name: 't-backlog', partitions: 1 }]);
    for (let i = 0; i < 3; i++) await bus.publish('t-backlog', Array.from({ length: 1000 }, (_, j) => ({ key: 'k', value: String(i * 1000 + j) })));
    const batches: number[] = [];
    const t0 = Date.now();
    const sub = await bus.consume({ groupId: 'g-backlog', topics: ['t-backlog'], batching: { minBytes: 1000 * 200, maxWaitMs: 5000 }, handler: async (rs) => void batches.push(rs.length) });
    await sub.caughtUp;
    const elapsed = Date.now() - t0;
    await sub.stop();
    // Full calls are read on at once; a linger between them would take 5 s each.
    expect(batches).toEqual([1000, 1000, 1000]);
    expect(elapsed).toBeLessThan(2000);
  });

  it('rejects unknown topics and a second active member of a group', async () => {
    const bus = await make();
    await expect(bus.publish('nope', [{ key: 'a', value: 'b' }])).rejects.toMatchObject({ code: 'VTL_ERR_NOT_FOUND' });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    const sub = await bus.consume({ groupId: 'g', topics: ['t'], handler: async () => undefined });
    await expect(bus.consume({ groupId: 'g', topics: ['t'], handler: async () => undefined })).rejects.toMatchObject({ code: 'VTL_ERR_CONFLICT' });
    await sub.stop();
    // Released on stop: the group can be joined again.
    const again = await bus.consume({ groupId: 'g', topics: ['t'], handler: async () => undefined });
    await again.stop();
  });

  it('creates every default topic', async () => {
    const bus = await make();
    await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
    expect(Object.keys(bus.stats().topics).sort()).toEqual(DEFAULT_TOPIC_SPECS.map((s) => s.name).sort());
    // The registry and the alert log keep one partition whatever the override (global order); the rules
    // checkpoints follow the override, co-partitioned with the samples they restore.
    const specs = defaultTopicSpecs({ partitions: 3 });
    expect(specs.every((s) => s.partitions === (s.name === TOPICS.registry || s.name === TOPICS.alerts ? 1 : 3))).toBe(true);
    expect(specs.find((s) => s.name === TOPICS.rulesState)).toMatchObject({ compacted: true, partitions: 3 });
  });

  it('caughtUp waits for an in-flight batch, and rejects if stopped before catching up', async () => {
    const bus = await make();
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    await bus.publish('t', [{ key: 'a', value: '1' }]);
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const sub = await bus.tail({ topics: ['t'], from: 'earliest', handler: () => gate });
    await new Promise((res) => setTimeout(res, 20));
    const stopping = sub.stop();
    release();
    await stopping;
    // The in-flight batch completed, so it did catch up before the stop took effect.
    await expect(sub.caughtUp).resolves.toBeUndefined();

    const failing = await bus.tail({ topics: ['t'], from: 'earliest', handler: async () => Promise.reject(new Error('nope')) });
    await new Promise((res) => setTimeout(res, 30));
    await failing.stop();
    await expect(failing.caughtUp).rejects.toMatchObject({ code: 'VTL_ERR_BUS_UNAVAILABLE' });
  });

  it('close() does not hang on a handler that never resolves', async () => {
    const bus = await make({ closeTimeoutMs: 200 });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    await bus.publish('t', [{ key: 'a', value: '1' }]);
    await bus.tail({ topics: ['t'], from: 'earliest', handler: () => new Promise<void>(() => undefined) });
    await new Promise((res) => setTimeout(res, 20));
    const t0 = Date.now();
    await bus.close();
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('1000 concurrent publishes become about one append', async () => {
    const bus = await make({ dataDir: await tmpDir() });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    const before = bus.stats().appendWrites;
    await Promise.all(Array.from({ length: 1000 }, (_, i) => bus.publish('t', [{ key: `k${i % 10}`, value: `v${i}` }])));
    expect(bus.stats().appendWrites - before).toBeLessThanOrEqual(2);
    expect(bus.stats().topics.t?.nextOffset).toBe(1000);
  });

  it('a failed append fails every publish joined in it, acknowledges none, and the next append goes on', async () => {
    const dataDir = await tmpDir();
    const bus = await make({ dataDir, segmentBytes: 1 }); // every append opens a new segment file
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    await Promise.all([bus.publish('t', [{ key: 'a', value: '1' }]), bus.publish('t', [{ key: 'b', value: '2' }])]);
    const topicDir = path.join(dataDir, 'bus', 't');
    const saved = await fsp.readdir(topicDir);
    const kept = await Promise.all(saved.map((f) => fsp.readFile(path.join(topicDir, f))));
    await fsp.rm(topicDir, { recursive: true });
    const failed = await Promise.allSettled([bus.publish('t', [{ key: 'c', value: '3' }]), bus.publish('t', [{ key: 'd', value: '4' }])]);
    expect(failed.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'acked'))).toEqual(['VTL_ERR_BUS_UNAVAILABLE', 'VTL_ERR_BUS_UNAVAILABLE']);
    expect(await bus.healthy()).toBe(false);
    await fsp.mkdir(topicDir);
    await Promise.all(saved.map((f, i) => fsp.writeFile(path.join(topicDir, f), kept[i] as Buffer)));
    await bus.publish('t', [{ key: 'e', value: '5' }]);
    expect(await bus.healthy()).toBe(true);
    expect((await drain(bus, 't')).map((r) => [r.offset, r.value])).toEqual([['0', '1'], ['1', '2'], ['2', '5']]);
  });

  it('reopening a dataDir brings back records and committed offsets', async () => {
    const dataDir = await tmpDir();
    const bus = await make({ dataDir });
    await bus.ensureTopics([{ name: 'vitals.samples', partitions: 12 }]);
    const value = (i: number): string => JSON.stringify({ i, note: 'multi-byte é ✓ 🫀', nl: 'a\nb' });
    await bus.publish('vitals.samples', Array.from({ length: 100 }, (_, i) => ({ key: `p${i % 9}`, value: value(i), timestamp: 1_000_000 + i })));
    await bus.publish('vitals.samples', [{ key: 'weird key\nwith newline', value: null }]);
    const got: BusRecord[] = [];
    const sub = await bus.consume({
      groupId: 'sink',
      topics: ['vitals.samples'],
      handler: async (rs) => {
        got.push(...rs);
      },
    });
    await sub.caughtUp;
    await sub.stop();
    expect(got).toHaveLength(101);
    await bus.close();

    const bus2 = await make({ dataDir, retention: { defaults: { maxAgeMs: Number.MAX_SAFE_INTEGER } } });
    const replay = await drain(bus2, 'vitals.samples');
    expect(replay).toEqual(got);
    // The group resumes after its committed offset.
    await bus2.publish('vitals.samples', [{ key: 'p1', value: 'after-reopen' }]);
    const resumed: BusRecord[] = [];
    const sub2 = await bus2.consume({ groupId: 'sink', topics: ['vitals.samples'], handler: async (rs) => void resumed.push(...rs) });
    await sub2.caughtUp;
    await sub2.stop();
    expect(resumed.map((r) => [r.offset, r.value])).toEqual([['101', 'after-reopen']]);
  });

  it('a torn tail (crash mid-append) is dropped on reload; earlier records survive', async () => {
    const dataDir = await tmpDir();
    const bus = await make({ dataDir });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    await bus.publish('t', [{ key: 'a', value: 'one' }, { key: 'b', value: 'two' }]);
    await bus.close();
    const dir = path.join(dataDir, 'bus', 't');
    const seg = (await fsp.readdir(dir)).find((f) => f.endsWith('.seg')) as string;
    await fsp.appendFile(path.join(dir, seg), '2 1700000000000 1 10\nc{"trunc');
    const bus2 = await make({ dataDir, retention: { defaults: { maxAgeMs: Number.MAX_SAFE_INTEGER } } });
    expect(values(await drain(bus2, 't'))).toEqual(['one', 'two']);
    await bus2.publish('t', [{ key: 'c', value: 'three' }]);
    await bus2.close();
    const bus3 = await make({ dataDir, retention: { defaults: { maxAgeMs: Number.MAX_SAFE_INTEGER } } });
    const again = await drain(bus3, 't');
    expect(again.map((r) => [r.offset, r.value])).toEqual([['0', 'one'], ['1', 'two'], ['2', 'three']]);
  });

  it('a compacted topic keeps the last value per key across a reload', async () => {
    const dataDir = await tmpDir();
    const bus = await make({ dataDir, segmentBytes: 200 });
    await bus.ensureTopics([{ name: 'registry', partitions: 1, compacted: true }]);
    for (let round = 0; round < 5; round++) {
      await bus.publish('registry', [
        { key: 'dev-1', value: `dev-1 v${round}` },
        { key: 'dev-2', value: `dev-2 v${round}` },
      ]);
    }
    await bus.publish('registry', [{ key: 'dev-2', value: null }]);
    await bus.close();
    const bus2 = await make({ dataDir });
    const recs = await drain(bus2, 'registry');
    expect(recs.map((r) => [r.key, r.value])).toEqual([
      ['dev-1', 'dev-1 v4'],
      ['dev-2', null],
    ]);
    expect(bus2.stats().topics.registry?.segments).toBe(1);
    // Offsets survive compaction, and new records continue after them.
    await bus2.publish('registry', [{ key: 'dev-3', value: 'new' }]);
    await bus2.close();
    const bus3 = await make({ dataDir, tombstoneRetentionMs: 0 });
    const recs3 = await drain(bus3, 'registry');
    // An expired tombstone is dropped on reload.
    expect(recs3.map((r) => [r.offset, r.key, r.value])).toEqual([
      ['8', 'dev-1', 'dev-1 v4'],
      ['11', 'dev-3', 'new'],
    ]);
  });

  it('count retention bounds memory and deletes old segment files, also after reload', async () => {
    const dataDir = await tmpDir();
    const opts: MemoryBusOptions = { dataDir, segmentBytes: 2048, retention: { defaults: { maxRecords: 100 } } };
    const bus = await make(opts);
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    for (let i = 0; i < 30; i++) {
      await bus.publish('t', Array.from({ length: 100 }, (_, j) => ({ key: 'k', value: `value-${i * 100 + j}` })));
    }
    await bus.runRetention();
    const st = bus.stats().topics.t;
    expect(st?.records).toBe(100);
    expect(st?.firstOffset).toBe(2900);
    const recs = await drain(bus, 't');
    expect(recs[0]?.value).toBe('value-2900');
    expect(recs).toHaveLength(100);
    const files = (await fsp.readdir(path.join(dataDir, 'bus', 't'))).filter((f) => f.endsWith('.seg'));
    // 3000 records of ~35 bytes would be ~50 segments of 2 KiB; only the tail is kept.
    expect(files.length).toBeLessThanOrEqual(4);
    await bus.close();
    const bus2 = await make(opts);
    const recs2 = await drain(bus2, 't');
    expect(recs2).toHaveLength(100);
    expect(recs2[recs2.length - 1]?.value).toBe('value-2999');
  });

  it('age retention drops old records and a lagging group skips ahead to the log start', async () => {
    const bus = await make({ retention: { topics: { t: { maxAgeMs: 60_000 } } } });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    const now = Date.now();
    await bus.publish('t', [
      { key: 'a', value: 'old-1', timestamp: now - 3_600_000 },
      { key: 'a', value: 'old-2', timestamp: now - 120_000 },
      { key: 'a', value: 'fresh', timestamp: now },
    ]);
    await bus.runRetention();
    expect(values(await drain(bus, 't'))).toEqual(['fresh']);
    const got: BusRecord[] = [];
    const sub = await bus.consume({ groupId: 'late', topics: ['t'], handler: async (rs) => void got.push(...rs) });
    await sub.caughtUp;
    await sub.stop();
    expect(values(got)).toEqual(['fresh']);
  });

  it('a handler that throws is retried without crashing and its error is logged without record values', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) });
    const bus = await make({ log });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    await bus.publish('t', [{ key: 'MRN-000123', value: '{"patientId":"MRN-000123"}' }]);
    let n = 0;
    const sub: Subscription = await bus.consume({
      groupId: 'g',
      topics: ['t'],
      handler: async () => {
        if (++n < 3) throw new Error('boom');
      },
    });
    await sub.caughtUp;
    await sub.stop();
    expect(n).toBe(3);
    expect(lines.length).toBe(2);
    expect(lines.join('')).not.toContain('MRN-000123');
    expect(lines.join('')).toContain('retrying');
  });

  it('stop() during a long handler backoff ends the wait at once and commits nothing', async () => {
    const bus = await make({ retryBackoffMs: { initial: 60_000, max: 60_000 } });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    await bus.publish('t', [{ key: 'k', value: '1' }]);
    let calls = 0;
    const sub = await bus.consume({
      groupId: 'g',
      topics: ['t'],
      handler: async () => {
        calls++;
        throw new Error('boom');
      },
    });
    while (calls === 0) await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    await sub.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(calls).toBe(1);
    // Nothing was committed: the next member gets the record.
    const again: BusRecord[] = [];
    const next = await bus.consume({ groupId: 'g', topics: ['t'], handler: async (rs) => void again.push(...rs) });
    await next.caughtUp;
    await next.stop();
    expect(values(again)).toEqual(['1']);
  });
});

function values(rs: readonly BusRecord[]): (string | null)[] {
  return rs.map((r) => r.value);
}
