import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import type { BucketPoint } from '../../core/ports.js';
import { METRIC_NAMES, type CanonicalSample } from '../../core/vitals.js';
import { storeContract } from '../../test/support/store-contract.js';
import { createDuckDbStore, DUCKDB_DEFAULT_MEMORY_MB, DUCKDB_DEFAULT_THREADS } from './duckdb.js';
import { loadMigrations, schemaDir } from './migrations.js';
import { registerStoreMemoryGauge, STORE_MEMORY_METRIC } from '../../platform/store-memory-metric.js';

const dirs: string[] = [];
async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vitals-duckdb-'));
  dirs.push(dir);
  return join(dir, 'vitals.duckdb');
}

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A file database with the schema as an older release left it: migrations up to `version` applied and recorded. */
async function schemaUpTo(path: string, version: number): Promise<{ db: DuckDBInstance; c: DuckDBConnection }> {
  const db = await DuckDBInstance.create(path);
  const c = await db.connect();
  await c.run('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)');
  for (const m of (await loadMigrations(schemaDir('duckdb'))).filter((x) => x.version <= version)) {
    await c.run(m.sql);
    await c.run('INSERT INTO schema_migrations VALUES ($1, $2, current_timestamp::TIMESTAMP)', [m.version, m.name]);
  }
  return { db, c };
}

storeContract('duckdb (file)', async () => createDuckDbStore({ path: await tempFile() }));
storeContract('duckdb (:memory:)', () => createDuckDbStore({ path: ':memory:' }));
// Sealing after every few rows puts copies of one sample in different sorted runs and the tail.
storeContract('duckdb (sorted run every 3 rows)', () => createDuckDbStore({ path: ':memory:', sealRows: 3 }));

describe('duckdb store: file persistence', () => {
  it('keeps data and the migration ledger across reopen', async () => {
    const path = await tempFile();
    const a = await createDuckDbStore({ path });
    await a.migrate();
    const ledger = await a.appliedMigrations();
    await a.insertSamples([{ v: 1, deviceId: 'd', patientId: 'p', ward: 'w', ts: 1_000, recvTs: 1_001, source: 'device', metrics: { hr: 60 }, traceId: 't' }]);
    await a.close();
    const b = await createDuckDbStore({ path });
    await b.migrate();
    expect(await b.appliedMigrations()).toEqual(ledger);
    expect(await b.history({ patientKey: 'p', metric: 'hr', from: 0, to: 10_000, step: 'raw', limit: 10 })).toEqual([{ ts: 1_000, value: 60 }]);
    await b.close();
  });
});

describe('duckdb store: upgrade from the keyed samples table (ADR 0011)', () => {
  it('moves rows stored under the old primary key and still shows a re-delivered sample once', async () => {
    const path = await tempFile();
    // The schema as it was before migration 006 (versions 1-5), one row stored.
    const { db: old, c } = await schemaUpTo(path, 5);
    await c.run("INSERT INTO samples VALUES ('p', 'p', 'd', 'w', 'hr', epoch_ms(1000), 1000, 61, -1, 'device', 1001, 't')");
    c.closeSync();
    old.closeSync();

    const store = await createDuckDbStore({ path });
    await store.migrate();
    const versions = (await store.appliedMigrations()).map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(versions.at(-1)).toBeGreaterThanOrEqual(14);
    const one: CanonicalSample = { v: 1, deviceId: 'd', patientId: 'p', ward: 'w', ts: 1_000, recvTs: 1_001, source: 'device', metrics: { hr: 61 }, traceId: 't' };
    await store.insertSamples([one]); // a re-delivery of the row stored before the upgrade
    await store.insertSamples([{ ...one, ts: 2_000, recvTs: 2_001, metrics: { hr: 62 } }]);
    expect(await store.history({ patientKey: 'p', metric: 'hr', from: 0, to: 10_000, step: 'raw', limit: 10 })).toEqual([
      { ts: 1_000, value: 61 },
      { ts: 2_000, value: 62 },
    ]);
    const [bucket] = (await store.history({ patientKey: 'p', metric: 'hr', from: 0, to: 60_000, step: 60_000, limit: 10 })) as BucketPoint[];
    expect(bucket).toMatchObject({ ts: 0, count: 2, min: 61, max: 62 });
    // Migration 016 put the sealed row into the rollup (one minute of hr).
    expect((await store.sampleRowCounts()).rollup).toBe(1);
    await store.close();
  });
});

