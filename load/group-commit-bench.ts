/**
 * CPU per item of the four group-commit callers (ingest's publish batcher, the Kafka producer
 * lanes, the embedded bus's durable publishes, the sink's handler), this build against another
 * build of the same files (`--baseline-dist`, e.g. a copy of dist/ made before a change), in one
 * process, alternating which runs first. No broker or database: the Kafka producer and the store
 * are stand-ins that resolve at once, so what is measured is the batching around them (the
 * embedded bus writes real segment files in a temp dir). Figures are printed, never asserted.
 *
 *   npm run build && node --expose-gc dist/load/group-commit-bench.js --baseline-dist .cache/base-dist [--reps 7] [--cases publishBatcher,sink]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { createMemoryBus } from '../adapters/bus/memory.js';
import type { ProducerHost, ProducerLanes } from '../adapters/bus/kafka/producer.js';
import type { BatchHandler, Bus, BusRecord, OutgoingRecord, Store } from '../core/ports.js';
import type { PublishBatcher } from '../ingest/publish-batcher.js';
import type { loadConfig } from '../platform/config.js';
import type { Context } from '../platform/context.js';
import type { createLogger } from '../platform/log.js';
import type { createMetricsRegistry } from '../platform/metrics.js';
import type { startSink } from '../sink/sink.js';

interface Build {
  PublishBatcher: new (bus: Bus) => PublishBatcher;
  ProducerLanes: new (host: ProducerHost, producers: unknown[], make: () => unknown) => ProducerLanes;
  createMemoryBus: typeof createMemoryBus;
  startSink: typeof startSink;
  loadConfig: typeof loadConfig;
  createLogger: typeof createLogger;
  createMetricsRegistry: typeof createMetricsRegistry;
}

async function load(dist: string): Promise<Build> {
  const m = async (p: string): Promise<Record<string, unknown>> => (await import(pathToFileURL(path.join(dist, p)).href)) as Record<string, unknown>;
  const [pb, lanes, mem, sink, cfg, log, metrics] = await Promise.all(
    ['ingest/publish-batcher.js', 'adapters/bus/kafka/producer.js', 'adapters/bus/memory.js', 'sink/sink.js', 'platform/config.js', 'platform/log.js', 'platform/metrics.js'].map(m),
  );
  return {
    PublishBatcher: pb?.PublishBatcher,
    ProducerLanes: lanes?.ProducerLanes,
    createMemoryBus: mem?.createMemoryBus,
    startSink: sink?.startSink,
    loadConfig: cfg?.loadConfig,
    createLogger: log?.createLogger,
    createMetricsRegistry: metrics?.createMetricsRegistry,
  } as Build;
}

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** `perTurn` concurrent calls, awaited, `rounds` times; returns the items handled. */
async function rounds(n: number, perTurn: number, call: () => Promise<void>): Promise<void> {
  for (let r = 0; r < n; r++) {
    const ps = new Array<Promise<void>>(perTurn);
    for (let i = 0; i < perTurn; i++) ps[i] = call();
    await Promise.all(ps);
  }
}

const value = 'x'.repeat(97);

const CASES: Record<string, (b: Build) => Promise<number>> = {
  async publishBatcher(b) {
    const batcher = new b.PublishBatcher({ kind: 'kafka', publish: () => Promise.resolve() } as unknown as Bus);
    const recs: OutgoingRecord[] = [{ key: 'p1', value }];
    await rounds(300, 1000, () => batcher.publish('t', recs));
    return 300 * 1000;
  },
  async kafkaLanes(b) {
    const producer = { sendBatch: () => Promise.resolve([]) };
    const host = { admin: { listTopics: async () => ['t'] }, log: undefined, opts: { connectTimeoutMs: 1000 }, knownTopics: new Set(['t']) } as unknown as ProducerHost;
    const lanes = new b.ProducerLanes(host, [producer, producer], () => producer);
    const recs: OutgoingRecord[] = [{ key: 'p1', value }, { key: 'p2', value }];
    await rounds(300, 1000, () => lanes.publish('t', recs));
    return 300 * 1000;
  },
  async memoryBus(b) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vitals-gc-bench-'));
    const bus = await b.createMemoryBus({ dataDir: dir });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    const recs: OutgoingRecord[] = [{ key: 'p1', value }];
    await rounds(100, 1000, () => bus.publish('t', recs));
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
    return 100 * 1000;
  },
  async sink(b) {
    let handler: BatchHandler | null = null;
    const none = { caughtUp: Promise.resolve(), stop: async () => undefined };
    const bus = {
      kind: 'kafka',
      ensureTopics: async () => undefined,
      publish: async () => undefined,
      consume: async (o: { handler: BatchHandler }) => ((handler = o.handler), none),
      tail: async () => none,
      lag: async () => [],
      healthy: async () => true,
      close: async () => undefined,
    } as unknown as Bus;
    const store = { kind: 'duckdb', insertSamples: () => Promise.resolve(), healthy: async () => true } as unknown as Store;
    const c = b.loadConfig({});
    if (!c.ok) throw new Error('config');
    const ctx: Context = { config: c.config, log: b.createLogger({ level: 'silent' }), clock: { now: () => Date.now() }, metrics: b.createMetricsRegistry(), bus, store };
    const s = await b.startSink(ctx, { retention: false });
    const sample = JSON.stringify({ v: 1, deviceId: 'd1', patientId: 'p', ward: 'w', ts: 1, recvTs: 1, source: 'device', metrics: { hr: 60 }, traceId: 't' });
    const batch: BusRecord[] = Array.from({ length: 20 }, (_, i) => ({ topic: 'vitals.samples', partition: 0, offset: String(i), key: 'k', value: sample, timestamp: 1 }));
    const h = handler as unknown as BatchHandler;
    await rounds(200, 32, () => h(batch));
    await s.stop();
    return 200 * 32 * 20;
  },
};

const { values: args } = parseArgs({ options: { 'baseline-dist': { type: 'string' }, reps: { type: 'string' }, cases: { type: 'string' } } });
if (!args['baseline-dist']) throw new Error('--baseline-dist DIR is required (a copy of dist/ built from the code to compare with)');
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const builds: Record<'base' | 'this', Build> = { base: await load(path.resolve(args['baseline-dist'])), this: await load(here) };
const reps = Number(args.reps ?? 7);
const names = args.cases ? args.cases.split(',') : Object.keys(CASES);
const gc = (globalThis as { gc?: () => void }).gc;
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1] as number;
console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, nproc: os.cpus().length, loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '), reps }));
for (const name of names) {
  const run = CASES[name];
  if (!run) throw new Error(`unknown case ${name}`);
  await run(builds.base);
  await run(builds.this); // warm-up
  const ns: Record<'base' | 'this', number[]> = { base: [], this: [] };
  for (let k = 0; k < reps; k++) {
    for (const v of k % 2 === 0 ? (['base', 'this'] as const) : (['this', 'base'] as const)) {
      gc?.(); // with --expose-gc: the other build's garbage is not collected on this one's time
      const c0 = cpuUs();
      const items = await run(builds[v]);
      ns[v].push(((cpuUs() - c0) * 1000) / items);
    }
  }
  const ratios = ns.base.map((b, i) => (ns.this[i] as number) / b);
  console.log(`${name.padEnd(15)} baseline ${median(ns.base).toFixed(0)} ns/item, this ${median(ns.this).toFixed(0)} ns/item, this/baseline per pair ${ratios.map((r) => r.toFixed(2)).join(' ')}, median ${median(ratios).toFixed(2)}`);
}
