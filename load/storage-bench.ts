/**
 * Storage benchmark: sustained rows/s into ClickHouse through the sink from Kafka, beside
 * ClickHouse's own insert rate for the same rows (clickhouse-client, native protocol, reading them
 * as TabSeparated text, the adapter's body before it posted Native blocks) in the same run; and history query latency for 24 h of 1 Hz data of one patient (raw vs rollup).
 *
 * Sink runs drain a pre-filled topic (12 partitions, like vitals.samples) in two modes:
 * `batched` (the shipped defaults: batches joined across partitions, the bus prefetching while
 * inserts run, 20 000 records) and `per-delivery` (the sink before batching: one insert per
 * delivered partition batch); more modes for comparisons in MODES. Each mode gets its own
 * consumer group and throwaway database; rows/s is timed from the first record the bus hands the
 * sink to the last row acknowledged (the group join is left out; before 2026-12-07 the clock
 * started at the first insert, which also left out gathering the first batch: still reported as
 * rowsPerSecFromFirstInsert). clickhouse-client is timed from spawn to exit. Figures are printed,
 * never asserted.
 *
 * Run from the repo root against `vitals services up` (shared Kafka 29092, ClickHouse 28123/29000):
 *   npx tsc --outDir dist --rootDir . --module nodenext --moduleResolution nodenext --target es2022 \
 *     --skipLibCheck --strict --esModuleInterop load/storage-bench.ts && node dist/load/storage-bench.js [--runs 3] [--samples 100000] [--quick]
 *   (--modes batched --no-history --steady-seconds 0: only the drain against clickhouse-client)
 */
import { spawn } from 'node:child_process';
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { createKafkaBus } from '../adapters/bus/kafka.js';
import { createClickHouseStore } from '../adapters/store/clickhouse.js';
import { SAMPLE_COLUMNS, bodyChunks, sampleTsv } from '../adapters/store/clickhouse-body.js';
import { postInsert } from '../adapters/store/clickhouse-insert.js';
import { sampleRows } from '../adapters/store/rows.js';
import { TOPICS, type Bus, type Store } from '../core/ports.js';
import type { CanonicalSample } from '../core/vitals.js';
import { chooseStep } from '../dashboard-gateway/history-step.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { startSink, type SinkOptions } from '../sink/sink.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    samples: { type: 'string', default: '100000' },
    patients: { type: 'string', default: '500' },
    queries: { type: 'string', default: '100' },
    'ch-port': { type: 'string', default: '29000' },
    modes: { type: 'string', default: 'batched,per-delivery' },
    'no-history': { type: 'boolean', default: false },
    'steady-rate': { type: 'string', default: '2000' },
    'steady-seconds': { type: 'string', default: '15' },
    quick: { type: 'boolean', default: false },
  },
});
const RUNS = args.quick ? 1 : Number(args.runs);
const SAMPLES = args.quick ? 20_000 : Number(args.samples);
const PATIENTS = Number(args.patients);
const QUERIES = args.quick ? 20 : Number(args.queries);
const METRICS_PER_SAMPLE = 5;
const URL_ = process.env['CLICKHOUSE_URL'] ?? 'http://127.0.0.1:28123';
const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:29092').split(',');
const RUN_ID = `${Date.now().toString(36)}${process.pid}`;
const T0 = Date.UTC(2025, 0, 6, 0, 0, 0);
const DAY = 86_400_000;
const log = createLogger({ level: 'silent' });

const MODES: Record<string, SinkOptions> = {
  batched: {},
  'per-delivery': { batchWaitMs: 0, concurrency: 1 },
  // Variants for tuning (not in the default set): smaller inserts, one insert in flight.
  'batched-4k': { batchRows: 4000 },
  'batched-serial': { maxInserts: 1 },
  'batched-20k': { batchRows: 20_000 },
  'batched-50k': { batchRows: 50_000 },
  // The shipped sink posting the previous sample body (TabSeparated, ADR 0020) instead of Native.
  'batched-tsv': {},
  // The sink as shipped before docs/decisions/0020's second 2026-12-07 amendment: no prefetch (fetch,
  // insert, commit, fetch; the fetch waits up to 1 s for ~batchRows records' bytes), 10 000-record batches.
  'batched-serial-fetch': { prefetch: 0, batchRows: 10_000 },
  'batched-10k': { batchRows: 10_000 },
  // Tuning probes: no fetch wait at all (minBytes 1), and larger inserts with prefetch.
  'batched-nowait': { batchWaitMs: 0 },
};
const MODE_LIST = (args.modes as string).split(',').filter((m) => m in MODES);

