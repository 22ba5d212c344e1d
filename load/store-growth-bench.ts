/**
 * Embedded store growth benchmark (issue 11, ADR 0011). Two measurements, each child process
 * on its own fresh DuckDB file so RSS is the store's alone:
 *
 * - growth: P patients each backfilling S one-second samples (4 metrics each) through
 *   `insertSamples`, B samples per call, interleaved in event time as a sink draining many
 *   devices sees them; every 25th batch is delivered twice (at-least-once). Store rate (new values
 *   per second of insert time) over the first and last fifth of the values, peak RSS (VmHWM),
 *   and a count of what the file holds afterwards: every value once. Variants: `append` (shipped)
 *   and, at a smaller size, the alternatives in load/lib/store-variants.ts.
 * - trend: p50/p99 of the dashboard's 24-hour trend query (step `auto`, i.e. 2-minute buckets,
 *   one patient and metric) on an empty store, one holding only the queried patient's day, and
 *   one holding a day of a ward (W patients), read from the sealed runs' and the tail's 1-minute rollups
 *   (sealed rows cached per series in memory); as same-run baselines, the ward's file copied and
 *   opened with that cache off, queried through the sealed rollup and through raw rows (the
 *   pre-rollup path), and an empty store with the cache off. Queries vary the patient (i mod W)
 *   so a cache must hold every series; each series' first query is also reported apart. Rounds
 *   alternate between the stores.
 * - writer (`--writer`, after the trend rounds): trend queries run back to back (a turn of the event
 *   loop between them) while a writer backfills a day of W other patients into the same store in
 *   sink-sized batches (`--writer-batch` samples per insertSamples); answered count and p50/p99
 *   for the reopened ward of this build and, with --base-dist, of the code before. Both stores then
 *   answer every ward patient and a backfilled one: the answers must match.
 *
 * Figures are printed (and with --write put into BENCHMARKS.md), never asserted. Run after `npm run build`:
 *   node dist/load/store-growth-bench.js [--runs 3] [--patients 200] [--seconds 12000] [--alt-seconds 1500] [--ward 40] [--unsorted] [--writer] [--write]
 *   node dist/load/store-growth-bench.js --quick     # a smoke run, well under a minute
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createDuckDbStore, DUCKDB_DEFAULT_MEMORY_MB, DUCKDB_DEFAULT_THREADS } from '../adapters/store/duckdb.js';
import type { CanonicalSample } from '../core/vitals.js';
import { chooseStep } from '../dashboard-gateway/history-step.js';
import { replaceSection } from './lib/report.js';
import { countStored, openVariant, VARIANTS, type VariantName } from './lib/store-variants.js';

const { values: args } = parseArgs({
  options: {
    child: { type: 'string' },
    runs: { type: 'string', default: '3' },
    patients: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '12000' },
    'alt-seconds': { type: 'string', default: '1500' },
    'alt-runs': { type: 'string', default: '1' },
    variants: { type: 'string', default: VARIANTS.join(',') },
    batch: { type: 'string', default: '1000' },
    ward: { type: 'string', default: '40' },
    queries: { type: 'string', default: '1000' },
    'no-trend': { type: 'boolean', default: false },
    'no-growth': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    // The trend alternative without sorted runs (a day of a ward in one unsorted tail): slow to load and query.
    unsorted: { type: 'boolean', default: false },
    'seal-rows': { type: 'string' },
    // Another build's dist/ (the code before a change): its store is queried beside this one's.
    'base-dist': { type: 'string' },
    rounds: { type: 'string', default: '3' },
    'patient-apart': { type: 'boolean', default: false },
    writer: { type: 'boolean', default: false },
    // Seconds of the day backfilled for each of the W other patients, and samples per insert (the sink's batch).
    'writer-seconds': { type: 'string', default: '3600' },
    'writer-batch': { type: 'string', default: '10000' },
  },
});
const UNSORTED = args.unsorted;
const PATIENT_APART = args['patient-apart'];
const WRITER = args.writer;
const WRITER_SECONDS = Number(args['writer-seconds']);
const WRITER_BATCH = Number(args['writer-batch']);
// Trend stores only: seal threshold other than the shipped default (how the tail's size weighs on the query).
const SEAL_ROWS = args['seal-rows'] === undefined ? undefined : Number(args['seal-rows']);
const QUICK = args.quick;
const T0 = Date.UTC(2025, 0, 6, 0, 0, 0);
const DAY = 86_400_000;
const REDELIVER_EVERY = 25;
const METRICS = 4;

function sampleAt(patient: number, second: number): CanonicalSample {
  const ts = T0 + second * 1000 + (patient % 1000);
  return {
    v: 1, deviceId: `dev-${patient}`, patientId: `pat-${patient}`, ward: `ward-${patient % 10}`, ts, recvTs: ts + 120, source: 'device', traceId: `tr-${patient}-${second}`,
    metrics: { hr: 60 + (second % 50), spo2: 90 + (second % 10), rr: 12 + (second % 12), temp: 36 + (second % 20) / 10 },
  };
}

/** Batches of `batch` samples, event time ascending, all patients interleaved. */
function* batches(patients: number, seconds: number, batch: number, firstPatient = 0): Generator<CanonicalSample[]> {
  let out: CanonicalSample[] = [];
  for (let s = 0; s < seconds; s++) {
    for (let p = firstPatient; p < firstPatient + patients; p++) {
      out.push(sampleAt(p, s));
      if (out.length === batch) {
        yield out;
        out = [];
      }
    }
  }
  if (out.length) yield out;
}

