/**
 * Profile of the 24-hour trend query on the embedded store (issue 11, ADR 0011): fills a DuckDB
 * file with a day of a ward (W patients, 1 Hz, 4 metrics, time-ordered batches of 1,000 samples,
 * the store-growth bench's workload), times `history` for varied patients with the sealed-rows
 * cache off and on (each series' first query apart) and on an empty store, splits the cache-off
 * query into DuckDB execution, reading the result, converting it to JS values and the JS merge,
 * then prints `EXPLAIN ANALYZE` of each statement the rollup path runs.
 *
 *   npm run build && node dist/load/trend-explain.js [--ward 5] [--file /tmp/ward.duckdb] [--reuse]
 * `--reuse` skips the fill when the file exists (profile a change on the same data).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { createDuckDbStore } from '../adapters/store/duckdb.js';
import type { CanonicalSample } from '../core/vitals.js';
import { chooseStep } from '../dashboard-gateway/history-step.js';
import { bucketsFromMinutes, mergeMinutes, type MinuteAgg } from '../adapters/store/rollup.js';

// The store's sealed-rollup select (duckdb-rollup.ts AGG_SELECT), repeated to time its parts.
const AGG_SELECT_FOR_PROFILE = 'CAST(minute_ms AS DOUBLE) AS minute_ms, CAST(cnt AS DOUBLE) AS cnt, min_v, max_v, sum_v, CAST(lo_ts AS DOUBLE) AS lo_ts, CAST(hi_ts AS DOUBLE) AS hi_ts';

const { values: args } = parseArgs({
  options: {
    ward: { type: 'string', default: '5' },
    file: { type: 'string', default: '/tmp/vitals-trend-explain.duckdb' },
    reuse: { type: 'boolean', default: false },
    queries: { type: 'string', default: '50' },
  },
});
const T0 = Date.UTC(2025, 0, 6, 0, 0, 0);
const DAY = 86_400_000;
const WARD = Number(args.ward);
const FILE = String(args.file);

function* batches(patients: number, seconds: number, size: number): Generator<CanonicalSample[]> {
  let out: CanonicalSample[] = [];
  for (let s = 0; s < seconds; s++) {
    for (let p = 0; p < patients; p++) {
      const ts = T0 + s * 1000 + p;
      out.push({
        v: 1, deviceId: `dev-${p}`, patientId: `pat-${p}`, ward: 'ward-0', ts, recvTs: ts + 120, source: 'device', traceId: `tr-${p}-${s}`,
        metrics: { hr: 60 + (s % 50), spo2: 90 + (s % 10), rr: 12 + (s % 12), temp: 36 + (s % 20) / 10 },
      });
      if (out.length === size) {
        yield out;
        out = [];
      }
    }
  }
  if (out.length) yield out;
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

async function main(): Promise<void> {
  const store = await createDuckDbStore({ path: FILE });
  await store.migrate();
  if (!(args.reuse && existsSync(FILE) && (await store.sampleRowCounts()).sorted > 0)) {
    const t = performance.now();
    for (const b of batches(WARD, DAY / 1000, 1000)) await store.insertSamples(b);
    console.log(`filled ${WARD} patients' day in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  console.log('rows', await store.sampleRowCounts());
  const { step, limit } = chooseStep(T0, T0 + DAY, 'auto') as { step: number; limit: number };
  await store.close();
  const QUERIES = Number(args.queries);
  /** history() latencies for varied patients; the first WARD queries are each series' first. */
  const timeHistory = async (s: Awaited<ReturnType<typeof createDuckDbStore>>): Promise<{ first: number[]; rest: number[] }> => {
    const first: number[] = [];
    const rest: number[] = [];
    for (let q = 0; q < QUERIES; q++) {
      const t = performance.now();
      await s.history({ patientKey: `pat-${q % WARD}`, metric: 'hr', from: T0, to: T0 + DAY, step, limit });
      (q < WARD ? first : rest).push(performance.now() - t);
    }
    return { first, rest };
  };
  const show = (name: string, r: { first: number[]; rest: number[] }): void =>
    console.log(`history ${name}: first query per series p50 ${pct(r.first, 50).toFixed(2)} ms; then p50 ${pct(r.rest, 50).toFixed(2)} ms, p99 ${pct(r.rest, 99).toFixed(2)} ms`);
  for (const [name, opts] of [['ward, cache off', { trendCacheRows: 0 }], ['ward, cache on', {}]] as const) {
    const s = await createDuckDbStore({ path: FILE, ...opts });
    await s.migrate();
    show(name, await timeHistory(s));
    console.log('  cache', s.trendCacheStats());
    await s.close();
  }
  for (const [name, opts] of [['empty, cache off', { trendCacheRows: 0 }], ['empty, cache on', {}]] as const) {
    const s = await createDuckDbStore({ path: ':memory:', ...opts });
    await s.migrate();
    show(name, await timeHistory(s));
    await s.close();
  }

  // Where the cache-off query's time goes, on the ward's file and on an empty database: the
  // sealed-rollup statement run alone (DuckDB execution, result kept in C++), read into JS chunks,
  // converted to JS values; then the JS merge and bucketing.
  const emptyDir = await mkdtemp(path.join(os.tmpdir(), 'vitals-explain-'));
  const emptyFile = path.join(emptyDir, 'empty.duckdb');
  const emptyStore = await createDuckDbStore({ path: emptyFile });
  await emptyStore.migrate();
  await emptyStore.close();
  for (const [name, file] of [['ward', FILE], ['empty', emptyFile]] as const) {
    const db = await DuckDBInstance.create(file, { memory_limit: '512MiB', threads: '1' });
    const c = await db.connect();
    const sql = `SELECT ${AGG_SELECT_FOR_PROFILE} FROM samples_rollup_1m WHERE patient_key = $1 AND metric = $2 AND minute_ms >= ${T0} AND minute_ms < ${T0 + DAY}`;
    const parts = { run: [] as number[], readAll: [] as number[], columnsJS: [] as number[], merge: [] as number[], selectOne: [] as number[] };
    for (let q = 0; q < QUERIES; q++) {
      const key = [`pat-${q % WARD}`, 'hr'];
      let t = performance.now();
      await c.run(sql, key);
      parts.run.push(performance.now() - t);
      t = performance.now();
      const reader = await c.runAndReadAll(sql, key);
      parts.readAll.push(performance.now() - t);
      t = performance.now();
      const [minute, cnt, mn, mx, sum, lo, hi] = reader.getColumnsJS() as number[][];
      parts.columnsJS.push(performance.now() - t);
      t = performance.now();
      const sealed: MinuteAgg[] = (minute ?? []).map((m, i) => ({ minute: m, count: cnt![i]!, min: mn![i]!, max: mx![i]!, sum: sum![i]!, lo: lo![i]!, hi: hi![i]! }));
      bucketsFromMinutes(mergeMinutes(sealed, [], []), step, limit);
      parts.merge.push(performance.now() - t);
      // The floor: a parameterised statement that touches no table.
      t = performance.now();
      await c.runAndReadAll('SELECT $1::VARCHAR AS k', [key[0]!]);
      parts.selectOne.push(performance.now() - t);
    }
    console.log(`${name} database, sealed-rollup statement parts:`);
    for (const [k, xs] of Object.entries(parts)) console.log(`  ${k}: p50 ${pct(xs, 50).toFixed(3)} ms, p99 ${pct(xs, 99).toFixed(3)} ms`);
    c.closeSync();
    db.closeSync();
  }
  await rm(emptyDir, { recursive: true, force: true });

  const db = await DuckDBInstance.create(FILE, { memory_limit: '512MiB', threads: '1' });
  const c = await db.connect();
  const where = `patient_key = 'pat-0' AND metric = 'hr' AND ts_ms >= ${T0} AND ts_ms < ${T0 + DAY}`;
  const tables = (await (await c.runAndReadAll("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'samples%'")).getRowObjectsJS()).map((r) => String(r.table_name));
  const statements: Record<string, string> = {
    rollup: `SELECT * FROM samples_rollup_1m WHERE patient_key = 'pat-0' AND metric = 'hr' AND minute_ms >= ${T0} AND minute_ms < ${T0 + DAY}`,
    tailRaw: `SELECT patient_key, metric, (ts_ms // 60000) * 60000 AS m, count(*), min(value), max(value), sum(value)
      FROM (SELECT DISTINCT ON (patient_key, metric, ts_ms) * FROM samples_recent WHERE ${where}) GROUP BY ALL`,
    ...(tables.includes('samples_recent_1m')
      ? { tailRollup: `SELECT * FROM samples_recent_1m WHERE patient_key = 'pat-0' AND metric = 'hr' AND minute_ms >= ${T0} AND minute_ms < ${T0 + DAY}` }
      : {}),
  };
  for (const [name, sql] of Object.entries(statements)) {
    for (let i = 0; i < 3; i++) await c.run(sql); // warm
    const t = performance.now();
    for (let i = 0; i < 20; i++) await c.run(sql);
    console.log(`\n== ${name}: ${((performance.now() - t) / 20).toFixed(2)} ms per run`);
    const r = await c.runAndReadAll(`EXPLAIN ANALYZE ${sql}`);
    console.log(String(r.getRowObjectsJS()[0]?.explain_value ?? JSON.stringify(r.getRowObjectsJS())));
  }
  c.closeSync();
  db.closeSync();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
