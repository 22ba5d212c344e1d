/**
 * The embedded store's deletes: rows past retention, and one patient's rows on erasure. SQL only;
 * the store (duckdb.ts) keeps its in-memory state (tail rollup, trend cache) in step with them.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { SAMPLE_TABLES, VALUES_OF_ROWS } from './duckdb-append.js';
import { rows, transaction } from './duckdb-conn.js';
import { recomputeTouched } from './duckdb-rollup.js';
import type { RetentionTable } from './retention.js';
import { MINUTE_MS } from './rollup.js';
import { sqlInt } from './sql.js';

/** Each DuckDB table, the retention policy that governs it, and the time column it is cut on. */
const EXPIRING_TABLES = [
  ['samples_wide', 'samples', 'ts_ms'],
  ['samples_recent_wide', 'samples', 'ts_ms'],
  // Only whole minutes: a minute the cutoff splits is kept until all of it has expired.
  ['samples_rollup_1m', 'samples_1m', `minute_ms + ${MINUTE_MS}`],
  ['news2_scores', 'news2_scores', 'ts_ms'],
  ['alert_events', 'alert_events', 'ts_ms'],
  ['audit', 'audit', 'ts_ms'],
] as const;

/** What one table's delete removed. */
export interface ExpiredDelete {
  table: (typeof EXPIRING_TABLES)[number][0];
  policy: RetentionTable;
  cutoff: number;
  /** Rows as readers count them: values for the raw sample tables (one row per metric, as before migration 022). */
  removed: number;
}

/**
 * Delete every row older than its table's cutoff (the caller seals the tail first, so raw rows have
 * reached the rollup before they go).
 * @param c - the store's connection
 * @param cutoffs - per policy, epoch ms, or null to keep forever (retentionCutoffs)
 * @param onDelete - told after each table's delete, so in-memory state follows at once
 */
export async function deleteExpired(c: DuckDBConnection, cutoffs: Readonly<Record<RetentionTable, number | null>>, onDelete: (d: ExpiredDelete) => void): Promise<void> {
  for (const [table, policy, column] of EXPIRING_TABLES) {
    const cutoff = cutoffs[policy];
    if (cutoff === null) continue;
    const where = `${column} ${column === 'ts_ms' ? '<' : '<='} ${sqlInt(cutoff)}`;
    const values = SAMPLE_TABLES.has(table) ? Number((await rows(c, `SELECT ${VALUES_OF_ROWS} AS n FROM ${table} WHERE ${where}`))[0]?.n ?? 0) : null;
    const res = await c.run(`DELETE FROM ${table} WHERE ${where}`);
    onDelete({ table, policy, cutoff, removed: values ?? Number(res.rowsChanged) });
  }
}

/**
 * Delete one patient's samples, rollup rows, scores and alert events in one transaction. Rows of
 * this patient keyed otherwise (a device's before assignment) share rollup minutes with rows that
 * stay: those minutes are recomputed.
 * @param c - the store's connection
 * @param patientId - validated, non-empty
 */
export async function erasePatientRows(c: DuckDBConnection, patientId: string): Promise<void> {
  await transaction(c, async () => {
    // Assigned samples are keyed by patient id; patient_id catches any row keyed otherwise.
    await c.run(
      `CREATE OR REPLACE TEMP TABLE rollup_touched AS SELECT DISTINCT patient_key, metric, (ts_ms // ${MINUTE_MS}) * ${MINUTE_MS} AS minute_ms
       FROM samples WHERE patient_id = $1 AND patient_key <> $1`,
      [patientId],
    );
    await c.run('DELETE FROM samples_wide WHERE patient_key = $1 OR patient_id = $1', [patientId]);
    await c.run('DELETE FROM samples_recent_wide WHERE patient_key = $1 OR patient_id = $1', [patientId]);
    await c.run('DELETE FROM samples_rollup_1m WHERE patient_key = $1', [patientId]);
    await recomputeTouched(c);
    await c.run('DROP TABLE rollup_touched');
    await c.run('DELETE FROM news2_scores WHERE patient_id = $1', [patientId]);
    await c.run('DELETE FROM alert_events WHERE patient_id = $1', [patientId]);
  });
}