const peakRssMB = (): number => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 1e6;
};

async function growthChild(variant: VariantName, patients: number, seconds: number, batch: number): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-growth-'));
  const file = path.join(dir, 'store.duckdb');
  try {
    const w = await openVariant(variant, file, DUCKDB_DEFAULT_MEMORY_MB, DUCKDB_DEFAULT_THREADS);
    const total = patients * seconds * METRICS;
    const fifth = total / 5;
    const fifths = Array.from({ length: 5 }, () => ({ values: 0, ms: 0, rssMB: 0 }));
    let stored = 0;
    let redelivered = 0;
    let pending: CanonicalSample[] | null = null;
    let i = 0;
    const started = performance.now();
    for (const b of batches(patients, seconds, batch)) {
      const t = performance.now();
      await w.insert(b);
      if (pending) {
        await w.insert(pending); // the batch before, delivered again
        redelivered += pending.length * METRICS;
        pending = null;
      }
      const f = fifths[Math.min(4, Math.floor(stored / fifth))]!;
      f.ms += performance.now() - t;
      f.values += b.length * METRICS;
      stored += b.length * METRICS;
      f.rssMB = process.memoryUsage().rss / 1e6;
      if (++i % REDELIVER_EVERY === 0) pending = b;
    }
    await w.close();
    const wallS = (performance.now() - started) / 1000;
    const peak = peakRssMB(); // before counting, which opens the file again
    const counted = await countStored(file, variant);
    const rates = fifths.map((f) => (f.values / f.ms) * 1000);
    return {
      variant, patients, seconds, values: total, redelivered, wallS, rates, rssByFifthMB: fifths.map((f) => f.rssMB),
      lastOverFirst: rates[4]! / rates[0]!, peakRssMB: peak, stored: counted, everyValueOnce: counted.unique === total,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Nearest-rank percentile (NaN when empty); sorts a typed copy, so 10^5 latencies are fine. */
function percentile(xs: ArrayLike<number>, p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

type TrendStore = Pick<Awaited<ReturnType<typeof createDuckDbStore>>, 'history' | 'close' | 'migrate' | 'insertSamples' | 'trendCacheStats'> & { trendCacheWarmed?: () => Promise<void> };
type OpenStore = typeof createDuckDbStore;

/** Per store and round: latencies, and how many of its queries had a GC pause start inside them. */
interface CaseResult { p50: number[]; p99: number[]; max: number[]; gcQueries: number[]; gcMs: number[]; buckets: number; firstPerSeries: number[] }

async function trendChild(ward: number, queries: number, batch: number, rounds: number, baseDist: string | undefined): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-trend-'));
  // The code before this change, loaded from another build (same-run baseline), when given.
  const openBase = baseDist ? ((await import(pathToFileURL(path.join(baseDist, 'adapters/store/duckdb.js')).href)) as { createDuckDbStore: OpenStore }).createDuckDbStore : undefined;
  try {
    const open = async (name: string, o: { sealRows?: number; trendCacheRows?: number; create?: OpenStore } = {}): Promise<TrendStore> => {
      const seal = o.sealRows ?? SEAL_ROWS;
      const s = await (o.create ?? createDuckDbStore)({ path: path.join(dir, `${name}.duckdb`), ...(seal ? { sealRows: seal } : {}), ...(o.trendCacheRows === undefined ? {} : { trendCacheRows: o.trendCacheRows }) });
      await s.migrate();
      return s;
    };
    // wardLive stays open after its fill (the running server: its cache filled by the seals'
    // write-through); wardFile is closed and its file copied for the reopened stores.
    const fill: Record<string, TrendStore> = { patient: await open('patient'), wardLive: await open('ward-live'), wardFile: await open('ward'), ...(UNSORTED ? { wardUnsorted: await open('ward-unsorted', { sealRows: Number.MAX_SAFE_INTEGER }) } : {}) };
    const seconds = DAY / 1000;
    let t = performance.now();
    for (const b of batches(1, seconds, batch)) await fill.patient!.insertSamples(b);
    for (const b of batches(ward, seconds, batch)) {
      await fill.wardLive!.insertSamples(b);
      await fill.wardFile!.insertSamples(b);
      await fill.wardUnsorted?.insertSamples(b);
    }
    const loadS = (performance.now() - t) / 1000;
    await fill.wardFile!.close();
    for (const copy of ['ward-nocache', 'ward-base']) await copyFile(path.join(dir, 'ward.duckdb'), path.join(dir, `${copy}.duckdb`));
    // Reopened (a restart): the start-up warm loads the trend window in background batches; its cost is timed.
    t = performance.now();
    const wardRestart = await open('ward');
    const migrateMs = performance.now() - t;
    await wardRestart.trendCacheWarmed?.();
    const warm = { migrateMs, warmMs: performance.now() - t - migrateMs, cache: wardRestart.trendCacheStats() };
    const stores: Record<string, TrendStore> = {
      empty: await open('empty'), patient: fill.patient!, wardLive: fill.wardLive!, wardRestart, wardNoCache: await open('ward-nocache', { trendCacheRows: 0 }),
      ...(openBase ? { emptyBase: await open('empty-base', { create: openBase }), wardBase: await open('ward-base', { create: openBase }) } : {}),
      ...(fill.wardUnsorted ? { wardUnsorted: fill.wardUnsorted } : {}),
    };
    const names = Object.keys(stores);
    const { step, limit } = chooseStep(T0, T0 + DAY, 'auto') as { step: number; limit: number };
    const result: Record<string, CaseResult> = {};
    // GC pauses are part of the latency (nothing is excluded); recorded to say which queries they fell in.
    const gcs: Array<{ start: number; ms: number }> = [];
    const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) gcs.push({ start: e.startTime, ms: e.duration }); });
    obs.observe({ entryTypes: ['gc'] });
    const answers = new Map<string, string>();
    const mismatches: string[] = [];
    // Groups run one after another in each round; within a group the stores are interleaved
    // (query i asks each in turn, the order rotating with i), so the machine's load and the GC
    // their own garbage causes fall on them alike. A group holds one build's stores only: a
    // baseline's garbage (the cache-off store converts DuckDB results) must not trigger the GCs
    // that land in another build's queries. `--patient-apart` also queries the one-patient store
    // (its tail answers build every bucket) in a group of its own.
    const groups = [['empty', 'wardLive', 'wardRestart', ...(PATIENT_APART ? [] : ['patient'])], ...(PATIENT_APART ? [['patient']] : []), ['emptyBase', 'wardBase'], ['wardNoCache'], ['wardUnsorted']]
      .map((g) => g.filter((n) => n in stores)).filter((g) => g.length > 0);
    // Latencies and query windows in preallocated typed arrays: the harness keeps no objects
    // alive across a round, which every young-generation GC would have to copy.
    const lat: Record<string, Float64Array> = Object.fromEntries(names.map((n) => [n, new Float64Array(queries)]));
    const t0s: Record<string, Float64Array> = Object.fromEntries(names.map((n) => [n, new Float64Array(queries)]));
    for (let r = 0; r < rounds; r++) {
      gcs.length = 0;
      for (const group of groups) {
        for (let q = 0; q < queries; q++) {
          for (let k = 0; k < group.length; k++) {
            const name = group[(q + k) % group.length]!;
            const p = name === 'patient' ? 0 : q % ward;
            const t0 = performance.now();
            const points = await stores[name]!.history({ patientKey: `pat-${p}`, metric: 'hr', from: T0, to: T0 + DAY, step, limit });
            const t1 = performance.now();
            lat[name]![q] = t1 - t0;
            t0s[name]![q] = t0;
            const e = (result[name] ??= { p50: [], p99: [], max: [], gcQueries: [], gcMs: [], buckets: 0, firstPerSeries: [] });
            e.buckets = points.length;
            // Each series' first query after open (before this change, a cache miss), also in lat.
            if (r === 0 && q < (name === 'patient' ? 1 : ward)) e.firstPerSeries.push(t1 - t0);
            // Every store holding the ward must give the same answer (the baseline's included).
            if (r === 0 && q < ward && name.startsWith('ward') && name !== 'wardUnsorted') {
              const json = JSON.stringify(points);
              const seen = answers.get(`pat-${p}`);
              if (seen === undefined) answers.set(`pat-${p}`, json);
              else if (seen !== json) mismatches.push(`${name} pat-${p}`);
            }
          }
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50)); // let the observer deliver
      for (const name of names) {
        const e = result[name]!;
        const xs = [...lat[name]!];
        let hitQueries = 0;
        let hitMs = 0;
        for (let q = 0; q < queries; q++) {
          const inside = gcs.filter((g) => g.start >= t0s[name]![q]! && g.start < t0s[name]![q]! + lat[name]![q]!);
          if (inside.length > 0) hitQueries += 1;
          for (const g of inside) hitMs += g.ms;
        }
        e.p50.push(percentile(xs, 50));
        e.p99.push(percentile(xs, 99));
        e.max.push(Math.max(...xs));
        e.gcQueries.push(hitQueries);
        e.gcMs.push(hitMs);
      }
    }
    obs.disconnect();
    // With a writer: this build's reopened ward, then the code before's (same file, same backfill).
    const writer: Record<string, WriterResult> = {};
    if (WRITER) {
      for (const name of ['wardRestart', 'wardBase']) if (stores[name]) writer[name] = await writerPhase(stores[name], ward, step, limit);
      if (stores.wardBase) {
        for (let p = 0; p <= ward; p++) {
          const ask = (name: string) => stores[name]!.history({ patientKey: `pat-${p}`, metric: 'hr', from: T0, to: T0 + DAY, step, limit });
          if (JSON.stringify(await ask('wardRestart')) !== JSON.stringify(await ask('wardBase'))) mismatches.push(`after the writer pat-${p}`);
        }
      }
    }
    const cache = Object.fromEntries(names.map((n) => [n, stores[n]!.trendCacheStats()]));
    const heapMB = process.memoryUsage().heapUsed / 1e6;
    for (const s of Object.values(stores)) await s.close();
    return { ward, queries, rounds, step, valuesInWard: ward * seconds * METRICS, loadS, result, writer, cache, warm, mismatches, heapMB, peakRssMB: peakRssMB(), base: baseDist ?? null, load: os.loadavg() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Trend queries during a backfill into the same store: how many were answered, and how fast. */
interface WriterResult { answered: number; p50: number; p99: number; max: number; writerS: number; inserts: number }

async function writerPhase(store: TrendStore, ward: number, step: number, limit: number): Promise<WriterResult> {
  // The ward's W other patients, the same day: every insert lands in the tail, and seals follow.
  const backfill = [...batches(ward, Math.min(WRITER_SECONDS, DAY / 1000), WRITER_BATCH, ward)];
  let writing = true;
  const t = performance.now();
  const writer = (async () => {
    try {
      for (const b of backfill) await store.insertSamples(b);
    } finally {
      writing = false;
    }
    return (performance.now() - t) / 1000;
  })();
  const lat = new Float64Array(1_000_000);
  let q = 0;
  while (writing && q < lat.length) {
    const t0 = performance.now();
    await store.history({ patientKey: `pat-${q % ward}`, metric: 'hr', from: T0, to: T0 + DAY, step, limit });
    lat[q] = performance.now() - t0;
    q += 1;
    // A dashboard's queries arrive as I/O events: one per turn of the loop, so the writer's I/O runs between them.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const writerS = await writer;
  const xs = lat.subarray(0, q);
  return { answered: q, p50: percentile(xs, 50), p99: percentile(xs, 99), max: percentile(xs, 100), writerS, inserts: backfill.length };
}

function runChild(argv: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) reject(new Error(`child ${argv.join(' ')} exited ${code}`));
      else resolve(JSON.parse(line.slice(7)) as Record<string, unknown>);
    });
  });
}