describe('duckdb store: engine settings', () => {
  it('opens with the memory limit and thread count it is given, and refuses a limit DuckDB rejects', async () => {
    const store = await createDuckDbStore({ path: ':memory:', memoryLimitMb: 300, threads: 2 });
    expect(await store.engineSettings()).toEqual({ memoryLimitMb: 300, threads: 2 });
    await store.close();
    const defaults = await createDuckDbStore({ path: ':memory:' });
    expect(await defaults.engineSettings()).toEqual({ memoryLimitMb: DUCKDB_DEFAULT_MEMORY_MB, threads: DUCKDB_DEFAULT_THREADS });
    await defaults.close();
    await expect(createDuckDbStore({ path: ':memory:', threads: 0 })).rejects.toMatchObject({ code: 'VTL_ERR_CONFIG' });
  });
});

describe('duckdb store: engine memory', () => {
  it('reports what DuckDB holds by tag, on /metrics as vitals_store_engine_memory_bytes, within its limit', async () => {
    const store = await createDuckDbStore({ path: await tempFile(), memoryLimitMb: 128 });
    await store.migrate();
    const at = (p: number, ts: number): CanonicalSample => ({ v: 1, deviceId: `d${p}`, patientId: `p${p}`, ward: 'w', ts, recvTs: ts, source: 'device', metrics: { hr: 60 + (ts % 40), rr: 12 }, traceId: 't' });
    for (let s = 0; s < 20; s++) await store.insertSamples(Array.from({ length: 1000 }, (_, p) => at(p, 1_000_000 + s * 1000 + p)));
    const held = await store.engineMemory();
    const total = held.reduce((a, m) => a + m.bytes, 0);
    expect(held.length).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(128 * 1024 * 1024);
    const reg = new Registry();
    registerStoreMemoryGauge(reg, store);
    const text = await reg.getSingleMetricAsString(STORE_MEMORY_METRIC);
    for (const m of held) expect(text).toMatch(new RegExp(`^${STORE_MEMORY_METRIC}\\{tag="${m.tag}"\\} \\d+$`, 'm'));
    await store.close();
    // A closed store reports nothing rather than failing the scrape.
    expect(await store.engineMemory()).toEqual([]);
  });
});

