/**
 * The two ports (Bus, Store) and the Clock. Each port has an embedded adapter
 * and a production adapter; one contract suite per port runs against both.
 */
import type { AlertEvent } from './alerts-model.js';
import type { AuditEvent } from './audit.js';
import type { ScoreOutput } from './bus-messages.js';
import type { MetricName, CanonicalSample } from './vitals.js';

export interface Clock {
  now(): number;
}

// ---------------------------------------------------------------- Bus

/** Topic names: the same on both bus adapters. */
export const TOPICS = {
  samples: 'vitals.samples',
  /** Backfilled samples (event time older than the live window): a lane of their own so they never delay live ones. */
  backlog: 'vitals.backlog',
  dlq: 'vitals.dlq',
  alerts: 'alerts',
  alertActions: 'alert.actions',
  registry: 'registry',
  audit: 'audit',
  scores: 'news2.scores',
  deviceStatus: 'device.status',
  /**
   * The rules role's checkpoint (compacted, keyed by patient, co-partitioned with the samples): each
   * patient's unresolved alerts and SpO2-scale order, so a rules instance that gains a partition
   * rebuilds exactly its patients without reading the alert history (docs/decisions/0018).
   */
  rulesState: 'rules.state',
} as const;
export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Compacted topics keep the last value per key (registry). */
  compacted?: boolean;
  retentionMs?: number;
  /**
   * Kafka only: a publish's records of one partition may travel as one Kafka record (a bundle,
   * docs/protocol.md), unbundled by the adapter's readers. Ignored for compacted topics.
   */
  bundled?: boolean;
}

export interface OutgoingRecord {
  key: string;
  /** Serialised value; null is a tombstone (compacted topics). */
  value: string | null;
  /**
   * When the record was handed to the bus, epoch ms; defaults to now. Retention and
   * `tail({from: {timestamp}})` count from it, so it must never be an old event time
   * (a sample backfilled 23 h late would be deleted by a 24 h retention before any
   * consumer read it). The event time travels in the value.
   */
  timestamp?: number;
  /**
   * The object `value` was serialised from. The embedded bus hands it to in-process readers so
   * they need not parse `value` again (core/bus-messages.ts); Kafka ignores it. Must equal
   * JSON.parse(value), and nobody may mutate it afterwards.
   */
  decoded?: unknown;
}

export interface BusRecord {
  topic: string;
  partition: number;
  /**
   * Offset within the partition, as a decimal string (Kafka offsets exceed 2^53 in theory). Never
   * decreases within a partition; the records of one Kafka bundle share it (docs/protocol.md).
   */
  offset: string;
  key: string;
  value: string | null;
  timestamp: number;
  /** The decoded value, when known in this process (see OutgoingRecord.decoded); read through decodeRecord(). */
  decoded?: unknown;
}

export type BatchHandler = (records: BusRecord[]) => Promise<void>;

export interface ConsumeOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. Default: earliest. */
  fromBeginning?: boolean;
  /** Called with records in per-partition order; offsets are committed only after it resolves. */
  handler: BatchHandler;
  /**
   * Throughput hint for bulk consumers (the sink); adapters may ignore it. Kafka: a fetch waits
   * up to `maxWaitMs` for `minBytes`, and up to `concurrency` partitions' batches are handed to
   * the handler at once (each partition still in order, each committed after its own call).
   * Embedded: once caught up, the reader waits `maxWaitMs` before reading on, and a call takes up
   * to `minBytes`/200 records (at most 5,000).
   * `prefetch` (records): the bus may fetch and deliver further batches while calls holding up to
   * this many records have not resolved yet, so calls of one partition may overlap and finish out
   * of order; offsets are still committed only up to a partition's first call not resolved. For
   * handlers whose records are independent (the sink); 0 or absent: a partition's next batch is
   * delivered only after its previous call resolved.
   */
  batching?: { minBytes?: number; maxWaitMs?: number; concurrency?: number; prefetch?: number };
  /**
   * Partition-owning consumption (the rules role, docs/decisions/0018): partition i of every listed
   * topic goes to the same member (the topics must be co-partitioned: same key, same count), and the
   * member chooses where a partition it gains starts, after rebuilding that partition's state. Committed
   * offsets then only report progress (lag); they are not where a new owner starts.
   */
  partitioned?: PartitionOwner;
}

/** Callbacks of a partition-owning consumer; the adapter delivers no record of a partition before its onAssigned resolved. */
export interface PartitionOwner {
  /** The member gained these partition numbers: rebuild their state and say where to start reading them. */
  onAssigned(partitions: readonly number[]): Promise<TailStart>;
  /** The member lost these partitions: stop acting for their keys (another member owns them now). */
  onRevoked(partitions: readonly number[]): Promise<void>;
  /** A rebalance began: partitions may move; act on nothing that a record does not drive until the next onAssigned/onRevoked. */
  onRebalance?(): void;
}

