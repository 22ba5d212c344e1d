/**
 * The embedded store's insert path into DuckDB: validated sample rows appended through a DuckDB
 * appender, in chunks that yield to the event loop.
 */
import { DuckDBTimestampValue, type DuckDBAppender, type DuckDBValue } from '@duckdb/node-api';
import type { CanonicalSample } from '../../core/vitals.js';
import { sampleRows, type SampleRow } from './rows.js';

/** Rows appended between two yields to the event loop: a 10,000-sample batch never holds it for long. */
export const APPEND_CHUNK_ROWS = 500;

/** Connection-local staging table of insertSamples (see there). */
export const STAGE = 'samples_stage';

/**
 * Append rows (the `samples` column order) and flush; the caller closes the appender.
 * @param app - an appender on samples_recent (or a table of the same shape)
 * @param batch - validated rows
 */
export function appendSampleRows(app: DuckDBAppender, batch: readonly SampleRow[]): void {
  appendRowRange(app, batch, 0, batch.length);
  app.flushSync();
}

/**
 * Validate, convert and append a batch in chunks of about `chunkRows` rows, yielding to the event
 * loop between chunks, so a large batch (a backfill) never stalls /metrics or WebSocket delivery.
 * Converting is the larger part of the work, so it is chunked too: an invalid sample
 * throws mid-way and the caller's transaction rolls the batch back (still all or nothing).
 * @param app - an appender on samples_recent, inside the caller's transaction
 * @param samples - the batch
 * @param chunkRows - rows per chunk
 * @param onRows - given each chunk's rows once appended (the tail rollup folds them in after commit)
 * @returns rows appended
 */
export async function appendSamplesYielding(
  app: DuckDBAppender,
  samples: readonly CanonicalSample[],
  chunkRows = APPEND_CHUNK_ROWS,
  onRows?: (rows: readonly SampleRow[]) => void,
): Promise<number> {
  // A sample has one row per metric: four or five in practice.
  const step = Math.max(1, Math.ceil(chunkRows / 4));
  let appended = 0;
  for (let i = 0; i < samples.length; i += step) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const rows = sampleRows(samples.slice(i, i + step), i);
    appendRowRange(app, rows, 0, rows.length);
    onRows?.(rows);
    // The appender buffers many chunks and writes them in one synchronous flush (~100 ms for
    // 40,000 rows on a loaded 2-core box): flushing each chunk keeps every step short.
    app.flushSync();
    appended += rows.length;
  }
  return appended;
}

function appendRowRange(app: DuckDBAppender, batch: readonly SampleRow[], from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const r = batch[i]!;
    app.appendVarchar(r.patient_key);
    app.appendVarchar(r.patient_id);
    app.appendVarchar(r.device_id);
    app.appendVarchar(r.ward);
    app.appendVarchar(r.metric);
    app.appendTimestamp(new DuckDBTimestampValue(BigInt(r.ts_ms) * 1000n));
    app.appendBigInt(BigInt(r.ts_ms));
    app.appendDouble(r.value);
    app.appendFloat(r.quality);
    app.appendVarchar(r.source);
    app.appendBigInt(BigInt(r.recv_ts_ms));
    app.appendVarchar(r.trace_id);
    app.endRow();
  }
}

/**
 * A batch insert of alert events, audit or scores through a connection-local staging table: the
 * rows go in through an appender and reach the table in one `INSERT OR IGNORE … SELECT`. One
 * statement per row cost 2.3-2.9 ms of CPU per row on a table with a primary key, prepared or
 * not; staged, 55-108 µs at 100-row batches (docs/storage.md).
 */
export interface StagedInsert {
  /** The target table. */
  table: string;
  /** One row of the target as parameters, e.g. `($1, epoch_ms($2::BIGINT), $2)`. */
  values: string;
  /** The SQL type of each parameter, $1 first: the staging table's columns. */
  types: readonly string[];
}

/** A staged insert's statements: create the staging table (once per connection), insert from it, empty it. */
export interface StagedSql {
  stage: string;
  create: string;
  insert: string;
  clear: string;
}

/**
 * @param spec - the insert
 * @returns its statements, built once per table (at module load)
 */
export function stagedInsertSql(spec: StagedInsert): StagedSql {
  const stage = `${spec.table}_stage`;
  const select = spec.values.trim().replace(/^\(|\)$/g, '').replace(/\$(\d+)/g, (_, n: string) => {
    if (Number(n) < 1 || Number(n) > spec.types.length) throw new Error(`${spec.table}: parameter $${n} has no type`);
    return `p${n}`;
  });
  return {
    stage,
    create: `CREATE TEMP TABLE IF NOT EXISTS ${stage} (${spec.types.map((t, i) => `p${i + 1} ${t}`).join(', ')})`,
    // First row wins for a key seen twice in one batch, as one statement per row did.
    insert: `INSERT OR IGNORE INTO ${spec.table} SELECT ${select} FROM ${stage}`,
    clear: `DELETE FROM ${stage}`,
  };
}

/** The embedded store's staged inserts (the `VALUES` rows of the tables' former one-row statements). */
export const ALERT_EVENTS_INSERT = stagedInsertSql({
  table: 'alert_events',
  values: '($1, $2, $3, $4, $5, $6, $7, $8, $9, epoch_ms($10::BIGINT), $10, $11, $12, $13, $14, $15)',
  types: ['VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'BIGINT', 'BIGINT', 'VARCHAR', 'VARCHAR', 'DOUBLE', 'VARCHAR'],
});
export const AUDIT_INSERT = stagedInsertSql({
  table: 'audit',
  values: '($1, epoch_ms($2::BIGINT), $2, $3, $4, $5, $6, $7, $8, $9)',
  types: ['VARCHAR', 'BIGINT', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR'],
});
export const SCORES_INSERT = stagedInsertSql({
  table: 'news2_scores',
  values: '($1, $2, epoch_ms($3::BIGINT), $3, $4, $5, $6, $7, $8)',
  types: ['VARCHAR', 'VARCHAR', 'BIGINT', 'INTEGER', 'INTEGER', 'VARCHAR', 'BOOLEAN', 'VARCHAR'],
});

/**
 * @param app - an appender on the staging table
 * @param rows - each row's parameter values, in `types` order
 */
export function appendStaged(app: DuckDBAppender, rows: ReadonlyArray<readonly DuckDBValue[]>): void {
  for (const values of rows) {
    for (const v of values) app.appendValue(v);
    app.endRow();
  }
  app.flushSync();
}