describe('duckdb store: one raw row per sample (migrations 022-035)', () => {
  it('moves sealed and tail rows of the per-metric tables into per-sample rows, losing no value', async () => {
    const path = await tempFile();
    // The schema as it was before 022 (versions 1-21), with rows in both per-metric tables.
    const { db: old, c } = await schemaUpTo(path, 21);
    const row = (table: string, metric: string, ts: number, value: number, quality: number): Promise<unknown> =>
      c.run(`INSERT INTO ${table} VALUES ('p', 'p', 'd', 'w', '${metric}', epoch_ms(${ts}), ${ts}, ${value}, ${quality}, 'device', ${ts + 1}, 't${ts}')`);
    await row('samples', 'hr', 1_000, 61, 0.9);
    await row('samples', 'rr', 1_000, 14, -1);
    await row('samples', 'hr', 1_000, 61, 0.9); // a re-delivered copy, stored twice before
    await row('samples_recent', 'hr', 2_000, 62, 0.8);
    await row('samples_recent', 'spo2', 2_000, 97, -1);
    c.closeSync();
    old.closeSync();

    const store = await createDuckDbStore({ path });
    await store.migrate();
    const hr = await store.history({ patientKey: 'p', metric: 'hr', from: 0, to: 10_000, step: 'raw', limit: 10 });
    expect(hr).toEqual([
      { ts: 1_000, value: 61 },
      { ts: 2_000, value: 62 },
    ]);
    expect(await store.history({ patientKey: 'p', metric: 'rr', from: 0, to: 10_000, step: 'raw', limit: 10 })).toEqual([{ ts: 1_000, value: 14 }]);
    expect(await store.history({ patientKey: 'p', metric: 'spo2', from: 0, to: 10_000, step: 'raw', limit: 10 })).toEqual([{ ts: 2_000, value: 97 }]);
    // The copies folded into one sealed row: two sealed values (hr, rr), two in the tail (hr, spo2).
    expect(await store.sampleRowCounts()).toMatchObject({ sorted: 2, recent: 2 });
    // Sealing the migrated tail keeps every value and its quality.
    await store.dropExpired(10_000, { rawDays: 1, rollupDays: 1, scoresDays: 1, alertsDays: 1, auditDays: 1 });
    expect(await store.sampleRowCounts()).toMatchObject({ sorted: 4, recent: 0 });
    await store.close();
    const db = await DuckDBInstance.create(path);
    const r = await db.connect();
    const q = (await r.runAndReadAll("SELECT metric, quality FROM samples WHERE ts_ms = 2000 ORDER BY metric")).getRowObjectsJS();
    expect(q.map((x) => [x.metric, Math.round(Number(x.quality) * 10) / 10])).toEqual([['hr', 0.8], ['spo2', -1]]);
    r.closeSync();
    db.closeSync();
  });

  it('has a value and a quality column for every metric name in both raw tables (a new metric needs a migration)', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const store = await createDuckDbStore({ path: ':memory:' });
    await store.migrate();
    await store.close();
    for (const m of await loadMigrations(schemaDir('duckdb'))) await c.run(m.sql);
    for (const table of ['samples_wide', 'samples_recent_wide']) {
      const cols = (await c.runAndReadAll(`SELECT column_name FROM information_schema.columns WHERE table_name = '${table}'`)).getRowObjectsJS().map((x) => String(x.column_name));
      for (const m of METRIC_NAMES) expect(cols).toEqual(expect.arrayContaining([`v_${m}`, `q_${m}`]));
    }
    // The per-metric view shows every metric the stage carries.
    const view = (await c.runAndReadAll('SELECT sql FROM duckdb_views() WHERE view_name = \'samples\'')).getRowObjectsJS()[0]?.sql;
    for (const m of METRIC_NAMES) expect(String(view)).toContain(`'${m}' AS metric`);
    c.closeSync();
    db.closeSync();
  });

  it('reports expired raw data as values, not rows', async () => {
    const store = await createDuckDbStore({ path: ':memory:', sealRows: 4 });
    await store.migrate();
    const day = 86_400_000;
    const at = (ts: number): CanonicalSample => ({ v: 1, deviceId: 'd', patientId: 'p', ward: 'w', ts, recvTs: ts, source: 'device', metrics: { hr: 60, rr: 12, spo2: 97 }, traceId: 't' });
    await store.insertSamples([at(1_000), at(2_000)]); // sealed (6 values >= 4)
    await store.insertSamples([at(3_000)]); // sealed by dropExpired before raw retention
    await store.insertSamples([at(3 * day)]);
    const report = await store.dropExpired(3 * day + 1_000, { rawDays: 1, rollupDays: 30, scoresDays: 30, alertsDays: 30, auditDays: 30 });
    expect(report.dropped['samples']).toBe(9);
    expect(await store.history({ patientKey: 'p', metric: 'rr', from: 0, to: 4 * day, step: 'raw', limit: 10 })).toEqual([{ ts: 3 * day, value: 12 }]);
    await store.close();
  });
});