function sampleAt(i: number): CanonicalSample {
  const p = i % PATIENTS;
  const ts = T0 + Math.floor(i / PATIENTS) * 1000 + p;
  return {
    v: 1, deviceId: `dev-${p}`, patientId: `pat-${p}`, ward: `ward-${p % 20}`, ts, recvTs: ts + 120, source: 'device', traceId: `tr-${i}`,
    metrics: { hr: 60 + (i % 50), spo2: 90 + (i % 10), rr: 12 + (i % 12), temp: 36 + (i % 20) / 10, sbp: 100 + (i % 40) },
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

const STEADY_RATE = Number(args['steady-rate']);
const STEADY_SECONDS = args.quick ? 5 : Number(args['steady-seconds']);
const progress = (line: string): void => void process.stderr.write(`[storage-bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface SteadyResult {
  mode: string;
  samplesPerSec: number;
  seconds: number;
  inserts: number;
  insertsPerSec: number;
  meanRecordsPerInsert: number;
  /** Publish -> store acknowledged, per record (ms). */
  latencyP50: number;
  latencyP99: number;
  /** Published records not stored (must be 0). */
  missing: number;
}

/**
 * A steady load instead of a backlog: what batching is for. Samples are published at a fixed rate
 * while the sink runs; counts inserts (each one is a new part to merge) and publish-to-stored latency.
 */
async function steadyRun(bus: Bus, mode: string, i: number): Promise<SteadyResult> {
  const database = `vitals_bench_${RUN_ID}_${i}_steady_${mode.replaceAll('-', '_')}`;
  const topic = `bench.storage.steady.${RUN_ID}.${i}.${mode}`;
  await bus.ensureTopics([{ name: topic, partitions: 12, retentionMs: 3600_000 }]);
  const r = loadConfig({ CLICKHOUSE_URL: URL_, VITALS_CLICKHOUSE_DATABASE: database });
  if (!r.ok) throw new Error(r.errors.join('; '));
  const inner = await createClickHouseStore({ url: URL_, database });
  await inner.migrate();
  let measuring = false;
  let inserts = 0;
  let records = 0;
  const latencies: number[] = [];
  const store: Store = {
    ...inner,
    kind: inner.kind,
    insertSamples: async (xs) => {
      await inner.insertSamples(xs);
      const now = Date.now();
      if (!measuring) return;
      inserts++;
      records += xs.length;
      for (const x of xs) latencies.push(now - x.recvTs);
    },
  };
  let warm = false;
  const sink = await startSink(
    { config: r.config, log, clock: { now: () => Date.now() }, metrics: createMetricsRegistry(), bus, store: { ...store, insertSamples: async (xs) => ((warm = true), store.insertSamples(xs)) } },
    { retention: false, topics: { [TOPICS.samples]: topic }, groupId: `vitals-sink.${database}`, ...MODES[mode] },
  );
  // Wait for the group to join: one record through end to end.
  await bus.publish(topic, [{ key: 'warm', value: JSON.stringify({ ...sampleAt(0), patientId: 'warm', recvTs: Date.now() }) }]);
  while (!warm) await new Promise((res) => setTimeout(res, 20));
  measuring = true;
  const total = STEADY_RATE * STEADY_SECONDS;
  const perTick = STEADY_RATE / 10;
  const start = Date.now();
  for (let k = 0; k < total; k += perTick) {
    const now = Date.now();
    const recs = [];
    for (let j = k; j < Math.min(total, k + perTick); j++) {
      const s = { ...sampleAt(j), recvTs: now };
      // No event-time timestamp: Kafka retention counts from the record timestamp, and these event
      // times are far older than the topic retention (the broker would delete them before the sink reads them).
      recs.push({ key: s.patientId as string, value: JSON.stringify(s) });
    }
    await bus.publish(topic, recs);
    const next = start + ((k + perTick) / perTick) * 100;
    await new Promise((res) => setTimeout(res, Math.max(0, next - Date.now())));
  }
  const deadline = Date.now() + 120_000;
  while (records < total && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  const seconds = (Date.now() - start) / 1000;
  await sink.stop();
  // Never expected: every record published must be stored. Reported (and the database kept for
  // inspection) rather than thrown, so the rest of the run still measures.
  let missing = 0;
  if (records < total) {
    const c = createClient({ url: URL_ });
    const n = await (await c.query({ query: `SELECT toString(count()) AS n FROM ${database}.samples FINAL WHERE metric = 'hr' AND patient_id != 'warm'`, format: 'JSONEachRow' })).json<{ n: string }>();
    await c.close();
    missing = total - Number(n[0]?.n ?? 0);
    progress(`${mode} steady: ${missing} of ${total} published records are not in ${database} after 120 s (database kept for inspection, topic ${topic})`);
  }
  await inner.close();
  if (missing === 0) await admin(`DROP DATABASE IF EXISTS ${database}`);
  return {
    mode,
    samplesPerSec: STEADY_RATE,
    seconds: round(seconds, 1),
    inserts,
    insertsPerSec: round(inserts / seconds, 1),
    meanRecordsPerInsert: Math.round(records / inserts),
    latencyP50: Math.round(pct(latencies, 50)),
    latencyP99: Math.round(pct(latencies, 99)),
    missing,
  };
}

/**
 * CPU time (ms) the local clickhouse-server process has used so far, or null when it is not a
 * process on this machine (a container elsewhere): read around a drain, it says how much of the
 * server a run used, which the load of a shared machine distorts less than wall time.
 */
const serverPid = ((): number | null => {
  if (!/^https?:\/\/(127\.|localhost)/.test(URL_)) return null;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').startsWith('clickhouse-serv')) return Number(d);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return null;
})();
/** Fields of /proc/<pid>/stat after the command name: utime is [11], stime [12], and the reaped children's cutime [13], cstime [14], in USER_HZ (100/s). */
const statFields = (pid: number | 'self'): string[] => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
function serverCpuMs(): number | null {
  if (serverPid === null) return null;
  const f = statFields(serverPid);
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
/** CPU (ms) of this process's reaped children: clickhouse-client, once it has exited. */
function childrenCpuMs(): number {
  const f = statFields('self');
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
}
const cpuPerRowUs = (ms0: number | null, rows: number): number | null => {
  const ms1 = serverCpuMs();
  return ms0 === null || ms1 === null ? null : round(((ms1 - ms0) * 1000) / rows, 2);
};

async function admin(sql: string): Promise<void> {
  const c = createClient({ url: URL_ });
  try {
    await c.command({ query: sql });
  } finally {
    await c.close();
  }
}

async function fillTopic(bus: Bus, topic: string): Promise<void> {
  await bus.ensureTopics([{ name: topic, partitions: 12, retentionMs: 3600_000 }]);
  const CH = 5000;
  for (let i = 0; i < SAMPLES; i += CH) {
    const recs = [];
    for (let k = i; k < Math.min(SAMPLES, i + CH); k++) {
      const s = sampleAt(k);
      // No event-time timestamp: Kafka retention counts from the record timestamp, and these event
      // times are far older than the topic retention (the broker would delete them before the sink reads them).
      recs.push({ key: s.patientId as string, value: JSON.stringify(s) });
    }
    await bus.publish(topic, recs);
  }
}

interface SinkResult {
  mode: string;
  rows: number;
  /** From the first record the bus handed the sink to the last row stored (what rowsPerSec divides by). */
  seconds: number;
  rowsPerSec: number;
  /**
   * Rate from the first insert's start instead (the figure before 2026-12-07 04:00): it leaves the
   * gathering of the first batch out, more of it the larger the batch, so it flatters large batches.
   */
  rowsPerSecFromFirstInsert: number;
  /** Sink started -> first record handed to it (ms): the group join and the first fetch, outside `seconds`. */
  joinMs: number;
  inserts: number;
  meanRecordsPerInsert: number;
  /**
   * Rate up to the insert that completed 90 % of the records: excludes the tail, where the last
   * partial batch waits out the fetch's maxWait (batched mode) because no more data is coming.
   */
  rowsPerSec90: number;
  /** Sum of insert durations over the wall time (above 1 when inserts overlap). */
  insertShare: number;
  /** Share of the wall time with no insert in flight: the sink fetching and parsing. */
  noInsertShare: number;
  /** clickhouse-server CPU per row over the drain (µs; null if the server is not local). */
  serverCpuUsPerRow: number | null;
  /** This process's CPU per row over the drain (µs): the sink and the Kafka consumer. */
  sinkCpuUsPerRow: number;
  /** Each insert: start and end (ms from the sink's start) and records; the drain's shape (where it waits). */
  timeline: Array<[number, number, number]>;
  /** Sink started -> first insert began (ms): the group join and the first fetch, outside `seconds`. */
  startMs: number;
}

async function sinkRun(bus: Bus, topic: string, mode: string, i: number): Promise<SinkResult> {
  const database = `vitals_bench_${RUN_ID}_${i}_${mode.replaceAll('-', '_')}`;
  const r = loadConfig({ CLICKHOUSE_URL: URL_, VITALS_CLICKHOUSE_DATABASE: database });
  if (!r.ok) throw new Error(r.errors.join('; '));
  const inner = await createClickHouseStore({ url: URL_, database });
  await inner.migrate();
  const insertSamples = mode.endsWith('-tsv') ? tsvInsert(database) : (xs: CanonicalSample[]) => inner.insertSamples(xs);
  let first = 0;
  let last = 0;
  let inserts = 0;
  let records = 0;
  let inInsert = 0;
  let active = 0;
  let noInsert = 0;
  let lastIdleStart = 0;
  let t90 = 0;
  let records90 = 0;
  const timeline: Array<[number, number, number]> = [];
  const t0 = performance.now();
  const store: Store = {
    ...inner,
    kind: inner.kind,
    insertSamples: async (xs) => {
      const t = performance.now();
      if (first === 0) first = t;
      else if (active === 0) noInsert += t - lastIdleStart;
      active++;
      await insertSamples(xs);
      if (--active === 0) lastIdleStart = performance.now();
      inInsert += performance.now() - t;
      timeline.push([Math.round(t - t0), Math.round(performance.now() - t0), xs.length]);
      inserts++;
      records += xs.length;
      last = performance.now();
      if (t90 === 0 && records >= SAMPLES * 0.9) {
        t90 = last;
        records90 = records;
      }
    },
  };
  // The drain is timed from the first record the bus hands over: the group join is a one-time cost
  // of a long-running consumer, but fetching and parsing the first batch are part of the drain.
  let firstDelivery = 0;
  const timedBus = new Proxy(bus, {
    get(target, key) {
      if (key === 'consume') {
        return (o: Parameters<Bus['consume']>[0]) =>
          target.consume({ ...o, handler: (rs) => ((firstDelivery ||= performance.now()), o.handler(rs)) });
      }
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const sink = await startSink(
    { config: r.config, log, clock: { now: () => Date.now() }, metrics: createMetricsRegistry(), bus: timedBus, store },
    { retention: false, topics: { [TOPICS.samples]: topic }, groupId: `vitals-sink.${database}`, ...MODES[mode] },
  );
  const cpu0 = process.cpuUsage();
  const server0 = serverCpuMs();
  const deadline = Date.now() + 600_000;
  while (records < SAMPLES) {
    if (Date.now() > deadline) throw new Error(`${mode}: only ${records} of ${SAMPLES} records after 10 min`);
    await new Promise((res) => setTimeout(res, 20));
  }
  const rows = records * METRICS_PER_SAMPLE;
  const serverCpuUsPerRow = cpuPerRowUs(server0, rows);
  const cpu = process.cpuUsage(cpu0);
  const sinkCpuUsPerRow = round((cpu.user + cpu.system) / rows, 2);
  await sink.stop();
  await inner.close();
  await admin(`DROP DATABASE IF EXISTS ${database}`);
  const seconds = (last - firstDelivery) / 1000;
  return { mode, rows, seconds: round(seconds, 2), rowsPerSec: Math.round(rows / seconds), rowsPerSecFromFirstInsert: Math.round(rows / ((last - first) / 1000)), joinMs: Math.round(firstDelivery - t0), rowsPerSec90: Math.round((records90 * METRICS_PER_SAMPLE) / ((t90 - firstDelivery) / 1000)), inserts, meanRecordsPerInsert: Math.round(records / inserts), insertShare: round(inInsert / (last - first), 2), noInsertShare: round(noInsert / (last - first), 2), serverCpuUsPerRow, sinkCpuUsPerRow, timeline, startMs: Math.round(first - t0) };
}

/** insertSamples with the previous body: the same rows as TabSeparated text, same chunks and POST. */
function tsvInsert(database: string): (xs: CanonicalSample[]) => Promise<void> {
  return async (xs) => {
    const rows = sampleRows(xs);
    await postInsert({ url: URL_, database }, `INSERT INTO samples (${SAMPLE_COLUMNS}) FORMAT TabSeparated`, bodyChunks(rows.length, (a, b) => sampleTsv(rows, a, b)));
  };
}

/**
 * The same rows as the sink writes, inserted by clickhouse-client over the native protocol: the
 * TabSeparated body the adapter posts (the baseline every ratio is taken against), and the same
 * rows as JSONEachRow (the format the sink sent before ADR 0020; reported, not compared).
 */
async function directRun(i: number, file: string, format: 'TabSeparated' | 'JSONEachRow'): Promise<{ rows: number; seconds: number; rowsPerSec: number; serverCpuUsPerRow: number | null; clientCpuUsPerRow: number }> {
  const database = `vitals_bench_${RUN_ID}_${i}_direct_${format === 'TabSeparated' ? 'tsv' : 'json'}`;
  const store = await createClickHouseStore({ url: URL_, database });
  await store.migrate(); // same tables and materialized view as the sink's target
  await store.close();
  const server0 = serverCpuMs();
  const client0 = childrenCpuMs();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const c = spawn('clickhouse-client', ['--port', args['ch-port'] as string, '--database', database, '--query', `INSERT INTO samples (${SAMPLE_COLUMNS}) FORMAT ${format}`], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    createReadStream(file).pipe(c.stdin);
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`clickhouse-client exited ${code}: ${err.slice(0, 300)}`))));
  });
  const seconds = (performance.now() - t0) / 1000;
  const rows = SAMPLES * METRICS_PER_SAMPLE;
  const serverCpuUsPerRow = cpuPerRowUs(server0, rows);
  const clientCpuUsPerRow = round(((childrenCpuMs() - client0) * 1000) / rows, 2);
  const c = createClient({ url: URL_ });
  try {
    const n = await (await c.query({ query: `SELECT toString(count()) AS n FROM ${database}.samples`, format: 'JSONEachRow' })).json<{ n: string }>();
    if (Number(n[0]?.n) !== rows) throw new Error(`direct ${format}: ${n[0]?.n} rows stored, expected ${rows}`);
  } finally {
    await c.close();
  }
  await admin(`DROP DATABASE IF EXISTS ${database}`);
  return { rows, seconds: round(seconds, 2), rowsPerSec: Math.round(rows / seconds), serverCpuUsPerRow, clientCpuUsPerRow };
}

/** The rows the sink will write, as the adapter's TabSeparated body and as JSONEachRow lines. */
async function writeRowsFiles(tsvFile: string, jsonFile: string): Promise<void> {
  const tsv: string[] = [];
  const json: string[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const rows = sampleRows([sampleAt(i)]);
    tsv.push(sampleTsv(rows, 0, rows.length));
    for (const r of rows) json.push(`${JSON.stringify({ ...r, ts: Math.floor(r.ts_ms / 1000) })}\n`);
  }
  await writeFile(tsvFile, tsv.join(''));
  await writeFile(jsonFile, json.join(''));
}

interface QueryStats {
  query: string;
  points: number;
  p50: number;
  p99: number;
  mean: number;
}

async function historyRun(i: number): Promise<QueryStats[]> {
  const database = `vitals_bench_${RUN_ID}_${i}_history`;
  const store = await createClickHouseStore({ url: URL_, database });
  await store.migrate();
  const patient = 'pat-history';
  // 24 h at 1 Hz (hr, spo2, rr), inserted the way the sink would: 10 000-sample batches.
  for (let k = 0; k < 86_400; k += 10_000) {
    const batch: CanonicalSample[] = [];
    for (let s = k; s < Math.min(86_400, k + 10_000); s++) {
      batch.push({ v: 1, deviceId: 'dev-h', patientId: patient, ward: 'w', ts: T0 + s * 1000, recvTs: T0 + s * 1000, source: 'device', traceId: 't', metrics: { hr: 60 + (s % 30), spo2: 95 + (s % 5), rr: 14 + (s % 6) } });
    }
    await store.insertSamples(batch);
  }
  const from = T0;
  const to = T0 + DAY;
  const auto = chooseStep(from, to, 'auto');
  if ('error' in auto) throw new Error(auto.error);
  const cases: Array<[string, number | 'raw', number]> = [
    ['24 h raw (86 400 points)', 'raw', 100_000],
    [`24 h trend, auto step (${(auto.step as number) / 60_000} min, rollup)`, auto.step, auto.limit],
    ['24 h trend, 1 min buckets (rollup)', 60_000, 10_000],
    ['24 h, 30 s buckets (raw grouped)', 30_000, 10_000],
    ['2 h raw (auto step)', 'raw', 10_000],
  ];
  const out: QueryStats[] = [];
  for (const [name, step, limit] of cases) {
    const range = name.startsWith('2 h') ? { from: to - 2 * 3600_000, to } : { from, to };
    const iterations = step === 'raw' && !name.startsWith('2 h') ? Math.max(10, Math.floor(QUERIES / 5)) : QUERIES;
    const times: number[] = [];
    let points = 0;
    for (let q = 0; q < iterations + 3; q++) {
      const t = performance.now();
      const res = await store.history({ patientKey: patient, metric: 'hr', ...range, step, limit });
      const ms = performance.now() - t;
      if (q >= 3) times.push(ms); // 3 warm-up queries
      points = res.length;
    }
    out.push({ query: name, points, p50: round(pct(times, 50)), p99: round(pct(times, 99)), mean: round(times.reduce((a, b) => a + b, 0) / times.length) });
  }
  await store.close();
  await admin(`DROP DATABASE IF EXISTS ${database}`);
  return out;
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = os.loadavg();
  const versionClient = createClient({ url: URL_ });
  const version = ((await (await versionClient.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json<{ v: string }>())[0] as { v: string }).v;
  await versionClient.close();
  const bus = await createKafkaBus({ brokers: BROKERS, clientId: `storage-bench-${RUN_ID}`, log });
  const tmp = path.join(os.tmpdir(), `storage-bench-${RUN_ID}.tsv`);
  const tmpJson = path.join(os.tmpdir(), `storage-bench-${RUN_ID}.jsonl`);
  await writeRowsFiles(tmp, tmpJson);
  type Direct = { rows: number; seconds: number; rowsPerSec: number; serverCpuUsPerRow: number | null; clientCpuUsPerRow: number };
  const runs: Array<{ sink: SinkResult[]; steady: SteadyResult[]; direct: Direct; directJson: Direct; history: QueryStats[] }> = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const topic = `bench.storage.${RUN_ID}.${i}`;
      progress(`run ${i + 1}: filling ${topic} with ${SAMPLES} samples`);
      await fillTopic(bus, topic);
      progress(`run ${i + 1}: clickhouse-client direct insert (TabSeparated, then JSONEachRow)`);
      const direct = await directRun(i, tmp, 'TabSeparated');
      const directJson = await directRun(i, tmpJson, 'JSONEachRow');
      const sink: SinkResult[] = [];
      // Modes in an order rotated each run, so none always drains first.
      for (const mode of MODE_LIST.map((_, k) => MODE_LIST[(k + i) % MODE_LIST.length] as string)) {
        // Process times (performance.now) bracket the drain, to cut it out of a --cpu-prof profile.
        progress(`run ${i + 1}: sink drain, ${mode} (process time ${Math.round(performance.now())} ms)`);
        sink.push(await sinkRun(bus, topic, mode, i));
        progress(`run ${i + 1}: sink drain, ${mode} done (process time ${Math.round(performance.now())} ms)`);
      }
      const steady: SteadyResult[] = [];
      for (const mode of STEADY_SECONDS > 0 ? MODE_LIST : []) {
        progress(`run ${i + 1}: sink steady ${STEADY_RATE}/s, ${mode}`);
        steady.push(await steadyRun(bus, mode, i));
      }
      progress(`run ${i + 1}: history queries`);
      const history = args['no-history'] ? [] : await historyRun(i);
      runs.push({ sink, steady, direct, directJson, history });
      progress(`run ${i + 1}/${RUNS}: direct ${direct.rowsPerSec} rows/s (JSON ${directJson.rowsPerSec}); server ${direct.serverCpuUsPerRow} + client ${direct.clientCpuUsPerRow} µs/row; ${sink.map((s) => `${s.mode} ${s.rowsPerSec} rows/s (${s.inserts} inserts, server ${s.serverCpuUsPerRow} µs/row, sink ${s.sinkCpuUsPerRow} µs/row)`).join('; ')}; steady ${steady.map((s) => `${s.mode} ${s.insertsPerSec} inserts/s p99 ${s.latencyP99} ms`).join('; ')}`);
    }
  } finally {
    await bus.close();
    await rm(tmp, { force: true });
    await rm(tmpJson, { force: true });
  }
  const summary = {
    direct: median(runs.map((r) => r.direct.rowsPerSec)),
    directServerCpuUsPerRow: serverPid === null ? null : median(runs.map((r) => r.direct.serverCpuUsPerRow ?? 0)),
    directClientCpuUsPerRow: median(runs.map((r) => r.direct.clientCpuUsPerRow)),
    directJson: median(runs.map((r) => r.directJson.rowsPerSec)),
    sink: Object.fromEntries(
      MODE_LIST.map((m) => {
        const xs = runs.map((r) => r.sink.find((s) => s.mode === m) as SinkResult);
        return [m, { rowsPerSec: median(xs.map((x) => x.rowsPerSec)), ratioToDirect: round(median(runs.map((r, k) => (xs[k] as SinkResult).rowsPerSec / r.direct.rowsPerSec)), 2), rowsPerSec90: median(xs.map((x) => x.rowsPerSec90)), ratio90ToDirect: round(median(runs.map((r, k) => (xs[k] as SinkResult).rowsPerSec90 / r.direct.rowsPerSec)), 2), inserts: median(xs.map((x) => x.inserts)), meanRecordsPerInsert: median(xs.map((x) => x.meanRecordsPerInsert)), ratiosPerRun: runs.map((r, k) => round((xs[k] as SinkResult).rowsPerSec / r.direct.rowsPerSec, 2)), ratiosFromFirstInsertPerRun: runs.map((r, k) => round((xs[k] as SinkResult).rowsPerSecFromFirstInsert / r.direct.rowsPerSec, 2)), serverCpuUsPerRow: serverPid === null ? null : median(xs.map((x) => x.serverCpuUsPerRow ?? 0)), sinkCpuUsPerRow: median(xs.map((x) => x.sinkCpuUsPerRow)) }];
      }),
    ),
    steady: Object.fromEntries(
      MODE_LIST.map((m) => {
        const xs = runs.map((r) => r.steady.find((s) => s.mode === m)).filter((x): x is SteadyResult => x !== undefined);
        if (xs.length === 0) return [m, null];
        return [m, { samplesPerSec: STEADY_RATE, insertsPerSec: median(xs.map((x) => x.insertsPerSec)), meanRecordsPerInsert: median(xs.map((x) => x.meanRecordsPerInsert)), latencyP50: median(xs.map((x) => x.latencyP50)), latencyP99: median(xs.map((x) => x.latencyP99)), missingTotal: xs.reduce((a, x) => a + x.missing, 0) }];
      }),
    ),
    history: (runs[0]?.history ?? []).map((h, k) => ({
      query: h.query,
      points: h.points,
      p50: median(runs.map((r) => (r.history[k] as QueryStats).p50)),
      p99: median(runs.map((r) => (r.history[k] as QueryStats).p99)),
    })),
  };
  const result = {
    bench: 'storage',
    date: started.toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGB: round(os.totalmem() / 2 ** 30), node: process.version, loadavgStart: load0.map((x) => round(x, 2)), loadavgEnd: os.loadavg().map((x) => round(x, 2)) },
    clickhouse: version,
    samples: SAMPLES,
    rowsPerRun: SAMPLES * METRICS_PER_SAMPLE,
    runs,
    summary,
  };
  const dir = path.join(process.cwd(), 'load', 'results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `storage-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(result, null, 2));
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\nraw: ${file}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
