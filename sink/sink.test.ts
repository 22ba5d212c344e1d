import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus, type MemoryBus } from '../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../adapters/bus/topics.js';
import { createDuckDbStore } from '../adapters/store/duckdb.js';
import type { AuditEvent } from '../core/audit.js';
import { VitalsError } from '../core/errors.js';
import { TOPICS, type Bus, type BusRecord, type ConsumeOptions, type Store } from '../core/ports.js';
import type { ScoreOutput } from '../core/bus-messages.js';
import type { CanonicalSample } from '../core/vitals.js';
import { loadConfig } from '../platform/config.js';
import type { Context, Service } from '../platform/context.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { startSink, type SinkOptions } from './sink.js';

const T0 = Date.UTC(2024, 0, 15, 10);
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function config(): Context['config'] {
  const r = loadConfig({});
  if (!r.ok) throw new Error('config');
  return r.config;
}

function ctxOf(bus: Bus, store: Store): Context {
  return { config: config(), log: createLogger({ level: 'silent' }), clock: { now: () => Date.now() }, metrics: createMetricsRegistry(), bus, store };
}

function sample(patientId: string, ts: number, hr: number): CanonicalSample {
  return { v: 1, deviceId: 'd1', patientId, ward: 'w', ts, recvTs: ts, source: 'device', metrics: { hr }, traceId: 't' };
}

function scoreOf(patientId: string, ts: number, score: number): ScoreOutput {
  return {
    patientId, ward: 'w', ts, score, maxScore: score, risk: 'low', complete: true, missing: [], scale: 1, raw: {}, rounded: {}, stale: [],
    components: { rr: score, spo2: 0, o2: 0, sbp: 0, hr: 0, acvpu: 0, temp: 0 },
  };
}

async function setup(opts: SinkOptions = {}, wrap: (s: Store) => Store = (s) => s): Promise<{ bus: MemoryBus; store: Store; sink: Service; ctx: Context }> {
  const bus = await createMemoryBus({ retryBackoffMs: { initial: 20, max: 100 } });
  await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
  const inner = await createDuckDbStore({ path: ':memory:' });
  await inner.migrate();
  const store = wrap(inner);
  const ctx = ctxOf(bus, store);
  const sink = await startSink(ctx, { retention: false, ...opts });
  cleanups.push(async () => {
    await sink.stop();
    await bus.close();
    await inner.close();
  });
  return { bus, store: inner, sink, ctx };
}

const pub = (bus: Bus, topic: string, values: unknown[]): Promise<void> =>
  bus.publish(topic, values.map((v) => ({ key: 'k', value: typeof v === 'string' ? v : JSON.stringify(v) })));

