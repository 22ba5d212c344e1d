/**
 * Append stall benchmark (issue 11, ADR 0011 amendment): how long one large `insertSamples`
 * batch holds the event loop of the process that runs the DuckDB store (in `vitals start`, the
 * same loop that answers /metrics and delivers WebSocket frames).
 *
 * Each run opens a fresh DuckDB file with the shipped settings and inserts `--batches` batches of
 * `--batch` samples (4 metrics each; 10,000 is the sink's default batch), 200 patients interleaved
 * in event time, crossing several sorted-run seals. `monitorEventLoopDelay` (1 ms resolution)
 * records the event-loop delay throughout. Two variants alternate, `--runs` times each:
 * - `one-shot`: the whole batch appended in one synchronous loop (appendChunkSamples = ∞, the
 *   behaviour before the amendment; the baseline);
 * - `yielding`: the shipped store (yields to the event loop every APPEND_CHUNK_SAMPLES samples);
 * - `idle`: no inserts, the loop only waits as long as the yielding run took: the delay the
 *   machine alone causes to a sleeping process;
 * - `busy`: no inserts, JS work in ~1 ms slices for as long: what a shared, loaded box does to a
 *   process that never blocks longer than 1 ms (the OS deschedules it), the floor for `yielding`.
 * Figures are printed (and with --write put into BENCHMARKS.md), never asserted. Run after `npm run build`:
 *   node dist/load/append-stall-bench.js [--runs 3] [--batch 10000] [--batches 30] [--write]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { APPEND_CHUNK_SAMPLES, createDuckDbStore } from '../adapters/store/duckdb.js';
import type { CanonicalSample } from '../core/vitals.js';
import { replaceSection } from './lib/report.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    batch: { type: 'string', default: '10000' },
    batches: { type: 'string', default: '30' },
    patients: { type: 'string', default: '200' },
    write: { type: 'boolean', default: false },
  },
});
const T0 = Date.UTC(2025, 0, 6, 0, 0, 0);
const METRICS = 4;

function batchAt(k: number, size: number, patients: number): CanonicalSample[] {
  return Array.from({ length: size }, (_, j) => {
    const n = k * size + j;
    const patient = n % patients;
    const second = Math.floor(n / patients);
    const ts = T0 + second * 1000 + patient;
    return {
      v: 1, deviceId: `dev-${patient}`, patientId: `pat-${patient}`, ward: 'ward-1', ts, recvTs: ts + 120, source: 'device', traceId: `tr-${n}`,
      metrics: { hr: 60 + (second % 50), spo2: 90 + (second % 10), rr: 12 + (second % 12), temp: 36 + (second % 20) / 10 },
    } satisfies CanonicalSample;
  });
}

interface RunResult {
  variant: string;
  maxMs: number;
  p99Ms: number;
  meanMs: number;
  valuesPerS: number;
}

async function idle(ms: number): Promise<RunResult> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await new Promise((resolve) => setTimeout(resolve, ms));
  h.disable();
  return { variant: 'idle', maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, meanMs: h.mean / 1e6, valuesPerS: NaN };
}

/** The same wait, but busy: JS work in ~1 ms slices, the floor for a process that never blocks longer. */
async function busy(ms: number): Promise<RunResult> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) {
    const slice = performance.now() + 1;
    while (performance.now() < slice) x += Math.sqrt(x + 1);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  h.disable();
  return { variant: 'busy', maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, meanMs: h.mean / 1e6, valuesPerS: x > 0 ? NaN : 0 };
}

async function run(variant: 'one-shot' | 'yielding', batch: number, batches: number, patients: number): Promise<RunResult & { ms: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-stall-'));
  try {
    const store = await createDuckDbStore({ path: path.join(dir, 'store.duckdb'), ...(variant === 'one-shot' ? { appendChunkSamples: Number.MAX_SAFE_INTEGER } : {}) });
    await store.migrate();
    // Built before measuring: the generator's cost is not the store's.
    const all = Array.from({ length: batches }, (_, k) => batchAt(k, batch, patients));
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const t = performance.now();
    for (const b of all) await store.insertSamples(b);
    const ms = performance.now() - t;
    h.disable();
    await store.close();
    return { variant, ms, maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, meanMs: h.mean / 1e6, valuesPerS: (batch * batches * METRICS) / (ms / 1000) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

async function main(): Promise<void> {
  const runs = Number(args.runs);
  const batch = Number(args.batch);
  const batches = Number(args.batches);
  const patients = Number(args.patients);
  const startedAt = new Date().toISOString();
  const loadStart = os.loadavg().map((x) => x.toFixed(1));
  const results: RunResult[] = [];
  for (let r = 0; r < runs; r++) {
    for (const v of ['one-shot', 'yielding'] as const) {
      const res = await run(v, batch, batches, patients);
      console.error(JSON.stringify(res));
      results.push(res);
      if (v === 'yielding') {
        for (const floor of [await idle(res.ms), await busy(res.ms)]) {
          console.error(JSON.stringify(floor));
          results.push(floor);
        }
      }
    }
  }
  const loadEnd = os.loadavg().map((x) => x.toFixed(1));
  const f = (x: number, d = 1): string => x.toFixed(d);
  const lines = [
    `Append stall (\`node dist/load/append-stall-bench.js --runs ${runs} --batch ${batch} --batches ${batches}\`), ${startedAt.slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} cores, load average ${loadStart.join(' / ')} at start, ${loadEnd.join(' / ')} at end (shared machine).`,
    '',
    `${batches} batches of ${batch.toLocaleString('en-US')} samples (${METRICS} metrics: ${((batch * batches * METRICS) / 1e6).toFixed(1)} M values, ${Math.floor((batch * batches * METRICS) / 500_000)} sorted-run seals) into a fresh DuckDB file; event-loop delay from \`monitorEventLoopDelay\` (1 ms resolution); medians of ${runs} runs per variant, variants alternating:`,
    '',
    '| variant | event-loop delay max ms | p99 ms | mean ms | store rate values/s | per-run max ms |',
    '|---|---|---|---|---|---|',
  ];
  const labels: Record<string, string> = {
    'one-shot': 'whole batch appended in one go (before; baseline)',
    yielding: `yield every ${APPEND_CHUNK_SAMPLES} samples (shipped)`,
    idle: 'no inserts, asleep for the same duration (the machine\'s floor)',
    busy: 'no inserts, busy in 1 ms slices for the same duration (the floor for a busy process)',
  };
  for (const [v, label] of Object.entries(labels)) {
    const xs = results.filter((r) => r.variant === v);
    const rate = median(xs.map((x) => x.valuesPerS));
    lines.push(`| ${label} | ${f(median(xs.map((x) => x.maxMs)))} | ${f(median(xs.map((x) => x.p99Ms)))} | ${f(median(xs.map((x) => x.meanMs)), 2)} | ${Number.isFinite(rate) ? f(rate, 0) : '-'} | ${xs.map((x) => f(x.maxMs, 0)).join(', ')} |`);
  }
  const md = lines.join('\n');
  console.log(md);
  if (args.write) {
    const bench = path.join(fileURLToPath(new URL('../../', import.meta.url)), 'BENCHMARKS.md');
    writeFileSync(bench, replaceSection(readFileSync(bench, 'utf8'), 'append-stall', md));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