describe('duckdb store: sorted runs', () => {
  it('moves the appended tail into a sorted run once it holds sealRows rows, and reads across both', async () => {
    const store = await createDuckDbStore({ path: await tempFile(), sealRows: 10 });
    await store.migrate();
    const at = (ts: number, hr: number): CanonicalSample => ({ v: 1, deviceId: 'd', patientId: 'p', ward: 'w', ts, recvTs: ts, source: 'device', metrics: { hr, rr: 12 }, traceId: 't' });
    await store.insertSamples([at(1_000, 60), at(2_000, 61)]);
    expect(await store.sampleRowCounts()).toEqual({ sorted: 0, recent: 4, rollup: 0, recentRollup: 2 });
    await store.insertSamples([at(3_000, 62), at(4_000, 63), at(5_000, 64)]);
    expect(await store.sampleRowCounts()).toEqual({ sorted: 10, recent: 0, rollup: 2, recentRollup: 0 });
    await store.insertSamples([at(2_000, 61)]); // a re-delivered copy of a sealed sample
    expect(await store.sampleRowCounts()).toEqual({ sorted: 10, recent: 2, rollup: 2, recentRollup: 2 });
    const raw = await store.history({ patientKey: 'p', metric: 'hr', from: 0, to: 10_000, step: 'raw', limit: 10 });
    expect(raw.map((x) => x.ts)).toEqual([1_000, 2_000, 3_000, 4_000, 5_000]);
    await store.erasePatient('p');
    expect(await store.sampleRowCounts()).toEqual({ sorted: 0, recent: 0, rollup: 0, recentRollup: 0 });
    await store.close();
  });
});