async function until<T>(what: string, fn: () => Promise<T | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const rawHr = async (store: Store, p: string): Promise<unknown[]> => store.history({ patientKey: p, metric: 'hr', from: 0, to: T0 + 3600_000, step: 'raw', limit: 1000 });

/** A bus that hands the sink's consume options (its handler) to the test, which then plays the bus. */
function handOverBus(): { bus: Bus; consumed: () => ConsumeOptions | null } {
  let consumed: ConsumeOptions | null = null;
  const bus: Bus = {
    kind: 'kafka',
    ensureTopics: async () => undefined,
    publish: async () => undefined,
    consume: async (o) => {
      consumed = o;
      return { caughtUp: Promise.resolve(), stop: async () => undefined };
    },
    tail: async () => ({ caughtUp: Promise.resolve(), stop: async () => undefined }),
    lag: async () => [],
    healthy: async () => true,
    close: async () => undefined,
  };
  return { bus, consumed: () => consumed };
}

describe('sink', () => {
  it('writes samples, alerts, audit and NEWS2 scores from the bus, duplicates shown once', async () => {
    const { bus, store } = await setup();
    const samples = [sample('p1', T0, 70), sample('p1', T0 + 1000, 71)];
    await pub(bus, TOPICS.samples, samples);
    await pub(bus, TOPICS.samples, samples); // redelivery of the same records
    await pub(bus, TOPICS.scores, [scoreOf('p1', T0, 3), scoreOf('p1', T0, 3)]);
    const audit: AuditEvent = { v: 1, id: 'a1', ts: T0, userId: 'u', role: 'nurse', action: 'x', resource: 'r', patientId: null, address: '::1', outcome: 'ok' };
    await pub(bus, TOPICS.audit, [audit, audit]);
    await until('rows', async () => ((await rawHr(store, 'p1')).length === 2 && (await store.scores({ patientId: 'p1', from: 0, to: T0 + 1, limit: 10 })).length === 1) || false);
    expect(await rawHr(store, 'p1')).toEqual([{ ts: T0, value: 70 }, { ts: T0 + 1000, value: 71 }]);
    expect(await store.audit({ userId: 'u', limit: 10 })).toEqual([audit]);
  });

  it('dead-letters a record the store rejects (and unparsable JSON) with a reason, and keeps going', async () => {
    const { bus, store } = await setup();
    const dlq: BusRecord[] = [];
    const tail = await bus.tail({ topics: [TOPICS.dlq], from: 'earliest', handler: async (r) => void dlq.push(...r) });
    cleanups.push(() => tail.stop());
    const bad = { ...sample('p2', T0 + 2000, 1), metrics: { bogus: 1 } };
    await pub(bus, TOPICS.samples, [sample('p2', T0, 60), bad, '{not json', sample('p2', T0 + 3000, 62)]);
    await until('dlq', async () => dlq.length === 2 || false);
    const reasons = dlq.map((r) => JSON.parse(r.value as string) as { reason: string; topic: string; payload: string });
    expect(reasons.map((r) => r.reason).sort()).toEqual(['Bad request: samples[0].metrics: unknown metric name', 'unparsable JSON']);
    expect(reasons.every((r) => r.topic === TOPICS.samples)).toBe(true);
    await until('good rows', async () => (await rawHr(store, 'p2')).length === 2 || false);
  });

  it('reports not ready while the store fails, then catches up with nothing lost', async () => {
    let failing = true;
    const flaky = (s: Store): Store => ({
      ...s,
      kind: s.kind,
      insertSamples: async (x) => {
        if (failing) throw new VitalsError('VTL_ERR_STORE_UNAVAILABLE', 'clickhouse insertSamples failed (ECONNREFUSED)');
        return s.insertSamples(x);
      },
      healthy: async () => !failing,
    });
    const { bus, store, sink } = await setup({ inlineRetries: 1 }, flaky);
    await pub(bus, TOPICS.samples, [sample('p3', T0, 80)]);
    await until('not ready', async () => (await sink.ready?.())?.ok === false || false);
    expect((await sink.ready?.())?.detail).toMatch(/store/);
    await pub(bus, TOPICS.samples, [sample('p3', T0 + 1000, 81)]);
    failing = false;
    await until('caught up', async () => (await rawHr(store, 'p3')).length === 2 || false);
    expect((await sink.ready?.())?.ok).toBe(true);
  });

  it('without prefetch: joins batches the bus delivers concurrently into one insert, split at batchRows', async () => {
    const { bus: fakeBus, consumed } = handOverBus();
    const inserts: number[] = [];
    const store = await createDuckDbStore({ path: ':memory:' });
    await store.migrate();
    const counting: Store = { ...store, kind: 'duckdb', insertSamples: async (x) => void inserts.push(x.length) };
    const sink = await startSink(ctxOf(fakeBus, counting), { retention: false, batchRows: 5, batchWaitMs: 1000, concurrency: 8, prefetch: 0 });
    cleanups.push(async () => {
      await sink.stop();
      await store.close();
    });
    expect(consumed()?.batching).toMatchObject({ maxWaitMs: 1000, concurrency: 8 });
    const rec = (i: number): BusRecord => ({ topic: TOPICS.samples, partition: i % 3, offset: String(i), key: 'k', value: JSON.stringify(sample('p', T0 + i, 60)), timestamp: T0 });
    const h = (consumed() as ConsumeOptions).handler;
    // Three partitions' batches at once: 2 + 2 + 1 records -> one insert of 5.
    await Promise.all([h([rec(0), rec(1)]), h([rec(2), rec(3)]), h([rec(4)])]);
    expect(inserts).toEqual([5]);
    // 4 + 4 records: the first insert closes at 8 >= 5 (a batch is never split), then one sequential call alone.
    await Promise.all([h([rec(5), rec(6), rec(7), rec(8)]), h([rec(9), rec(10), rec(11), rec(12)])]);
    await h([rec(13)]);
    expect(inserts).toEqual([5, 8, 1]);
  });

  it('without prefetch: writes at most maxInserts batches at once; a waiting batch takes no later calls; each call acked after its own insert', async () => {
    const { bus: fakeBus, consumed } = handOverBus();
    const inserts: Array<{ rows: number; release: () => void }> = [];
    let running = 0;
    let most = 0;
    const store = await createDuckDbStore({ path: ':memory:' });
    await store.migrate();
    const gated: Store = {
      ...store,
      kind: 'duckdb',
      insertSamples: (x) =>
        new Promise<void>((res) => {
          most = Math.max(most, ++running);
          let done = false;
          inserts.push({ rows: x.length, release: () => void (done || ((done = true), running--, res())) });
        }),
    };
    const sink = await startSink(ctxOf(fakeBus, gated), { retention: false, batchRows: 100, prefetch: 0 });
    cleanups.push(async () => {
      await sink.stop();
      await store.close();
    });
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    const rec = (i: number): BusRecord => ({ topic: TOPICS.samples, partition: 0, offset: String(i), key: 'k', value: JSON.stringify(sample('p', T0 + i, 60)), timestamp: T0 });
    const h = (consumed() as ConsumeOptions).handler;
    const acked: number[] = [];
    const calls: Array<Promise<void>> = [];
    for (let i = 0; i < 5; i++) {
      calls.push(h([rec(i), rec(i + 10)]).then(() => void acked.push(i))); // one call per turn
      await tick();
    }
    expect(inserts.map((x) => x.rows)).toEqual([2, 2]); // two in flight (the default), the rest wait
    expect(acked).toEqual([]);
    inserts[1]?.release();
    await tick();
    expect(acked).toEqual([1]);
    expect(inserts.map((x) => x.rows)).toEqual([2, 2, 2]); // call 2 alone: calls 3 and 4 did not join it
    for (let i = 0; i < 5; i++) {
      for (const x of inserts) x.release();
      await tick();
    }
    await Promise.all(calls);
    expect([...acked].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(inserts.map((x) => x.rows)).toEqual([2, 2, 2, 2, 2]);
    expect(most).toBe(2);
  });

  it('with prefetch (Kafka): a batch lingers up to batchWaitMs to fill, except a backlog\'s tail right after a full batch', async () => {
    const { bus: fakeBus, consumed } = handOverBus();
    const inserts: number[] = [];
    const store = await createDuckDbStore({ path: ':memory:' });
    await store.migrate();
    const counting: Store = { ...store, kind: 'duckdb', insertSamples: async (x) => void inserts.push(x.length) };
    const sink = await startSink(ctxOf(fakeBus, counting), { retention: false, batchRows: 10, batchWaitMs: 300, maxInserts: 1 });
    cleanups.push(async () => {
      await sink.stop();
      await store.close();
    });
    // The fetch does not wait to fill; the bus may run ahead of the inserts by batchRows x (maxInserts + 2) records.
    expect(consumed()?.batching).toMatchObject({ minBytes: 64 << 10, maxWaitMs: 200, prefetch: 30 });
    const rec = (i: number): BusRecord => ({ topic: TOPICS.samples, partition: i % 3, offset: String(i), key: 'k', value: JSON.stringify(sample('p', T0 + i, 60)), timestamp: T0 });
    const recs = (from: number, n: number): BusRecord[] => Array.from({ length: n }, (_, k) => rec(from + k));
    const h = (consumed() as ConsumeOptions).handler;
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    // A trickle: calls in later turns join one batch, written after batchWaitMs.
    const trickle = [h(recs(0, 2))];
    await tick();
    trickle.push(h(recs(2, 3)));
    await tick();
    expect(inserts).toEqual([]);
    await Promise.all(trickle);
    expect(inserts).toEqual([5]);
    // A backlog: a full batch goes at once, and the small remainder after it at the end of its turn.
    await h(recs(10, 12));
    const tail = h(recs(30, 3));
    await tick();
    await tick();
    expect(inserts).toEqual([5, 12, 3]);
    await tail;
    // Once batchWaitMs has passed without a full batch, a batch lingers again.
    await new Promise((r) => setTimeout(r, 350));
    const late = h(recs(40, 1));
    await tick();
    await tick();
    expect(inserts).toEqual([5, 12, 3]);
    await late;
    expect(inserts).toEqual([5, 12, 3, 1]);
  });

  it('with prefetch (Kafka): a batch waiting for a free insert keeps taking calls (the bus does not wait for them)', async () => {
    const { bus: fakeBus, consumed } = handOverBus();
    const inserts: Array<{ rows: number; release: () => void }> = [];
    const store = await createDuckDbStore({ path: ':memory:' });
    await store.migrate();
    const gated: Store = { ...store, kind: 'duckdb', insertSamples: (x) => new Promise<void>((res) => void inserts.push({ rows: x.length, release: res })) };
    const sink = await startSink(ctxOf(fakeBus, gated), { retention: false, batchRows: 100, batchWaitMs: 0, maxInserts: 1 });
    cleanups.push(async () => {
      await sink.stop();
      await store.close();
    });
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    const rec = (i: number): BusRecord => ({ topic: TOPICS.samples, partition: 0, offset: String(i), key: 'k', value: JSON.stringify(sample('p', T0 + i, 60)), timestamp: T0 });
    const h = (consumed() as ConsumeOptions).handler;
    const calls: Array<Promise<void>> = [];
    for (let i = 0; i < 4; i++) {
      calls.push(h([rec(i), rec(i + 10)])); // one call per turn
      await tick();
    }
    expect(inserts.map((x) => x.rows)).toEqual([2]);
    inserts[0]?.release();
    await tick();
    expect(inserts.map((x) => x.rows)).toEqual([2, 6]); // calls 1-3 joined the waiting batch
    inserts[1]?.release();
    await Promise.all(calls);
  });

  it('retention drops rows past the policy at start and again each interval, and keeps the rest', async () => {
    const bus = await createMemoryBus();
    await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
    const store = await createDuckDbStore({ path: ':memory:' });
    await store.migrate();
    const day = 86_400_000;
    const now = Date.now();
    const [expired, fresh, later] = [now - 31 * day, now - 3600_000, now - 40 * day];
    await store.insertSamples([sample('P-expired', expired, 50), sample('P-fresh', fresh, 60)]);
    const base = ctxOf(bus, store);
    const sink = await startSink({ ...base, config: { ...base.config, retentionRawDays: 30, retentionIntervalMs: 200 } }, { retention: true });
    cleanups.push(async () => {
      await sink.stop();
      await bus.close();
      await store.close();
    });
    const rows = (p: string, ts: number): Promise<unknown[]> => store.history({ patientKey: p, metric: 'hr', from: ts - 1000, to: ts + 1000, step: 'raw', limit: 10 });
    await until('expired row dropped at start', async () => (await rows('P-expired', expired)).length === 0 || false);
    expect(await rows('P-fresh', fresh)).toHaveLength(1);
    // A row past the policy that arrives while the sink runs goes at the next interval.
    await store.insertSamples([sample('P-later', later, 70)]);
    await until('later row dropped by the interval run', async () => (await rows('P-later', later)).length === 0 || false);
    expect(await rows('P-fresh', fresh)).toHaveLength(1);
    expect((await sink.ready?.())?.ok).toBe(true);
  });
});
