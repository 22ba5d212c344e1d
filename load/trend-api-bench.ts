/**
 * The 24-hour trend as a dashboard asks for it (issue 11: "a store holding a day of a ward's data
 * answers the 24-hour trend query as fast as an empty one"), through `vitals start`'s HTTP API:
 * `GET /api/patients/:id/vitals?metric=hr&from=…&to=…&step=auto` (2-minute buckets), with a token,
 * the gateway's authorisation and audit, JSON out. load/store-growth-bench.ts measures the same
 * query one layer down (`store.history`, no HTTP); this one says what a nurse's screen waits for.
 *
 * Two servers, each its own `vitals start` process (shipped node flags): one on an empty data dir,
 * one on a data dir whose DuckDB file holds a day of a W-patient ward (written through the store's
 * `insertSamples` before the server starts, as a sink would have). Queries alternate between the
 * two, one at a time over keep-alive HTTP, patient i mod W; p50 / p99 per round, medians of rounds.
 * Every ward answer must hold buckets and every empty answer none, or the run fails.
 *
 *   npm run build && node dist/load/trend-api-bench.js [--ward 20] [--seconds 86400] [--queries 1000] [--rounds 3]
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDuckDbStore } from '../adapters/store/duckdb.js';
import type { CanonicalSample } from '../core/vitals.js';
import { loadSigningKey, signToken } from '../platform/jwt.js';
import { startVitals, type Target } from './lib/procs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({
  options: {
    ward: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '86400' },
    queries: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
});
const WARD = Number(args.ward);
const SECONDS = Number(args.seconds);
const QUERIES = Number(args.queries);
const ROUNDS = Number(args.rounds);
const DAY = 86_400_000;
const log = (s: string): void => void process.stderr.write(`[trend-api] ${s}\n`);

/** A day of one-second samples for W patients ending two minutes ago, written as a sink would (1,000 per insert). */
async function fillWard(dataDir: string, now: number): Promise<number> {
  const store = await createDuckDbStore({ path: path.join(dataDir, 'vitals.duckdb') });
  await store.migrate();
  const t0 = now - 120_000 - SECONDS * 1000;
  let batch: CanonicalSample[] = [];
  let stored = 0;
  for (let s = 0; s < SECONDS; s++) {
    for (let p = 0; p < WARD; p++) {
      const ts = t0 + s * 1000 + p;
      batch.push({ v: 1, deviceId: `dev-${p}`, patientId: `pat-${p}`, ward: '4B', ts, recvTs: ts + 100, source: 'device', traceId: `tr-${p}-${s}`, metrics: { hr: 60 + (s % 50), spo2: 90 + (s % 10), rr: 12 + (s % 12), temp: 36 + (s % 20) / 10 } });
      if (batch.length === 1000) {
        await store.insertSamples(batch);
        stored += batch.length;
        batch = [];
      }
    }
  }
  if (batch.length) await store.insertSamples(batch);
  stored += batch.length;
  await store.close();
  return stored;
}

interface Server {
  name: string;
  target: Target;
  token: string;
  wantPoints: boolean;
  ms: number[];
}

async function query(s: Server, patient: number): Promise<void> {
  const to = Date.now();
  const url = `http://127.0.0.1:${s.target.httpPort}/api/patients/pat-${patient}/vitals?metric=hr&from=${to - DAY}&to=${to}&step=auto`;
  const t0 = performance.now();
  const r = await fetch(url, { headers: { authorization: `Bearer ${s.token}` } });
  const body = (await r.json()) as { points?: unknown[] };
  s.ms.push(performance.now() - t0);
  const n = body.points?.length ?? -1;
  if (r.status !== 200 || (s.wantPoints ? n <= 0 : n !== 0)) throw new Error(`${s.name}: HTTP ${r.status}, ${n} points`);
}

const pct = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))] ?? NaN;
const median = (xs: number[]): number => pct(xs, 0.5);

async function main(): Promise<void> {
  const now = Date.now();
  const wardDir = await mkdtemp(path.join(os.tmpdir(), 'vitals-trend-ward-'));
  const emptyDir = await mkdtemp(path.join(os.tmpdir(), 'vitals-trend-empty-'));
  log(`filling ${WARD} patients x ${SECONDS} s into ${wardDir}`);
  const t0 = performance.now();
  const stored = await fillWard(wardDir, now);
  log(`stored ${stored} samples (${stored * 4} values) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const servers: Server[] = [];
  try {
    for (const [name, dir, wantPoints] of [['empty', emptyDir, false], ['ward', wardDir, true]] as const) {
      const target = await startVitals(root, 'embedded', 0, { VITALS_DATA_DIR: dir, VITALS_API_RATE_USER: '100000000', VITALS_API_RATE_ADDRESS: '100000000' });
      const token = await signToken(await loadSigningKey(dir), { sub: 'trend-bench', role: 'admin', wards: ['*'] }, 7200);
      servers.push({ name, target, token, wantPoints, ms: [] });
    }
    // Each series once before timing (a first query after start-up is reported by the store bench).
    for (const s of servers) for (let p = 0; p < WARD; p++) await query(s, p);
    const rounds: Record<string, Array<{ p50: number; p99: number }>> = { empty: [], ward: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of servers) s.ms = [];
      for (let i = 0; i < QUERIES; i++) {
        // Alternate which server goes first, so neither always follows the other's GC or socket work.
        const order = i % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order) await query(s, i % WARD);
      }
      for (const s of servers) rounds[s.name]!.push({ p50: pct(s.ms, 0.5), p99: pct(s.ms, 0.99) });
      log(`round ${r + 1}: ${servers.map((s) => `${s.name} p50 ${pct(s.ms, 0.5).toFixed(3)} p99 ${pct(s.ms, 0.99).toFixed(3)} ms`).join(', ')}`);
    }
    const summary = Object.fromEntries(Object.entries(rounds).map(([k, rs]) => [k, { p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), rounds: rs }]));
    const result = { at: new Date().toISOString(), ward: WARD, seconds: SECONDS, storedSamples: stored, queries: QUERIES, ...summary, p99Ratio: summary.ward!.p99 / summary.empty!.p99 };
    const dir = path.join(root, 'load/results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `trend-api-${result.at.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, JSON.stringify(result, null, 2));
    console.log(JSON.stringify({ file: path.relative(root, file), empty: { p50: summary.empty!.p50, p99: summary.empty!.p99 }, ward: { p50: summary.ward!.p50, p99: summary.ward!.p99 }, p99Ratio: result.p99Ratio }));
  } finally {
    for (const s of servers) await s.target.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