describe('duckdb store: 1-minute rollup (ADR 0011 amendment)', () => {
  const at = (p: string, ts: number, hr: number): CanonicalSample => ({ v: 1, deviceId: 'd', patientId: p, ward: 'w', ts, recvTs: ts, source: 'device', metrics: { hr }, traceId: 't' });
  const trend = async (store: Awaited<ReturnType<typeof createDuckDbStore>>, p: string, step: number): Promise<BucketPoint[]> =>
    (await store.history({ patientKey: p, metric: 'hr', from: 0, to: 3_600_000, step, limit: 100 })) as BucketPoint[];

  it('answers from the rollup exactly what the tail alone answers, copies and late samples included', async () => {
    const sealing = await createDuckDbStore({ path: ':memory:', sealRows: 50 });
    const tailOnly = await createDuckDbStore({ path: ':memory:', sealRows: Number.MAX_SAFE_INTEGER });
    for (const s of [sealing, tailOnly]) await s.migrate();
    // 5 minutes of one sample every 2 s, 30 per batch, every third batch re-delivered, then a late
    // sample into the first minute and copies of the second minute after everything was sealed.
    const all = Array.from({ length: 150 }, (_, i) => at('p', i * 2_000 + (i % 3), 60 + (i % 17) / 2));
    const batches = Array.from({ length: 5 }, (_, k) => all.slice(k * 30, k * 30 + 30));
    for (const [k, b] of batches.entries()) {
      for (const s of [sealing, tailOnly]) {
        await s.insertSamples(b);
        if (k % 3 === 0) await s.insertSamples(b);
      }
    }
    const late = [at('p', 59_999, 99), ...all.slice(30, 40)];
    for (const s of [sealing, tailOnly]) await s.insertSamples(late);
    const counts = await sealing.sampleRowCounts();
    // Both sides answer here: sealed minutes from the rollup, the rest from the tail.
    expect(counts.rollup).toBeGreaterThanOrEqual(4);
    expect(counts.recent).toBeGreaterThan(0);
    expect((await tailOnly.sampleRowCounts()).rollup).toBe(0);
    for (const step of [60_000, 120_000, 300_000]) {
      const want = await trend(tailOnly, 'p', step);
      expect(await trend(sealing, 'p', step)).toEqual(want);
    }
    const perMinute = await trend(sealing, 'p', 60_000);
    expect(perMinute.map((b) => b.count)).toEqual([31, 30, 30, 30, 30]);
    expect(perMinute[0]!.max).toBe(99);
    for (const s of [sealing, tailOnly]) await s.close();
  });

  it('keeps the tail’s rollup exact on every insert: copies, late and out-of-order samples, split minutes', async () => {
    const store = await createDuckDbStore({ path: ':memory:', sealRows: Number.MAX_SAFE_INTEGER });
    await store.migrate();
    // One sample every 1.5 s over 4 minutes, dyadic values (exact sums), in batches of 7 that
    // split minutes; every batch is followed by a copy of part of an earlier one, and the
    // second half arrives in reverse batch order (event-time spans that meet).
    const all = Array.from({ length: 160 }, (_, i) => at('p', i * 1_500, 60 + (i % 13) / 4));
    const batches = Array.from({ length: Math.ceil(all.length / 7) }, (_, k) => all.slice(k * 7, k * 7 + 7));
    const order = [...batches.slice(0, 12), ...batches.slice(12).reverse()];
    const seen = new Map<number, number>();
    for (const [k, b] of order.entries()) {
      await store.insertSamples(b);
      await store.insertSamples(order[Math.floor(k / 2)]!.slice(2, 5)); // a re-delivery
      for (const s of b) seen.set(s.ts, s.metrics.hr!);
      if (k % 5 !== 4) continue;
      const want = new Map<number, BucketPoint>();
      for (const [ts, v] of seen) {
        const m = Math.floor(ts / 60_000) * 60_000;
        const e = want.get(m) ?? { ts: m, min: v, max: v, avg: 0, count: 0 };
        want.set(m, { ts: m, min: Math.min(e.min, v), max: Math.max(e.max, v), avg: e.avg + v, count: e.count + 1 });
      }
      const expected = [...want.values()].sort((x, y) => x.ts - y.ts).map((x) => ({ ...x, avg: x.avg / x.count }));
      expect(await trend(store, 'p', 60_000)).toEqual(expected);
    }
    const counts = await store.sampleRowCounts();
    expect(counts).toMatchObject({ sorted: 0, rollup: 0, recentRollup: 4 });
    // A new minute whose first batch carries a copy of one of its own samples.
    await store.insertSamples([at('p', 600_000, 1), at('p', 601_000, 3), at('p', 600_000, 1)]);
    expect((await trend(store, 'p', 60_000)).at(-1)).toEqual({ ts: 600_000, min: 1, max: 3, avg: 2, count: 2 });
    await store.close();
  });

  it('answers the same trend after a restart: the tail’s rollup is rebuilt from raw rows, and copies stay out', async () => {
    const path = await tempFile();
    const a = await createDuckDbStore({ path, sealRows: 40 });
    await a.migrate();
    // 3 minutes of one sample every 2 s; the first 40 rows are sealed, the rest stay in the tail.
    const all = Array.from({ length: 90 }, (_, i) => at('p', i * 2_000, 60 + (i % 11)));
    for (let k = 0; k < all.length; k += 15) await a.insertSamples(all.slice(k, k + 15));
    await a.insertSamples([...all.slice(50, 55), at('p', 121_001, 99)]); // copies and a late sample, in the tail
    // A batch that fails part-way leaves the rollup as it was.
    await expect(a.insertSamples([at('p', 150_001, 1), at('p', 150_003, Number.NaN)])).rejects.toMatchObject({ code: 'VTL_ERR_BAD_REQUEST' });
    const before = await trend(a, 'p', 60_000);
    expect(before.map((b) => b.count)).toEqual([30, 30, 31]);
    const counts = await a.sampleRowCounts();
    expect(counts.sorted).toBeGreaterThan(0);
    expect(counts.recentRollup).toBeGreaterThan(0);
    await a.close();

    const b = await createDuckDbStore({ path, sealRows: 40 });
    await b.migrate();
    expect(await b.sampleRowCounts()).toEqual(counts);
    expect(await trend(b, 'p', 60_000)).toEqual(before);
    // A copy of a tail sample stored before the restart still counts once.
    await b.insertSamples([all[80]!, at('p', 179_999, 1)]);
    expect((await trend(b, 'p', 60_000)).map((x) => x.count)).toEqual([30, 30, 32]);
    await b.close();
  });

  it('keeps the rollup through raw retention (rollupDays longer) and drops it with rollup retention', async () => {
    const store = await createDuckDbStore({ path: ':memory:', sealRows: 1_000_000 });
    await store.migrate();
    const day = 86_400_000;
    await store.insertSamples([at('p', 30_000, 70), at('p', 45_000, 80), at('p', 61_000, 90)]);
    // Raw expires, the rollup is kept: the unsealed tail is sealed into the rollup first.
    await store.dropExpired(2 * day, { rawDays: 1, rollupDays: 0, scoresDays: 0, alertsDays: 0, auditDays: 0 });
    expect(await store.sampleRowCounts()).toEqual({ sorted: 0, recent: 0, rollup: 2, recentRollup: 0 });
    expect(await store.history({ patientKey: 'p', metric: 'hr', from: 0, to: day, step: 'raw', limit: 10 })).toEqual([]);
    expect((await trend(store, 'p', 60_000)).map((b) => [b.ts, b.count, b.avg])).toEqual([
      [0, 2, 75],
      [60_000, 1, 90],
    ]);
    // A cutoff inside the second minute drops only the whole first minute.
    await store.dropExpired(90_000 + day, { rawDays: 1, rollupDays: 1, scoresDays: 0, alertsDays: 0, auditDays: 0 });
    expect((await trend(store, 'p', 60_000)).map((b) => b.ts)).toEqual([60_000]);
    await store.close();
  });
});

