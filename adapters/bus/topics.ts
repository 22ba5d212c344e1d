/**
 * Default topic specs: one entry per TOPICS name, the same on both bus adapters.
 * Kafka creates them with these partition counts and configs; the memory bus
 * records the spec (compaction, retention) and keeps one partition per topic.
 */
import { TOPICS, type TopicSpec } from '../../core/ports.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Partition counts size the parallelism of a role split across processes: 12 lets
 * up to 12 rules/sink instances share the per-patient topics. The registry has one
 * partition so every reader materialises it in global write order.
 */
const BASE_SPECS: readonly TopicSpec[] = [
  // Long enough for a sink that was down overnight to catch up from the bus.
  // Bundled on Kafka: the per-record cost of the client, not the bytes, limits ingest (ADR 0020).
  { name: TOPICS.samples, partitions: 12, retentionMs: DAY, bundled: true },
  // Backfill lane (docs/decisions/0012-flow-control.md): same keys and partitions as the live lane.
  { name: TOPICS.backlog, partitions: 12, retentionMs: DAY, bundled: true },
  // Rejected payloads are for debugging the last few hours, not an archive.
  { name: TOPICS.dlq, partitions: 3, retentionMs: 6 * HOUR },
  // The alert log rebuilds open alerts on restart: keep it well beyond any alert's life.
  // One partition: its offset is the total order dashboards resume from (docs/decisions/0007).
  { name: TOPICS.alerts, partitions: 1, retentionMs: 30 * DAY },
  { name: TOPICS.alertActions, partitions: 12, retentionMs: 30 * DAY },
  { name: TOPICS.registry, partitions: 1, compacted: true },
  // The store holds the audit trail of record; the topic only has to outlive a sink outage.
  { name: TOPICS.audit, partitions: 3, retentionMs: 7 * DAY },
  { name: TOPICS.scores, partitions: 12, retentionMs: DAY },
  { name: TOPICS.deviceStatus, partitions: 3, retentionMs: DAY },
  // Compacted like the registry, but co-partitioned with the samples (same keys, same count): a rules
  // instance reads only the partitions it owns (docs/decisions/0018).
  { name: TOPICS.rulesState, partitions: 12, compacted: true },
];

/** Topics whose single partition is a semantic choice (one global order), never resized by an override. */
const SINGLE_ORDER: ReadonlySet<string> = new Set([TOPICS.alerts, TOPICS.registry]);

/** Options for {@link defaultTopicSpecs}. */
export interface TopicSpecOverrides {
  /** Partition count for every non-compacted topic (tests use 1-3 to keep a small broker quick). */
  partitions?: number;
  /** Per-topic partition counts; wins over `partitions`. */
  perTopic?: Readonly<Record<string, number>>;
}

/**
 * The default specs, with partition counts optionally overridden (tests, small deployments).
 * The registry and the alert log keep their count unless named in `perTopic`: their single partition is a
 * semantic choice (global order), not a sizing one.
 */
export function defaultTopicSpecs(overrides: TopicSpecOverrides = {}): TopicSpec[] {
  return BASE_SPECS.map((spec) => {
    const perTopic = overrides.perTopic?.[spec.name];
    const fixed = SINGLE_ORDER.has(spec.name);
    const partitions = perTopic ?? (fixed ? spec.partitions : (overrides.partitions ?? spec.partitions));
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new RangeError(`partitions for ${spec.name} must be a positive integer`);
    }
    return { ...spec, partitions };
  });
}

/** Specs for every entry of TOPICS, with production partition counts. */
export const DEFAULT_TOPIC_SPECS: TopicSpec[] = defaultTopicSpecs();