export type TailStart = 'earliest' | 'latest' | { timestamp: number };

export interface TailOptions {
  topics: string[];
  from: TailStart;
  handler: BatchHandler;
  /**
   * A reader that must see every record (the rules role): retention never removes a record it
   * has not read, and its lag counts for flow control. Consumer groups are always required.
   */
  required?: boolean;
  /** Names the reader in lag reports and metrics (never patient data); unnamed tails are not reported. */
  name?: string;
}

/** Records a reader has not read yet on one topic (summed over partitions). */
export interface ConsumerLag {
  /** Group id, or the tail's name. */
  consumer: string;
  topic: string;
  lag: number;
  /** Counts for flow control (consumer groups, required tails). */
  required: boolean;
  /** The same lag per partition, where the bus has partitions (Kafka); `lag` is their sum. */
  partitions?: ReadonlyArray<{ partition: number; lag: number }>;
}

export interface Subscription {
  /** Resolves once the reader has consumed everything that existed when it started (tail) or joined (consume). */
  caughtUp: Promise<void>;
  stop(): Promise<void>;
}

export interface Bus {
  /** 'absent': the stand-in of a role that does not use the bus (platform/absent.ts). */
  readonly kind: 'memory' | 'kafka' | 'absent';
  /** Create topics that do not exist yet (idempotent). */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** Resolves only once every record is durably accepted (Kafka acks=all / the embedded log's append). */
  publish(topic: string, records: OutgoingRecord[]): Promise<void>;
  /** Consumer-group read with committed offsets: resumes where the group left off. */
  consume(opts: ConsumeOptions): Promise<Subscription>;
  /** Group-less read from a position (replay from a time, materialise a compacted topic). Commits nothing. */
  tail(opts: TailOptions): Promise<Subscription>;
  /**
   * What each reader has not read yet. Embedded: every active reader that is named or required,
   * plus groups with committed offsets. Kafka: the groups named at creation (committed offsets
   * against end offsets, from the admin API) plus this process's named tails.
   */
  lag(): Promise<ConsumerLag[]>;
  /** Cheap liveness check for /readyz. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- Store

export interface HistoryQuery {
  /** Patient id, or `device:{id}` for unassigned devices (the sample key). */
  patientKey: string;
  metric: MetricName;
  from: number;
  to: number;
  /** 'raw' for points, or a bucket width in ms (multiple of 60 000 uses the rollup). */
  step: 'raw' | number;
  limit: number;
}

export interface RawPoint {
  ts: number;
  value: number;
}

export interface BucketPoint {
  ts: number;
  min: number;
  max: number;
  avg: number;
  count: number;
}

export interface AlertQuery {
  ward?: string[] | undefined;
  patientId?: string | undefined;
  state?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  limit: number;
}

export interface ScoreQuery {
  patientId: string;
  /** Half-open event-time range [from, to). */
  from: number;
  to: number;
  limit: number;
}

export interface AuditQuery {
  userId?: string | undefined;
  patientId?: string | undefined;
  action?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  limit: number;
}

/** Days to keep each kind of data; 0 keeps it forever. */
export interface RetentionPolicy {
  rawDays: number;
  rollupDays: number;
  scoresDays: number;
  alertsDays: number;
  auditDays: number;
}

/** What one retention run removed: whole partitions (ClickHouse) or rows (DuckDB), by table. */
export interface RetentionReport {
  dropped: Record<string, number>;
}

export interface Store {
  /** 'absent': the stand-in of a role that does not use the store (platform/absent.ts). */
  readonly kind: 'duckdb' | 'clickhouse' | 'absent';
  /** Apply schema migrations idempotently, recording which ran. */
  migrate(): Promise<void>;
  /** Batch insert; duplicates (same patient, device, metric, ts) are harmless. */
  insertSamples(samples: CanonicalSample[]): Promise<void>;
  insertAlertEvents(events: AlertEvent[]): Promise<void>;
  insertAudit(events: AuditEvent[]): Promise<void>;
  /** NEWS2 results; one per (patient, event time), duplicates harmless. */
  insertScores(scores: ScoreOutput[]): Promise<void>;
  history(q: HistoryQuery): Promise<RawPoint[] | BucketPoint[]>;
  alerts(q: AlertQuery): Promise<AlertEvent[]>;
  /** NEWS2 results of one patient in [from, to), ascending, the earliest `limit`. */
  scores(q: ScoreQuery): Promise<ScoreOutput[]>;
  /** Audit events matching every given filter, newest first. */
  audit(q: AuditQuery): Promise<AuditEvent[]>;
  /** Remove a patient's telemetry, rollups, scores and alerts (right to erasure); never the audit trail. */
  erasePatient(patientId: string): Promise<void>;
  /** Remove data older than the policy allows, as of `now` (epoch ms). */
  dropExpired(now: number, policy: RetentionPolicy): Promise<RetentionReport>;
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}
