/**
 * Profile of the 24-hour trend query on the embedded store (issue 11, ADR 0011): fills a DuckDB
 * file with a day of a ward (W patients, 1 Hz, 4 metrics, time-ordered batches of 1,000 samples,
 * the store-growth bench's workload), times `history` for one patient, then prints
 * `EXPLAIN ANALYZE` of each statement the rollup path runs, so the time can be attributed.
 *
 *   npm run build && node dist/load/trend-explain.js [--ward 5] [--file /tmp/ward.duckdb] [--reuse]
 * `--reuse` skips the fill when the file exists (profile a change on the same data).
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { createDuckDbStore } from '../adapters/store/duckdb.js';
import type { CanonicalSample } from '../core/vitals.js';
import { chooseStep } from '../dashboard-gateway/history-step.js';

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
  const lat: number[] = [];
  for (let q = 0; q < Number(args.queries); q++) {
    const t = performance.now();
    await store.history({ patientKey: `pat-${q % WARD}`, metric: 'hr', from: T0, to: T0 + DAY, step, limit });
    lat.push(performance.now() - t);
  }
  const empty = await createDuckDbStore({ path: ':memory:' });
  await empty.migrate();
  const latEmpty: number[] = [];
  for (let q = 0; q < Number(args.queries); q++) {
    const t = performance.now();
    await empty.history({ patientKey: `pat-${q % WARD}`, metric: 'hr', from: T0, to: T0 + DAY, step, limit });
    latEmpty.push(performance.now() - t);
  }
  await empty.close();
  console.log(`history (rollup path): p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms; empty store p50 ${pct(latEmpty, 50).toFixed(1)} ms, p99 ${pct(latEmpty, 99).toFixed(1)} ms`);
  await store.close();

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