const median = (xs: number[]): number => percentile(xs, 50);
const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');

async function main(): Promise<void> {
  const batch = Number(args.batch);
  if (args.child) {
    const [kind, a, b] = args.child.split(':');
    const r = kind === 'trend'
      ? await trendChild(Number(a), Number(b), batch, QUICK ? 1 : Number(args.rounds), args['base-dist'])
      : await growthChild(kind as VariantName, Number(a), Number(b), batch);
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
    return;
  }
  const runs = QUICK ? 1 : Number(args.runs);
  const patients = Number(args.patients);
  const seconds = QUICK ? 300 : Number(args.seconds);
  const altSeconds = QUICK ? 150 : Number(args['alt-seconds']);
  const variants = String(args.variants).split(',').filter((v): v is VariantName => (VARIANTS as readonly string[]).includes(v));
  const load = os.loadavg().map((x) => x.toFixed(2));
  const startedAt = new Date().toISOString();
  const growth: Record<string, unknown>[] = [];
  const alternatives: Record<string, unknown>[] = [];
  const lines: string[] = [];
  if (!args['no-growth']) {
    for (let r = 0; r < runs; r++) growth.push(await runChild(['--child', `append:${patients}:${seconds}`, '--batch', String(batch)]));
    for (let r = 0; r < (QUICK ? 1 : Number(args['alt-runs'])); r++) {
      for (const v of variants) alternatives.push(await runChild(['--child', `${v}:${patients}:${altSeconds}`, '--batch', String(batch)]));
    }
    const m = (k: string, xs = growth): number => median(xs.map((g) => Number(g[k])));
    const rate = (xs: Record<string, unknown>[], i: number): number => median(xs.map((g) => (g.rates as number[])[i]!));
    lines.push(
      `Store growth (\`node dist/load/store-growth-bench.js\`), ${startedAt.slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} cores, load average at start ${load.join(' / ')} (shared machine: other engineers' tests and builds ran alongside).`,
      '',
      `**Growth** (${patients} patients × ${seconds} one-second samples × ${METRICS} metrics = ${(patients * seconds * METRICS / 1e6).toFixed(1)} M values through \`insertSamples\`, ${batch} samples per call, every ${REDELIVER_EVERY}th batch delivered twice; median of ${growth.length} runs; DuckDB file, ${DUCKDB_DEFAULT_MEMORY_MB} MiB limit, ${DUCKDB_DEFAULT_THREADS} thread):`,
      '',
      '| variant | values | runs | first fifth values/s | last fifth values/s | last / first | peak RSS MB | stored once (distinct / expected) | wall s |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    const row = (label: string, xs: Record<string, unknown>[]): string => {
      const values = Number(xs[0]!.values);
      const once = xs.every((g) => g.everyValueOnce === true);
      const distinct = median(xs.map((g) => (g.stored as { unique: number }).unique));
      return `| ${label} | ${(values / 1e6).toFixed(2)} M | ${xs.length} | ${f(rate(xs, 0), 0)} | ${f(rate(xs, 4), 0)} | ${f(median(xs.map((g) => Number(g.lastOverFirst))), 2)} | ${f(m('peakRssMB', xs), 0)} | ${once ? 'yes' : 'NO'} (${distinct} / ${values}) | ${f(m('wallS', xs), 0)} |`;
    };
    if (growth.length) lines.push(row('append (shipped)', growth));
    for (const v of variants) {
      const xs = alternatives.filter((a) => a.variant === v);
      if (xs.length) lines.push(row(`${v} (same run, smaller)`, xs));
    }
  }
  let trend: Record<string, unknown> | null = null;
  if (!args['no-trend']) {
    const ward = QUICK ? 2 : Number(args.ward);
    trend = await runChild(['--child', `trend:${ward}:${QUICK ? 20 : Number(args.queries)}`, '--batch', String(batch), '--rounds', String(args.rounds), ...(QUICK ? ['--quick'] : []), ...(UNSORTED ? ['--unsorted'] : []), ...(SEAL_ROWS ? ['--seal-rows', String(SEAL_ROWS)] : []), ...(args['base-dist'] ? ['--base-dist', path.resolve(args['base-dist'])] : []), ...(PATIENT_APART ? ['--patient-apart'] : []), ...(WRITER ? ['--writer', '--writer-seconds', String(WRITER_SECONDS), '--writer-batch', String(WRITER_BATCH)] : [])]);
    const res = trend.result as Record<string, CaseResult>;
    const warm = trend.warm as { migrateMs: number; warmMs: number; cache: { series: number; rows: number } };
    lines.push(
      '',
      `**24-hour trend query** (\`history\` for one patient and metric over 24 h, step \`auto\` = ${Number(trend.step) / 60_000}-minute buckets; ${trend.queries} queries per store per round, interleaved within each build's group of stores (query i asks each in turn, patient i mod ${trend.ward}, except on the one-patient store), ${trend.rounds} rounds, median of the per-round figures; GC included, and counted: queries with a GC pause starting inside them. Start-up warm of the reopened ward: migrate ${f(warm.migrateMs, 0)} ms, then ${f(warm.warmMs, 0)} ms in the background, ${warm.cache.series} series, ${warm.cache.rows} rows of room; answers identical across the ward's stores: ${(trend.mismatches as string[]).length === 0 ? 'yes' : `NO (${(trend.mismatches as string[]).join(', ')})`}):`,
      '',
      '| store holds | values | buckets | p50 ms | p99 ms | p99 / empty | p99 by round | max by round | queries with GC by round | first query per series p50 / max ms |',
      '|---|---|---|---|---|---|---|---|---|---|',
    );
    const emptyP99 = median(res.empty!.p99);
    const holds: Record<string, [string, number]> = {
      empty: ['nothing', 0],
      emptyBase: ['nothing, the code before (base build)', 0],
      patient: ['the queried patient\'s day only (in the tail)', 86_400 * METRICS],
      wardLive: [`a day of a ward (${trend.ward} patients), the store that stored it (cache filled by the seals)`, Number(trend.valuesInWard)],
      wardRestart: ['the same ward reopened (cache warmed at start-up)', Number(trend.valuesInWard)],
      wardBase: ['the same ward, the code before (base build: lazy cache, objects)', Number(trend.valuesInWard)],
      wardNoCache: ['the same ward, cache off (sealed rollup read from DuckDB per query)', Number(trend.valuesInWard)],
      wardUnsorted: ['the same data, sorted runs off (never sealed, so no rollup)', Number(trend.valuesInWard)],
    };
    for (const [name, [label, values]] of Object.entries(holds)) {
      const e = res[name];
      if (!e) continue;
      const byRound = (xs: number[], d = 2): string => xs.map((x) => f(x, d)).join(' · ');
      lines.push(`| ${label} | ${(values / 1e6).toFixed(2)} M | ${e.buckets} | ${f(median(e.p50), 3)} | ${f(median(e.p99), 3)} | ${f(median(e.p99) / emptyP99, 1)}× | ${byRound(e.p99, 3)} | ${byRound(e.max)} | ${byRound(e.gcQueries, 0)} | ${f(median(e.firstPerSeries), 2)} / ${f(Math.max(...e.firstPerSeries), 2)} |`);
    }
    const writer = trend.writer as Record<string, WriterResult> | undefined;
    if (writer && Object.keys(writer).length > 0) {
      lines.push(
        '',
        `**Trend queries during a backfill** (the reopened ward; a writer inserts ${WRITER_SECONDS} s of the day for ${trend.ward} other patients, ${WRITER_BATCH} samples per \`insertSamples\`, while 24-hour trends run back to back, one per turn of the event loop):`,
        '',
        '| build | inserts | writer s | trends answered | p50 ms | p99 ms | max ms |',
        '|---|---|---|---|---|---|---|',
      );
      for (const [name, w] of Object.entries(writer)) {
        lines.push(`| ${name === 'wardBase' ? 'the code before (base build)' : 'this build'} | ${w.inserts} | ${f(w.writerS, 2)} | ${w.answered} | ${f(w.p50, 3)} | ${f(w.p99, 3)} | ${f(w.max, 1)} |`);
      }
    }
  }
  const md = lines.join('\n');
  console.log(md);
  const root = fileURLToPath(new URL('../../', import.meta.url));
  await mkdir(path.join(root, 'load/results'), { recursive: true });
  const file = `load/results/store-growth-${startedAt.replace(/[:.]/g, '-')}.json`;
  writeFileSync(path.join(root, file), JSON.stringify({ startedAt, load, growth, alternatives, trend }, null, 2));
  console.log(`\nRaw JSON: ${file}`);
  if (args.write && !QUICK) {
    const bench = path.join(root, 'BENCHMARKS.md');
    writeFileSync(bench, replaceSection(readFileSync(bench, 'utf8'), 'store-growth', `${md}\n\nRaw JSON: \`${file}\` (git-ignored).`));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
