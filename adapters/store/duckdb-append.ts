/**
 * The embedded store's insert path into DuckDB: validated samples appended through a DuckDB
 * appender to a one-row-per-sample stage, in chunks that yield to the event loop.
 */
import { DuckDBTimestampValue, type DuckDBAppender, type DuckDBValue } from '@duckdb/node-api';
import { METRIC_NAMES, type CanonicalSample, type MetricName } from '../../core/vitals.js';
import { forEachSampleRow, type SampleRow } from './rows.js';

/** Samples appended between two yields to the event loop: a 20,000-sample batch never holds it for long. */
export const APPEND_CHUNK_SAMPLES = 128;

/**
 * Samples appended between two flushes of the appender into the stage. A flush has a fixed cost
 * beside its rows' (store alone, one core, 5,000-sample batches: a flush per 125 samples cost
 * 12.8-15.5 µs of main-thread CPU per sample, per 512 11.6-12.4, per 1,024 8.1-8.7, per 2,048 8.8;
 * docs/storage.md), and a flush of 1,024 rows is a few ms, so flushes are fewer than yields.
 */
export const APPEND_FLUSH_SAMPLES = 1024;

/** Connection-local staging table of insertSamples (see there). */
export const STAGE = 'samples_stage';

// The stage holds one row per sample, a value and a quality column per metric (NULL when absent),
// as the tables do (migrations 022-023): a sample is appended in ~20 appender calls, and one
// statement copies the stage into the tail. Times are DOUBLEs (exact for epoch ms) so no BigInt
// is made per value.
const stageValue = (m: MetricName): string => `v_${m}`;
const stageQuality = (m: MetricName): string => `q_${m}`;
const METRIC_INDEX = new Map<MetricName, number>(METRIC_NAMES.map((m, i) => [m, i]));

/** Create the stage (once per connection); its shape follows METRIC_NAMES, so migrate() drops it. */
export const STAGE_CREATE = `CREATE TEMP TABLE IF NOT EXISTS ${STAGE} (patient_key VARCHAR, patient_id VARCHAR, device_id VARCHAR, ward VARCHAR, ts_ms DOUBLE, source VARCHAR, recv_ts_ms DOUBLE, trace_id VARCHAR, ${METRIC_NAMES.map((m) => `${stageValue(m)} DOUBLE, ${stageQuality(m)} REAL`).join(', ')})`;

/** The raw tables (migrations 022-023): one row per sample, a value and a quality column per metric. */
export const SAMPLE_TABLES: ReadonlySet<string> = new Set(['samples_wide', 'samples_recent_wide']);

/** An aggregate over rows of a raw table: the values they hold (what the per-metric views show). */
export const VALUES_OF_ROWS = `CAST(coalesce(sum(${METRIC_NAMES.map((m) => `CAST(${stageValue(m)} IS NOT NULL AS INTEGER)`).join(' + ')}), 0) AS DOUBLE)`;

/** Copy the stage into the tail (samples_recent_wide, migration 023): the same shape, times as BIGINT. */
export const STAGE_COPY = `INSERT INTO samples_recent_wide SELECT patient_key, patient_id, device_id, ward, CAST(ts_ms AS BIGINT), source, CAST(recv_ts_ms AS BIGINT), trace_id, ${METRIC_NAMES.map(
  (m) => `${stageValue(m)}, ${stageQuality(m)}`,
).join(', ')} FROM ${STAGE}`;

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
 * Validate and append a batch to the stage (STAGE_CREATE) in chunks of `chunkSamples` samples,
 * yielding to the event loop between chunks, so a large batch (a backfill) never stalls /metrics
 * or WebSocket delivery. An invalid sample throws mid-way and the caller's transaction rolls the
 * batch back (still all or nothing).
 * @param app - an appender on the stage, inside the caller's transaction
 * @param samples - the batch
 * @param chunkSamples - samples per chunk
 * @returns rows the batch makes in samples_recent (one per sample and metric)
 */
export async function appendSamplesYielding(app: DuckDBAppender, samples: readonly CanonicalSample[], chunkSamples = APPEND_CHUNK_SAMPLES): Promise<number> {
  const step = Math.max(1, chunkSamples);
  const values = new Float64Array(METRIC_NAMES.length);
  const qualities = new Float64Array(METRIC_NAMES.length);
  const present = new Uint8Array(METRIC_NAMES.length);
  let rows = 0;
  let open = false;
  const visit = (r: Readonly<SampleRow>): void => {
    if (!open) {
      app.appendVarchar(r.patient_key);
      app.appendVarchar(r.patient_id);
      app.appendVarchar(r.device_id);
      app.appendVarchar(r.ward);
      app.appendDouble(r.ts_ms);
      app.appendVarchar(r.source);
      app.appendDouble(r.recv_ts_ms);
      app.appendVarchar(r.trace_id);
      open = true;
    }
    const k = METRIC_INDEX.get(r.metric) as number;
    values[k] = r.value;
    qualities[k] = r.quality;
    present[k] = 1;
    rows += 1;
  };
  const endSample = (): void => {
    if (!open) return; // no metrics: no rows, as before
    for (let k = 0; k < present.length; k++) {
      if (present[k] === 1) {
        app.appendDouble(values[k] as number);
        app.appendFloat(qualities[k] as number);
      } else {
        app.appendNull();
        app.appendNull();
      }
    }
    app.endRow();
    present.fill(0);
    open = false;
  };
  let unflushed = 0;
  for (let i = 0; i < samples.length; i += step) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const chunk = samples.slice(i, i + step);
    forEachSampleRow(chunk, visit, i, endSample);
    unflushed += chunk.length;
    // Left alone the appender buffers the whole batch and writes it in one synchronous flush
    // (~100 ms for 40,000 rows on a loaded 2-core box): flushing every APPEND_FLUSH_SAMPLES keeps
    // each step short without paying a flush's fixed cost per yield.
    if (unflushed >= APPEND_FLUSH_SAMPLES || i + step >= samples.length) {
      app.flushSync();
      unflushed = 0;
    }
  }
  return rows;
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