describe('duckdb store: large batches', () => {
  const batch: CanonicalSample[] = Array.from({ length: 10_000 }, (_, i) => ({
    v: 1, deviceId: `d${i % 50}`, patientId: `p${i % 50}`, ward: 'w', ts: 1_000_000 + i * 20, recvTs: 1_000_000 + i * 20, source: 'device', metrics: { hr: 60, spo2: 97 }, traceId: 't',
  }));

  it('stores a large batch whole, and nothing of one whose invalid sample comes after several chunks', async () => {
    const store = await createDuckDbStore({ path: ':memory:' });
    await store.migrate();
    await store.insertSamples(batch);
    expect((await store.sampleRowCounts()).recent).toBe(20_000);
    const bad = [...batch.slice(0, 5_000).map((s) => ({ ...s, patientId: 'q' })), { ...batch[0]!, patientId: 'q', metrics: { hr: Number.NaN } }];
    await expect(store.insertSamples(bad)).rejects.toMatchObject({ code: 'VTL_ERR_BAD_REQUEST' });
    expect((await store.sampleRowCounts()).recent).toBe(20_000);
    // Invalid after the sample's first metric: its stage row is half appended when validation throws.
    const halfway = [...batch.slice(0, 3), { ...batch[0]!, metrics: { hr: 61, spo2: Number.NaN } }];
    await expect(store.insertSamples(halfway)).rejects.toMatchObject({ code: 'VTL_ERR_BAD_REQUEST' });
    expect((await store.sampleRowCounts()).recent).toBe(20_000);
    // The next batch goes in whole, its values as sent.
    await store.insertSamples([{ ...batch[0]!, patientId: 'after', metrics: { hr: 62, spo2: 95 } }]);
    expect((await store.sampleRowCounts()).recent).toBe(20_002);
    expect(await store.history({ patientKey: 'after', metric: 'spo2', from: 0, to: 10_000_000, step: 'raw', limit: 10 })).toEqual([{ ts: batch[0]!.ts, value: 95 }]);
    await store.close();
  });
});

