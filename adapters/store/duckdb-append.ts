/**
 * The embedded store's insert path into DuckDB: validated sample rows appended through a DuckDB
 * appender, in chunks that yield to the event loop.
 */
import { DuckDBTimestampValue, type DuckDBAppender } from '@duckdb/node-api';
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
