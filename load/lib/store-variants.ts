/**
 * Write paths the growth benchmark compares with the shipped DuckDB store (ADR 0011). Only the
 * `append` variant is product code (adapters/store/duckdb.ts, through `insertSamples`); the
 * others are the designs it was chosen over:
 *
 * - `unsorted`: the shipped store with sorted runs turned off (every row stays in append order).
 *
 * and, re-created on raw DuckDB with the same settings:
 * - `keyed`: the store before ADR 0011: PRIMARY KEY (patient_key, metric, ts_ms), rows staged by
 *   the appender then `INSERT OR IGNORE … SELECT DISTINCT ON …` (an ART index over all history).
 * - `window`: write-time de-duplication bounded by the batch's event-time range: no index; the
 *   staged batch is anti-joined with the stored rows whose ts_ms lies in [min, max] of the batch,
 *   which DuckDB's zone maps narrow to the row groups of that time range.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { appendSampleRows, createDuckDbStore } from '../../adapters/store/duckdb.js';
import { sampleRows, type SampleRow } from '../../adapters/store/rows.js';
import type { CanonicalSample } from '../../core/vitals.js';

export type VariantName = 'append' | 'unsorted' | 'keyed' | 'window';
export const VARIANTS: readonly VariantName[] = ['append', 'unsorted', 'keyed', 'window'];

export interface WritePath {
  insert(samples: CanonicalSample[]): Promise<void>;
  close(): Promise<void>;
}

const COLUMNS = `patient_key VARCHAR NOT NULL, patient_id VARCHAR NOT NULL, device_id VARCHAR NOT NULL, ward VARCHAR NOT NULL,
  metric VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, ts_ms BIGINT NOT NULL, value DOUBLE NOT NULL, quality REAL NOT NULL,
  source VARCHAR NOT NULL, recv_ts_ms BIGINT NOT NULL, trace_id VARCHAR NOT NULL`;

async function appendStage(c: DuckDBConnection, rows: SampleRow[]): Promise<void> {
  const app = await c.createAppender('stage', 'main', 'temp');
  try {
    appendSampleRows(app, rows);
  } finally {
    app.closeSync();
  }
}

async function rawVariant(path: string, memoryLimitMb: number, threads: number, keyed: boolean): Promise<WritePath> {
  const instance = await DuckDBInstance.create(path, { memory_limit: `${memoryLimitMb}MiB`, threads: String(threads) });
  const c = await instance.connect();
  await c.run(`CREATE TABLE samples (${COLUMNS}${keyed ? ', PRIMARY KEY (patient_key, metric, ts_ms)' : ''})`);
  await c.run(`CREATE TEMP TABLE stage (${COLUMNS})`);
  return {
    async insert(samples) {
      const rows = sampleRows(samples);
      let lo = Infinity;
      let hi = -Infinity;
      for (const r of rows) {
        if (r.ts_ms < lo) lo = r.ts_ms;
        if (r.ts_ms > hi) hi = r.ts_ms;
      }
      await c.run('DELETE FROM stage');
      await appendStage(c, rows);
      if (keyed) {
        await c.run('INSERT OR IGNORE INTO samples SELECT DISTINCT ON (patient_key, metric, ts_ms) * FROM stage');
      } else {
        await c.run(`INSERT INTO samples SELECT DISTINCT ON (s.patient_key, s.metric, s.ts_ms) s.* FROM stage s
          ANTI JOIN (SELECT patient_key, metric, ts_ms FROM samples WHERE ts_ms BETWEEN ${lo} AND ${hi}) t
          ON s.patient_key = t.patient_key AND s.metric = t.metric AND s.ts_ms = t.ts_ms`);
      }
    },
    async close() {
      c.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * Open one write path on a fresh database file.
 * @param variant - which design
 * @param path - DuckDB file (must not exist)
 * @param memoryLimitMb - DuckDB memory_limit, the same for every variant
 * @param threads - DuckDB threads, the same for every variant
 * @returns the write path
 */
export async function openVariant(variant: VariantName, path: string, memoryLimitMb: number, threads: number): Promise<WritePath> {
  if (variant === 'keyed' || variant === 'window') return rawVariant(path, memoryLimitMb, threads, variant === 'keyed');
  const store = await createDuckDbStore({ path, memoryLimitMb, threads, ...(variant === 'unsorted' ? { sealRows: Number.MAX_SAFE_INTEGER } : {}) });
  await store.migrate();
  return { insert: (s) => store.insertSamples(s), close: () => store.close() };
}

/**
 * Count what a closed database file holds: every row, and distinct sample identities.
 * @param path - DuckDB file
 * @param variant - which design wrote it
 * @returns row counts
 */
export async function countStored(path: string, variant: VariantName): Promise<{ rows: number; unique: number }> {
  // The shipped store keeps sorted runs and an unsorted tail; samples_all is both.
  const table = variant === 'keyed' || variant === 'window' ? 'samples' : 'samples_all';
  const instance = await DuckDBInstance.create(path, { memory_limit: '1GiB', threads: '2' });
  const c = await instance.connect();
  try {
    const r = await c.runAndReadAll(`SELECT count(*) AS n, (SELECT count(*) FROM (SELECT DISTINCT patient_key, metric, ts_ms FROM ${table})) AS u FROM ${table}`);
    const [row] = r.getRowObjectsJS();
    return { rows: Number(row?.n), unique: Number(row?.u) };
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}
