/**
 * The embedded bus: an in-process log per topic with consumer groups, tails and
 * optional file durability. It is what `vitals start` runs on, so the hot path
 * (publish -> handler) stays at object pushes: values are passed through as the
 * strings they arrived as, never re-serialised.
 *
 * Semantics (see docs/decisions/0005-bus-adapters.md):
 * - One partition per topic (partition 0), whatever TopicSpec.partitions says: per-key
 *   order is then total order. Partitions exist to spread load across processes.
 * - One active member per consumer group: a second `consume` with a groupId that is
 *   active throws VTL_ERR_CONFLICT (a bug in one process, not a rebalance).
 * - Records become visible to readers only once durable (appended to the segment file
 *   when `dataDir` is set), the way Kafka only serves up to the high watermark.
 * - Retention is by record count and record timestamp, but never removes a record that a
 *   required reader has not read: consumer groups (active, or inactive for less than
 *   `inactiveGroupHoldMs`) and tails opened with `required: true`. Their lag is bounded by
 *   flow control at ingest instead (docs/decisions/0012-flow-control.md). Only optional tails
 *   (live views) can fall behind the log start; they skip ahead to it (logged).
 *
 * This file is the adapter's surface; the parts are in memory/, one responsibility each (as
 * kafkajs splits producer/, consumer/, admin/): topic-log.ts (a topic's records and offsets),
 * segment-files.ts (the files), retention.ts (retention and compaction), reader.ts (group members
 * and tails), groups.ts (committed offsets and membership), bus.ts (the Bus put together).
 */
import type { Bus } from '../../core/ports.js';
import type { Logger } from '../../platform/log.js';
import { MemoryBusImpl } from './memory/bus.js';

/** Bounds on what a topic keeps, in memory and on disk. */
export interface RetentionLimits {
  /** Keep at most this many records (trimmed in chunks, so briefly up to ~10% more). */
  maxRecords?: number;
  /** Drop records whose timestamp is older than this. */
  maxAgeMs?: number;
}

/** Options of {@link createMemoryBus}. */
export interface MemoryBusOptions {
  /** Directory for segment files (`<dataDir>/bus/<topic>/`); null or absent: memory only. */
  dataDir?: string | null;
  log?: Logger;
  /**
   * Precedence: `topics[name]` > TopicSpec.retentionMs (age) > `defaults` > built-in
   * (250 000 records for vitals.samples, 100 000 otherwise; 24 h). Compacted topics are
   * bounded by their key count instead.
   */
  retention?: { defaults?: RetentionLimits; topics?: Readonly<Record<string, RetentionLimits>> };
  /** Roll to a new segment file after this many bytes (default 8 MiB). */
  segmentBytes?: number;
  /** fsync each append before `publish` resolves (default false: survives a process crash, not power loss). */
  fsync?: boolean;
  /** Max records per handler call (default 500). */
  maxBatchSize?: number;
  /** Handler retry backoff (default 100 ms doubling to 5 s). */
  retryBackoffMs?: { initial: number; max: number };
  /** How often age retention runs (default 10 s). */
  retentionIntervalMs?: number;
  /** Tombstones older than this are dropped when a compacted topic is reloaded (default 24 h). */
  tombstoneRetentionMs?: number;
  /** How long close() waits for in-flight handlers before giving up on them (default 10 s). */
  closeTimeoutMs?: number;
  /**
   * How long a consumer group with committed offsets but no active member still holds retention
   * (default 15 min): long enough for a restarting sink to re-attach, short enough that a group
   * nobody runs any more cannot pin the log forever.
   */
  inactiveGroupHoldMs?: number;
}

/** Counters for tests and metrics. */
export interface MemoryBusStats {
  /** Segment append calls made (one per topic per flush, however many records). */
  appendWrites: number;
  topics: Record<string, { records: number; firstOffset: number; nextOffset: number; segments: number }>;
}

/** The embedded bus, plus introspection the port does not need. */
export interface MemoryBus extends Bus {
  readonly kind: 'memory';
  stats(): MemoryBusStats;
  /** Apply age and count retention now (it also runs on a timer). */
  runRetention(): Promise<void>;
}

/**
 * Create the embedded bus. With `dataDir`, topics, records and committed offsets are
 * reloaded from `<dataDir>/bus/` and every publish is appended before it resolves.
 */
export async function createMemoryBus(opts: MemoryBusOptions = {}): Promise<MemoryBus> {
  const bus = new MemoryBusImpl(opts, opts.log);
  await bus.open();
  return bus;
}
