import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import type { CanonicalSample } from '../../core/vitals.js';
import { APPEND_CHUNK_SAMPLES, APPEND_FLUSH_SAMPLES, appendSamplesYielding, STAGE, STAGE_COPY, STAGE_CREATE, stagedInsertSql } from './duckdb-append.js';
import { loadMigrations, schemaDir } from './migrations.js';

describe('stagedInsertSql', () => {
  it('turns one row of parameters into a SELECT over the staging table, repeated parameters included', () => {
    const sql = stagedInsertSql({ table: 'audit', values: '($1, epoch_ms($2::BIGINT), $2, $3)', types: ['VARCHAR', 'BIGINT', 'VARCHAR'] });
    expect(sql.create).toBe('CREATE TEMP TABLE IF NOT EXISTS audit_stage (p1 VARCHAR, p2 BIGINT, p3 VARCHAR)');
    expect(sql.insert).toBe('INSERT OR IGNORE INTO audit SELECT p1, epoch_ms(p2::BIGINT), p2, p3 FROM audit_stage');
    expect(sql.clear).toBe('DELETE FROM audit_stage');
    expect(sql.stage).toBe('audit_stage');
  });

  it('refuses a parameter without a type', () => {
    expect(() => stagedInsertSql({ table: 't', values: '($1, $2)', types: ['VARCHAR'] })).toThrow(/\$2 has no type/);
  });
});

describe('appendSamplesYielding: a large batch yields to the event loop', () => {
  const batch: CanonicalSample[] = Array.from({ length: 10_000 }, (_, i) => ({
    v: 1, deviceId: `d${i % 50}`, patientId: `p${i % 50}`, ward: 'w', ts: 1_000_000 + i * 20, recvTs: 1_000_000 + i * 20, source: 'device', metrics: { hr: 60, spo2: 97 }, traceId: 't',
  }));

  /** Event-loop turns (a self re-arming setImmediate) while `fn` runs. */
  async function turnsDuring(fn: () => Promise<unknown>): Promise<number> {
    let turns = 0;
    let done = false;
    const spin = (): void => {
      turns += 1;
      if (!done) setImmediate(spin);
    };
    setImmediate(spin);
    await fn();
    done = true;
    return turns;
  }

  /** An in-memory database with the tail table (migrations 023, 032) and an appender on the stage. */
  async function stageAppender(): Promise<{ db: DuckDBInstance; c: DuckDBConnection; app: DuckDBAppender }> {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    for (const m of (await loadMigrations(schemaDir('duckdb'))).filter((x) => x.version === 23 || x.version === 32)) await c.run(m.sql);
    await c.run(STAGE_CREATE);
    return { db, c, app: await c.createAppender(STAGE, 'main', 'temp') };
  }

  it('appends a 10,000-sample batch in chunks with a turn of the event loop between them', async () => {
    const { db, c, app } = await stageAppender();
    // One turn per chunk of APPEND_CHUNK_SAMPLES (the appender does no other I/O).
    expect(await turnsDuring(() => appendSamplesYielding(app, batch))).toBeGreaterThanOrEqual(Math.ceil(batch.length / APPEND_CHUNK_SAMPLES) - 1);
    // The same call in one chunk never lets the loop turn: what the store did before.
    expect(await turnsDuring(() => appendSamplesYielding(app, batch, Number.MAX_SAFE_INTEGER))).toBe(0);
    app.closeSync();
    await c.run(STAGE_COPY);
    const reader = await c.runAndReadAll("SELECT count(*) AS n, count(*) FILTER (WHERE metric = 'hr' AND value = 60) AS hr FROM samples_recent");
    expect(reader.getRowObjectsJS()[0]).toEqual({ n: 40_000n, hr: 20_000n });
    c.closeSync();
    db.closeSync();
  });

  it('flushes the appender every APPEND_FLUSH_SAMPLES samples and at the end, not at every yield', async () => {
    const { db, c, app } = await stageAppender();
    let flushes = 0;
    const flushSync = app.flushSync.bind(app);
    app.flushSync = () => {
      flushes += 1;
      flushSync();
    };
    await appendSamplesYielding(app, batch);
    expect(flushes).toBe(Math.ceil(batch.length / APPEND_FLUSH_SAMPLES));
    expect(APPEND_FLUSH_SAMPLES).toBeGreaterThan(APPEND_CHUNK_SAMPLES);
    // Every row reached the stage: the last, partial run of samples was flushed too.
    const reader = await c.runAndReadAll(`SELECT count(*) AS n FROM ${STAGE}`);
    expect(reader.getRowObjectsJS()[0]).toEqual({ n: BigInt(batch.length) });
    app.closeSync();
    c.closeSync();
    db.closeSync();
  });
});
