/**
 * The production bus: Kafka through kafkajs. Only this adapter (kafka/) imports kafkajs, so the
 * client can be swapped (e.g. for @confluentinc/kafka-javascript's KafkaJS API) there alone.
 *
 * Delivery contract (see docs/decisions/0005-bus-adapters.md):
 * - publish: idempotent producers, acks=all, one request in flight each; records are routed to
 *   one of `producers` lanes by a hash of their key (so a key's records keep publish() order),
 *   and publish() calls made in the same turn of the event loop are coalesced into one
 *   sendBatch per lane (kafkajs has no linger). Several lanes keep several produce requests in
 *   flight without giving up idempotence's per-producer ordering (ADR 0020).
 *   It resolves once the broker acked; failures map to VitalsError with `retriable`.
 * - consume: a consumer group, eachBatch per partition, the handler awaited; the batch's
 *   offset is resolved and committed only after the handler resolved. A throwing handler is
 *   retried with backoff (heartbeating) until it succeeds or the member stops or loses the
 *   partition; uncommitted batches are redelivered (at-least-once). With `batching.prefetch`
 *   (the sink) the batch's offset is resolved as its handler call starts, so kafkajs fetches on
 *   while calls run (up to `prefetch` records in calls not resolved), and each partition is
 *   committed only up to its first call not resolved (kafka/prefetch.ts, ADR 0020 section 13).
 * - tail: an ephemeral group (random id, nothing committed) positioned at explicit offsets.
 * - partitioned consume: a group with a sticky co-partition assigner; on each assignment the
 *   owner's callbacks run (eachBatch waits, heartbeating) and gained partitions are sought to the
 *   start the owner chose (docs/decisions/0018).
 *
 * This file is the adapter's surface; the parts are in kafka/, one responsibility each (as kafkajs
 * splits producer/, consumer/, admin/): errors.ts (kafkajs errors in the error table), client.ts
 * (the client, its log bridge, deadlines), producer.ts (lanes, group commit, the partitioner),
 * admin.ts (topics, lag, descriptions), positions.ts (offsets and caught-up), consumer.ts (group
 * members and partition owners), prefetch.ts (commit order and bound of a prefetching member),
 * tail.ts (tails), bus.ts (the Bus put together).
 */
import type { Logger } from '../../platform/log.js';

export { type KafkaTopicDescription, describeKafkaTopics } from './kafka/admin.js';
export { createKafkaBus } from './kafka/bus.js';
export { mapKafkaError } from './kafka/errors.js';
export { laneOf, rememberingPartitioner } from './kafka/producer.js';

/** Options of {@link createKafkaBus}. */
export interface KafkaBusOptions {
  brokers: string[];
  clientId?: string;
  log?: Logger;
  /** Fail createKafkaBus (and a consumer's join) with a retriable error after this long. Default 10 s. */
  connectTimeoutMs?: number;
  /** Handler retry backoff (default 100 ms doubling to 5 s). */
  retryBackoffMs?: { initial: number; max: number };
  /** Most publish() calls coalesced into one sendBatch (default 500). */
  maxCoalescedPublishes?: number;
  /**
   * Idempotent producers (lanes), each with one produce request in flight; a record's lane is
   * a hash of its key. Default 1.
   */
  producers?: number;
  /**
   * Consumer groups whose lag `lag()` reports besides this process's own groups, e.g. the sink's
   * group for an ingest process that flow-controls on it (required: true).
   */
  watchGroups?: ReadonlyArray<{ groupId: string; topics: readonly string[] }>;
}