describe('duckdb store: cached sealed rollup rows (ADR 0011, fourth amendment)', () => {
  const at = (p: string, ts: number, hr: number): CanonicalSample => ({ v: 1, deviceId: 'd', patientId: p, ward: 'w', ts, recvTs: ts, source: 'device', metrics: { hr }, traceId: 't' });
  type Store = Awaited<ReturnType<typeof createDuckDbStore>>;
  const HOUR = 3_600_000;

  /** The trend computed in the test from the store's de-duplicated raw rows: what the rollup must answer. */
  async function fromRaw(store: Store, p: string, step: number, fromMinute = 0): Promise<BucketPoint[]> {
    const raw = await store.history({ patientKey: p, metric: 'hr', from: 0, to: HOUR, step: 'raw', limit: 100_000 });
    const byBucket = new Map<number, number[]>();
    for (const { ts, value } of raw as Array<{ ts: number; value: number }>) {
      if (ts < fromMinute) continue;
      const b = Math.floor(ts / step) * step;
      byBucket.set(b, [...(byBucket.get(b) ?? []), value]);
    }
    return [...byBucket.entries()].sort((a, b) => a[0] - b[0]).map(([ts, v]) => ({
      ts, min: Math.min(...v), max: Math.max(...v), avg: v.reduce((x, y) => x + y, 0) / v.length, count: v.length,
    }));
  }
  const trend = async (store: Store, p: string, step: number): Promise<BucketPoint[]> =>
    (await store.history({ patientKey: p, metric: 'hr', from: 0, to: HOUR, step, limit: 1_000 })) as BucketPoint[];
  // Each trend asked twice: the second answer reuses the sealed buckets the first one built.
  async function expectRawAnswer(store: Store, fromMinute = 0): Promise<void> {
    for (const p of ['p', 'q']) {
      for (const step of [60_000, 120_000]) {
        const want = await fromRaw(store, p, step, fromMinute);
        expect(await trend(store, p, step)).toEqual(want);
        expect(await trend(store, p, step)).toEqual(want);
      }
    }
  }
  // One sample every 2 s per patient, values that add up exactly in any order.
  const minutes = (p: string, first: number, last: number): CanonicalSample[] =>
    Array.from({ length: (last - first + 1) * 30 }, (_, i) => at(p, first * 60_000 + i * 2_000 + (p === 'q' ? 1 : 0), 60 + ((i * 7) % 17) / 2));
  async function insertBoth(store: Store, a: number, b: number): Promise<void> {
    const xs = [...minutes('p', a, b), ...minutes('q', a, b)].sort((x, y) => x.ts - y.ts);
    for (let i = 0; i < xs.length; i += 25) await store.insertSamples(xs.slice(i, i + 25));
  }

  it('answers from cached sealed rows what the raw rows answer, through seals, copies, late samples, retention and erasure', async () => {
    const store = await createDuckDbStore({ path: ':memory:', sealRows: 40 });
    await store.migrate();
    await insertBoth(store, 0, 2);
    expect((await store.sampleRowCounts()).rollup).toBeGreaterThan(0);
    // Written through by the seals (fifth amendment): no query ever went to DuckDB for sealed rows.
    await expectRawAnswer(store);
    expect(store.trendCacheStats()).toMatchObject({ series: 2, hits: 8, misses: 0 });
    // Later seals reach the held entries.
    await insertBoth(store, 3, 5);
    // The same step as the last query: the seal must have dropped p's shared buckets.
    expect(await trend(store, 'p', 120_000)).toEqual(await fromRaw(store, 'p', 120_000));
    await expectRawAnswer(store);
    expect(store.trendCacheStats()).toMatchObject({ series: 2, hits: 17, misses: 0 });
    // Shared sealed buckets are frozen: one caller cannot change another's answer.
    const shared = await trend(store, 'p', 120_000);
    expect(Object.isFrozen(shared[0])).toBe(true);
    expect(() => Object.assign(shared[0]!, { count: 0 })).toThrow(TypeError);
    // A late sample into a sealed minute (a disjoint span: a second sealed row), copies of a
    // sealed minute (spans meet: the seal recomputes it), then enough to seal both.
    await store.insertSamples([at('p', 59_999, 99), ...minutes('q', 1, 1)]);
    await insertBoth(store, 6, 6);
    expect(await trend(store, 'q', 120_000)).toEqual(await fromRaw(store, 'q', 120_000));
    expect((await trend(store, 'p', 60_000))[0]).toMatchObject({ count: 31, max: 99 });
    await expectRawAnswer(store);
    // Rollup retention (raw rows kept) drops the first two whole minutes, cached or not.
    const day = 86_400_000;
    await store.dropExpired(day + 150_000, { rawDays: 0, rollupDays: 1, scoresDays: 0, alertsDays: 0, auditDays: 0 });
    expect(await trend(store, 'q', 120_000)).toEqual(await fromRaw(store, 'q', 120_000, 120_000));
    await expectRawAnswer(store, 120_000);
    await insertBoth(store, 7, 8);
    await expectRawAnswer(store, 120_000);
    // q's copied minute was recomputed by a seal and its rows replaced in memory: never a miss.
    expect(store.trendCacheStats()).toMatchObject({ series: 2, hits: 45, misses: 0 });
    await store.erasePatient('p');
    expect(await trend(store, 'p', 60_000)).toEqual([]);
    expect(await trend(store, 'q', 60_000)).toEqual(await fromRaw(store, 'q', 60_000, 120_000));
    await store.close();
  });

  it('warms the trend window at start-up in the background: a reopened store answers every series from memory, exactly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vitals-warm-'));
    try {
      const file = join(dir, 'w.duckdb');
      const a = await createDuckDbStore({ path: file, sealRows: 40 });
      await a.migrate();
      await insertBoth(a, 0, 4);
      // A copy of a sealed minute still in the tail at close: the reopened store must not count it twice.
      await a.insertSamples(minutes('q', 1, 1).slice(0, 3));
      await a.close();
      const b = await createDuckDbStore({ path: file, sealRows: 40 });
      await b.migrate();
      await b.trendCacheWarmed();
      expect(b.trendCacheStats()).toMatchObject({ series: 2, pending: 0 });
      await expectRawAnswer(b);
      // A patient the store never saw: answered (empty) from memory, covered by the warm.
      expect(await trend(b, 'nobody', 60_000)).toEqual([]);
      expect(b.trendCacheStats()).toMatchObject({ hits: 9, misses: 0 });
      await insertBoth(b, 5, 6);
      await b.insertSamples([at('new', 7 * 60_000, 70), ...Array.from({ length: 40 }, (_, i) => at('new', 7 * 60_000 + 1_000 + i, 71))]);
      await expectRawAnswer(b);
      expect(await trend(b, 'new', 60_000)).toEqual([{ ts: 7 * 60_000, min: 70, max: 71, avg: (70 + 40 * 71) / 41, count: 41 }]);
      expect(b.trendCacheStats()).toMatchObject({ series: 3, misses: 0 });
      await b.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers the same with the cache off, and a store whose cache is full still answers every series', async () => {
    const stores = [
      await createDuckDbStore({ path: ':memory:', sealRows: 40, trendCacheRows: 0 }),
      await createDuckDbStore({ path: ':memory:', sealRows: 40, trendCacheRows: 12 }),
    ];
    for (const s of stores) {
      await s.migrate();
      await insertBoth(s, 0, 4);
      await expectRawAnswer(s);
      await insertBoth(s, 5, 6);
      await expectRawAnswer(s);
      // Off: nothing held; 12 rows: one series (5 minutes + 1) at most, the other fetched each time.
      expect(s.trendCacheStats().rows).toBeLessThanOrEqual(s === stores[0] ? 0 : 12);
      await s.close();
    }
  });
});
