/**
 * What a topic of the embedded bus keeps: count and age retention, and compaction (the latest record
 * per key). Nothing at or after `floor`, the lowest offset a required reader has not read, is ever
 * dropped (docs/decisions/0012-flow-control.md bounds that lag at ingest instead).
 */
import { TOPICS, type BusRecord, type TopicSpec } from '../../../core/ports.js';
import type { MemoryBusOptions } from '../memory.js';
import type { TopicLog } from './topic-log.js';

const HOUR = 3_600_000;
export const DEFAULT_TOMBSTONE_RETENTION_MS = 24 * HOUR;

/** Precedence: `topics[name]` > TopicSpec.retentionMs (age) > `defaults` > built-in. */
export function limitsFor(spec: TopicSpec, retention: MemoryBusOptions['retention']): { maxRecords: number; maxAgeMs: number } {
  const own = retention?.topics?.[spec.name];
  const defs = retention?.defaults;
  return {
    maxRecords: own?.maxRecords ?? defs?.maxRecords ?? (spec.name === TOPICS.samples ? 250_000 : 100_000),
    maxAgeMs: own?.maxAgeMs ?? spec.retentionMs ?? defs?.maxAgeMs ?? 24 * HOUR,
  };
}

/**
 * Count retention with slack, so steady appends cost an amortised O(1) splice.
 * @param floor - lowest offset a required reader has not read: nothing at or after it is dropped
 * @returns whether records were dropped
 */
export function trimCount(t: TopicLog, floor: number, withSlack = true): boolean {
  if (t.compacted) return compactIfSparse(t);
  const slack = withSlack ? Math.max(1024, Math.floor(t.maxRecords / 10)) : 0;
  if (t.records.length <= t.maxRecords + slack) return false;
  const n = Math.min(t.records.length - t.maxRecords, t.indexOf(floor));
  t.dropHead(n);
  return n > 0;
}

/** Age retention; `floor` as in {@link trimCount}. */
export function trimAge(t: TopicLog, now: number, floor: number): boolean {
  if (t.compacted) return false;
  const cutoff = now - t.maxAgeMs;
  const limit = Math.min(t.records.length, t.indexOf(floor));
  let n = 0;
  while (n < limit && (t.records[n] as BusRecord).timestamp < cutoff) n++;
  t.dropHead(n);
  return n > 0;
}

/** Keep only the latest record per key once superseded ones dominate. */
function compactIfSparse(t: TopicLog): boolean {
  if (t.records.length <= 2 * t.latest.size + 1024) return false;
  compactNow(t, null);
  return true;
}

/** Keep the latest record per key; drop tombstones older than `tombstoneCutoff` (when given). */
export function compactNow(t: TopicLog, tombstoneCutoff: number | null): void {
  const keepR: BusRecord[] = [];
  const keepO: number[] = [];
  for (let i = 0; i < t.records.length; i++) {
    const r = t.records[i] as BusRecord;
    const off = t.offs[i] as number;
    if (t.latest.get(r.key) !== off) continue;
    if (r.value === null && tombstoneCutoff !== null && r.timestamp < tombstoneCutoff) {
      t.latest.delete(r.key);
      continue;
    }
    keepR.push(r);
    keepO.push(off);
  }
  t.records.length = 0;
  t.offs.length = 0;
  t.records.push(...keepR);
  t.offs.push(...keepO);
}
