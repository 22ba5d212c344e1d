/**
 * Retention shared by both store adapters: which policy field governs each table, the cutoff it
 * gives, and (ClickHouse) which partitions lie wholly before it.
 */
import type { RetentionPolicy } from '../../core/ports.js';
import { assertSafeInteger, assertTimestampMs, reject } from './sql.js';

const DAY_MS = 86_400_000;

/** Which policy field governs each table; samples_1m exists as a table only on ClickHouse. */
export const RETENTION_TABLES = {
  samples: 'rawDays',
  samples_1m: 'rollupDays',
  news2_scores: 'scoresDays',
  alert_events: 'alertsDays',
  audit: 'auditDays',
} as const satisfies Record<string, keyof RetentionPolicy>;

export type RetentionTable = keyof typeof RETENTION_TABLES;

/**
 * Per table, the event time before which rows are expired, or null when kept forever (0 days).
 * @param now - epoch ms
 * @param policy - days per kind of data
 * @returns table -> cutoff (epoch ms)
 */
export function retentionCutoffs(now: number, policy: RetentionPolicy): Record<RetentionTable, number | null> {
  assertTimestampMs(now, 'now');
  const out = {} as Record<RetentionTable, number | null>;
  for (const [table, field] of Object.entries(RETENTION_TABLES) as Array<[RetentionTable, keyof RetentionPolicy]>) {
    const days = policy[field];
    assertSafeInteger(days, `policy.${field}`);
    if (days < 0) reject(`policy.${field}`, 'negative');
    out[table] = days === 0 ? null : Math.max(0, now - days * DAY_MS);
  }
  return out;
}

/**
 * The end (exclusive, epoch ms) of the time range a ClickHouse partition id covers:
 * `YYYYMMDD` (toYYYYMMDD) or `YYYYMM` (toYYYYMM). A partition may be dropped only when this
 * end is at or before the cutoff, i.e. every row it can hold is expired.
 * @param id - partition id from system.parts
 * @returns the end, or null for an id of another shape (never dropped)
 */
export function partitionEndMs(id: string): number | null {
  const d = /^(\d{4})(\d{2})(\d{2})$/.exec(id);
  if (d) return Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]) + 1);
  const m = /^(\d{4})(\d{2})$/.exec(id);
  if (m) return Date.UTC(Number(m[1]), Number(m[2]), 1);
  return null;
}
