/**
 * The production bus: Kafka through kafkajs. The only file that imports kafkajs, so the
 * client can be swapped (e.g. for @confluentinc/kafka-javascript's KafkaJS API) here alone.
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
 *   partition; uncommitted batches are redelivered (at-least-once).
 * - tail: an ephemeral group (random id, nothing committed) positioned at explicit offsets.
 * - partitioned consume: a group with a sticky co-partition assigner; on each assignment the
 *   owner's callbacks run (eachBatch waits, heartbeating) and gained partitions are sought to the
 *   start the owner chose (docs/decisions/0018).
 */
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import type { Admin, Batch, Consumer, EachBatchPayload, ICustomPartitioner, KafkaMessage, LogEntry, PartitionAssigner, Producer } from 'kafkajs';
import { VitalsError } from '../../core/errors.js';
import type { BatchHandler, Bus, BusRecord, ConsumeOptions, ConsumerLag, OutgoingRecord, PartitionOwner, Subscription, TailOptions, TailStart, TopicSpec } from '../../core/ports.js';
import { isRetriable, retry } from '../../platform/backoff.js';
import type { Logger } from '../../platform/log.js';
import { assignCoPartitions, decodeOwned, encodeOwned } from './co-partition.js';
import { isLeadershipMove } from './kafka-log-level.js';

const { AssignerProtocol, Kafka, Partitioners, logLevel } = kafkajs;

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

type BusErrorCode = 'VTL_ERR_BUS_UNAVAILABLE' | 'VTL_ERR_NOT_FOUND' | 'VTL_ERR_BAD_REQUEST' | 'VTL_ERR_PAYLOAD_TOO_LARGE' | 'VTL_ERR_INTERNAL';

interface KafkaishError {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
}

/** The innermost cause: kafkajs wraps the real error in KafkaJSNumberOfRetriesExceeded and friends. */
function rootCause(e: unknown): KafkaishError {
  let cur = e as KafkaishError;
  for (let i = 0; i < 10 && cur && typeof cur === 'object' && cur.cause && typeof cur.cause === 'object'; i++) cur = cur.cause as KafkaishError;
  return cur ?? {};
}

/**
 * Map a kafkajs error to the error table. Broker/network trouble is retriable for the caller
 * even when kafkajs marks it non-retriable after exhausting its own retries.
 */
export function mapKafkaError(e: unknown, what: string): VitalsError {
  if (e instanceof VitalsError) return e;
  const root = rootCause(e);
  const kind = root.type ?? root.name ?? 'Error';
  const detail = `${what}: ${kind}${root.message ? `: ${root.message.slice(0, 200)}` : ''}`;
  let code: BusErrorCode = 'VTL_ERR_BUS_UNAVAILABLE';
  if (kind === 'MESSAGE_TOO_LARGE' || kind === 'RECORD_LIST_TOO_LARGE') code = 'VTL_ERR_PAYLOAD_TOO_LARGE';
  else if (kind === 'UNKNOWN_TOPIC_OR_PARTITION' || kind === 'KafkaJSTopicMetadataNotLoaded') code = 'VTL_ERR_NOT_FOUND';
  else if (kind === 'INVALID_RECORD' || kind === 'CORRUPT_MESSAGE' || kind === 'INVALID_TOPIC_EXCEPTION') code = 'VTL_ERR_BAD_REQUEST';
  else if (PRODUCER_STATE_LOST.has(kind)) code = 'VTL_ERR_BUS_UNAVAILABLE'; // a new producer fixes it: retry
  else if (root.retriable === false && root.name !== 'KafkaJSConnectionError' && root.name !== 'KafkaJSRequestTimeoutError' && root.name !== 'KafkaJSNumberOfRetriesExceeded') {
    code = 'VTL_ERR_INTERNAL';
  }
  return new VitalsError(code, detail, { cause: e });
}

/** Broker answers meaning it no longer knows this idempotent producer's state. */
const PRODUCER_STATE_LOST = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']);

function errorText(e: unknown): string {
  const root = rootCause(e);
  return `${root.type ?? root.name ?? 'Error'}: ${root.message ?? ''}`.slice(0, 300);
}

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/** Race a promise against a deadline; the loser's rejection is swallowed. */
async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  p.catch(() => undefined);
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(onTimeout()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function toRecord(topic: string, partition: number, m: KafkaMessage): BusRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key === null ? '' : m.key.toString('utf8'),
    value: m.value === null ? null : m.value.toString('utf8'),
    timestamp: Number(m.timestamp),
  };
}

const tp = (topic: string, partition: number): string => `${partition}:${topic}`;

/** Logger bridge: kafkajs' own lines, reduced to fields that cannot carry payloads. */
function logCreator(log: Logger | undefined) {
  return () =>
    ({ namespace, level, log: entry }: LogEntry): void => {
      if (!log) return;
      // Deliberate choice (bounded publish latency), documented in the ADR; not worth a warning per start.
      if (entry.message.startsWith('Limiting retries for the idempotent producer')) return;
      const fields: Record<string, unknown> = { component: 'kafkajs', namespace };
      for (const k of ['groupId', 'topic', 'broker', 'clientId', 'retryCount', 'retryTime'] as const) {
        if (entry[k] !== undefined) fields[k] = entry[k];
      }
      if (typeof entry.error === 'string') fields.error = entry.error.slice(0, 300);
      else if (entry.error instanceof Error) fields.error = `${entry.error.name}: ${entry.error.message}`.slice(0, 300);
      if (level === logLevel.ERROR && !isLeadershipMove(entry.error)) log.error(fields, entry.message);
      else if (level === logLevel.ERROR) log.warn(fields, `${entry.message} (leadership move; retried)`);
      else if (level === logLevel.WARN) log.warn(fields, entry.message);
      else log.debug(fields, entry.message);
    };
}

interface PendingPublish {
  topic: string;
  messages: { key: string; value: string | null; timestamp: string }[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Tracks where a reader is per partition and when it has caught up with the high
 * watermarks it was given. Offsets are compared as bigint (they are int64 on the wire).
 */
class Progress {
  readonly caughtUp: Promise<void>;
  private resolve!: () => void;
  private reject!: (e: unknown) => void;
  settled = false;
  /** Next offset to deliver, per partition. */
  readonly next = new Map<string, bigint>();
  private targets: Map<string, bigint> | null = null;

  constructor() {
    this.caughtUp = new Promise<void>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.caughtUp.catch(() => undefined);
  }

  setTargets(targets: Map<string, bigint>, starts: Map<string, bigint>): void {
    for (const [k, s] of starts) if ((this.next.get(k) ?? -1n) < s) this.next.set(k, s);
    this.targets = targets;
    this.check();
  }

  /** Partitions this reader no longer owns: neither a position nor a target to wait for. */
  forget(keys: readonly string[]): void {
    for (const k of keys) {
      this.next.delete(k);
      this.targets?.delete(k);
    }
    this.check();
  }

  advance(key: string, next: bigint): void {
    if ((this.next.get(key) ?? -1n) < next) this.next.set(key, next);
    this.check();
  }

  private check(): void {
    if (this.settled || !this.targets) return;
    for (const [k, target] of this.targets) if ((this.next.get(k) ?? -1n) < target) return;
    this.settled = true;
    this.resolve();
  }

  fail(e: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(e);
  }
}

/** One idempotent producer and its queue: one produce request in flight at a time. */
interface Lane {
  producer: Producer;
  pending: PendingPublish[];
  flushScheduled: boolean;
  inFlight: Promise<void> | null;
}

/** FNV-1a over the key's UTF-16 code units: cheap, and stable for a key within the process. */
export function laneOf(key: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % lanes;
}

/** Keys whose partition one producer remembers, per partition count; past it the memory starts over. */
const MAX_REMEMBERED_KEYS = 200_000;

/**
 * kafkajs' DefaultPartitioner (murmur2 of the key, as the Java client computes it, so a key's
 * records land on the partition other clients' producers put it on: the rules role's
 * co-partitioning depends on it), remembered per key and partition count. A keyed record's
 * partition depends on nothing else, and keys (patients) repeat every second: the hash and the
 * per-record partition list kafkajs builds are paid once per key instead of once per record.
 */
export const rememberingPartitioner: ICustomPartitioner = () => {
  const hash = Partitioners.DefaultPartitioner();
  const byCount = new Map<number, Map<string, number>>();
  return (args) => {
    const { message, partitionMetadata } = args;
    const key = message.key;
    if (typeof key !== 'string' || (message.partition !== undefined && message.partition !== null)) return hash(args);
    let known = byCount.get(partitionMetadata.length);
    if (!known) byCount.set(partitionMetadata.length, (known = new Map()));
    let p = known.get(key);
    if (p === undefined) {
      p = hash(args);
      if (known.size >= MAX_REMEMBERED_KEYS) known.clear();
      known.set(key, p);
    }
    return p;
  };
};

class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  private closed = false;
  private readonly lanes: Lane[];
  private readonly subs = new Set<KafkaSubscription>();
  /** Topics seen to exist; a publish to any other is checked first (kafkajs would retry ~30 s). */
  private readonly knownTopics = new Set<string>();
  readonly backoff: { initial: number; max: number };

  constructor(
    readonly kafka: InstanceType<typeof Kafka>,
    producers: readonly Producer[],
    readonly admin: Admin,
    readonly opts: KafkaBusOptions & { clientId: string; connectTimeoutMs: number },
    readonly log: Logger | undefined,
    /** Makes a replacement producer (new producer id) when the broker lost one's state. */
    private readonly makeProducer: () => Producer,
  ) {
    this.backoff = opts.retryBackoffMs ?? { initial: 100, max: 5000 };
    this.lanes = producers.map((producer) => ({ producer, pending: [], flushScheduled: false, inFlight: null }));
  }

  private assertOpen(): void {
    if (this.closed) throw new VitalsError('VTL_ERR_BUS_UNAVAILABLE', 'bus is closed');
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    this.assertOpen();
    try {
      const existing = new Set(await this.admin.listTopics());
      const byName = new Map<string, TopicSpec>();
      for (const s of specs) if (!existing.has(s.name)) byName.set(s.name, s);
      for (const s of specs) if (existing.has(s.name)) this.knownTopics.add(s.name);
      if (byName.size === 0) return;
      await this.admin.createTopics({
        // Leaders are awaited below: kafkajs's own wait gives up when the metadata request
        // answers UNKNOWN_TOPIC_OR_PARTITION, which a broker does for a moment after creating.
        waitForLeaders: false,
        timeout: 30_000,
        topics: [...byName.values()].map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          // -1: the broker's default.replication.factor (1 on a dev box, 3 in production).
          replicationFactor: -1,
          configEntries: [
            ...(s.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
            ...(s.retentionMs !== undefined ? [{ name: 'retention.ms', value: String(s.retentionMs) }] : []),
          ],
        })),
      });
      await this.awaitLeaders([...byName.keys()], Date.now() + 30_000);
      for (const name of byName.keys()) this.knownTopics.add(name);
    } catch (e) {
      throw mapKafkaError(e, 'ensureTopics');
    }
  }

  /**
   * Until every partition of `topics` has a leader. Past the deadline this fails as a bus that is not
   * ready (retriable: a start tries again), whatever the last metadata answer was.
   */
  private async awaitLeaders(topics: string[], deadline: number): Promise<void> {
    const waiting = retry(
      async () => {
        const { topics: meta } = await this.admin.fetchTopicMetadata({ topics });
        const leaderless = meta.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0)).map((t) => t.name);
        if (leaderless.length > 0) throw new VitalsError('VTL_ERR_BUS_UNAVAILABLE', `no leader yet for ${leaderless.join(', ')}`);
      },
      {
        // A topic the broker has just created may be unknown to its metadata cache for a moment.
        retriable: (e) => Date.now() < deadline && (isRetriable(e) || (e as KafkaishError).retriable === true || rootCause(e).type === 'UNKNOWN_TOPIC_OR_PARTITION'),
        delay: (attempt) => Math.min(1000, 50 * 2 ** attempt),
      },
    );
    await waiting.catch((e: unknown) => {
      if (Date.now() < deadline) throw e;
      throw new VitalsError('VTL_ERR_BUS_UNAVAILABLE', `ensureTopics: partitions without a leader after 30 s (${errorText(e)})`, { cause: e });
    });
  }

  publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    try {
      this.assertOpen();
      const now = Date.now();
      const messages: PendingPublish['messages'] = new Array(records.length);
      // Records of one batch mostly share their millisecond: its text is made once.
      let lastTs = NaN;
      let lastText = '';
      for (let i = 0; i < records.length; i++) {
        const r = records[i] as OutgoingRecord;
        if (typeof r.key !== 'string' || (r.value !== null && typeof r.value !== 'string')) {
          throw new VitalsError('VTL_ERR_BAD_REQUEST', `record ${i} for "${topic}": key must be a string and value a string or null`);
        }
        if (r.timestamp !== undefined && !Number.isFinite(r.timestamp)) {
          throw new VitalsError('VTL_ERR_BAD_REQUEST', `record ${i} for "${topic}": timestamp must be a finite number`);
        }
        const ts = Math.trunc(r.timestamp ?? now);
        if (ts !== lastTs) {
          lastTs = ts;
          lastText = String(ts);
        }
        messages[i] = { key: r.key, value: r.value, timestamp: lastText };
      }
      if (messages.length === 0) return Promise.resolve();
      const n = this.lanes.length;
      if (n === 1) return this.enqueue(this.lanes[0] as Lane, topic, messages);
      const byLane: Array<PendingPublish['messages'] | undefined> = new Array(n);
      for (const m of messages) (byLane[laneOf(m.key, n)] ??= []).push(m);
      const parts: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const ms = byLane[i];
        if (ms) parts.push(this.enqueue(this.lanes[i] as Lane, topic, ms));
      }
      // Resolves when the broker has every record; a failed lane fails the whole publish (the
      // caller resends all of it: at-least-once, duplicates dropped by id downstream).
      return parts.length === 1 ? (parts[0] as Promise<void>) : Promise.all(parts).then(() => undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private enqueue(lane: Lane, topic: string, messages: PendingPublish['messages']): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      lane.pending.push({ topic, messages, resolve, reject });
      this.scheduleFlush(lane);
    });
  }

  private scheduleFlush(lane: Lane): void {
    if (lane.flushScheduled || lane.inFlight) return;
    lane.flushScheduled = true;
    // setImmediate: every publish() made in this turn of the loop joins one sendBatch per lane.
    setImmediate(() => {
      lane.flushScheduled = false;
      lane.inFlight = this.flush(lane).finally(() => {
        lane.inFlight = null;
        // What arrived while the batch was in flight forms the next one (group commit).
        if (lane.pending.length > 0) this.scheduleFlush(lane);
      });
    });
  }

  /** Reject (fast, non-retriable) the publishes to topics that do not exist; keep the rest. */
  private async dropUnknownTopics(batch: PendingPublish[]): Promise<PendingPublish[]> {
    if (batch.every((p) => this.knownTopics.has(p.topic))) return batch;
    try {
      for (const t of await this.admin.listTopics()) this.knownTopics.add(t);
    } catch {
      return batch; // let sendBatch report the broker problem
    }
    return batch.filter((p) => {
      if (this.knownTopics.has(p.topic)) return true;
      p.reject(new VitalsError('VTL_ERR_NOT_FOUND', `unknown topic "${p.topic}" (call ensureTopics first)`));
      return false;
    });
  }

  private async flush(lane: Lane): Promise<void> {
    const batch = await this.dropUnknownTopics(lane.pending.splice(0, this.opts.maxCoalescedPublishes ?? 500));
    if (batch.length === 0) return;
    // Per topic, in call order: per-key order follows publish() order.
    const byTopic = new Map<string, PendingPublish['messages']>();
    for (const p of batch) {
      const list = byTopic.get(p.topic);
      if (list) list.push(...p.messages);
      else byTopic.set(p.topic, [...p.messages]);
    }
    try {
      await lane.producer.sendBatch({
        acks: -1,
        timeout: 30_000,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      for (const p of batch) p.resolve();
    } catch (e) {
      const err = mapKafkaError(e, 'publish');
      this.log?.warn({ error: errorText(e), code: err.code, publishes: batch.length }, 'kafka publish failed');
      for (const p of batch) p.reject(err);
      if (PRODUCER_STATE_LOST.has(rootCause(e).type ?? '')) await this.replaceProducer(lane);
    }
  }

  /**
   * A broker that crashed before flushing its producer-state snapshot answers every further
   * request of this idempotent producer with OUT_OF_ORDER_SEQUENCE_NUMBER, forever (kafkajs
   * keeps the producer id and sequence). A fresh producer gets a new id; the publishes that
   * failed are retried by their callers (at-least-once; consumers drop duplicates by id).
   */
  private async replaceProducer(lane: Lane): Promise<void> {
    const old = lane.producer;
    this.log?.warn('kafka producer state lost on the broker; starting a new producer');
    await withTimeout(old.disconnect(), 5000, () => new Error('producer disconnect timed out')).catch(() => undefined);
    const fresh = this.makeProducer();
    try {
      await withTimeout(fresh.connect(), this.opts.connectTimeoutMs, () => new Error('producer connect timed out'));
      lane.producer = fresh;
    } catch (e) {
      // Keep the new one anyway: kafkajs connects lazily on the next send.
      lane.producer = fresh;
      this.log?.warn({ error: errorText(e) }, 'new kafka producer did not connect yet');
    }
  }

  async consume(opts: ConsumeOptions): Promise<Subscription> {
    this.assertOpen();
    const sub = new KafkaSubscription(this, {
      groupId: opts.groupId,
      topics: opts.topics,
      handler: opts.handler,
      fromBeginning: opts.fromBeginning !== false,
      commit: true,
      batching: opts.batching,
      partitioned: opts.partitioned,
    });
    await this.startSub(sub);
    return sub;
  }

  /**
   * Start offsets for a chosen start, clamped to the log, and the high watermarks, per partition of
   * each topic (only `partitions` when given): a tail's positions, and a partition owner's gained ones.
   */
  async positionsFor(topics: readonly string[], from: TailStart, partitions?: ReadonlySet<number>): Promise<{ starts: Map<string, bigint>; highs: Map<string, bigint> }> {
    const starts = new Map<string, bigint>();
    const highs = new Map<string, bigint>();
    for (const topic of topics) {
      const offsets = await this.admin.fetchTopicOffsets(topic);
      const byTs = typeof from === 'object' ? await this.admin.fetchTopicOffsetsByTimestamp(topic, from.timestamp) : null;
      for (const o of offsets) {
        if (partitions && !partitions.has(o.partition)) continue;
        const low = BigInt(o.low);
        const high = BigInt(o.high);
        let start = from === 'earliest' ? low : high;
        const t = byTs?.find((x) => x.partition === o.partition);
        if (t) start = BigInt(t.offset);
        starts.set(tp(topic, o.partition), start < low ? low : start);
        highs.set(tp(topic, o.partition), high);
      }
    }
    return { starts, highs };
  }

  /** Fix a tail's start and target offsets per partition before its consumer exists. */
  private async readTailPositions(opts: TailOptions): Promise<{ starts: Map<string, bigint>; highs: Map<string, bigint> }> {
    const existing = new Set(await this.admin.listTopics());
    const missing = opts.topics.filter((t) => !existing.has(t));
    if (missing.length > 0) throw new VitalsError('VTL_ERR_NOT_FOUND', `unknown topic "${missing.join('", "')}" (call ensureTopics first)`);
    return this.positionsFor(opts.topics, opts.from);
  }

  async tail(opts: TailOptions): Promise<Subscription> {
    this.assertOpen();
    // Positions and targets are fixed before the consumer exists: "latest" means latest now.
    let positions: { starts: Map<string, bigint>; highs: Map<string, bigint> };
    // Leadership of a topic created a moment ago may not have reached every broker's
    // metadata yet (NOT_LEADER_FOR_PARTITION): retry retriable errors for a few seconds.
    for (let attempt = 0; ; attempt++) {
      try {
        positions = await this.readTailPositions(opts);
        break;
      } catch (e) {
        const mapped = e instanceof VitalsError ? e : mapKafkaError(e, 'tail');
        if (!mapped.retriable || attempt >= 40) throw mapped;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const { starts, highs: targets } = positions;
    const sub = new KafkaSubscription(this, {
      groupId: `${this.opts.clientId}.tail.${randomUUID()}`,
      topics: opts.topics,
      handler: opts.handler,
      fromBeginning: true,
      commit: false,
    });
    sub.progress.setTargets(targets, starts);
    await this.startSub(sub);
    for (const [k, start] of starts) {
      const [p, ...rest] = k.split(':');
      try {
        sub.consumer.seek({ topic: rest.join(':'), partition: Number(p), offset: start.toString() });
      } catch (e) {
        // The consumer crashed and is restarting (a broker restart): kafkajs then has no group to seek in.
        // Nothing is lost: eachBatch drops what lies before the tail's position, so only the skip is slower.
        this.log?.warn({ topic: rest.join(':'), partition: Number(p), error: errorText(e) }, 'kafka: tail seek deferred to filtering');
      }
    }
    return sub;
  }

  private async startSub(sub: KafkaSubscription): Promise<void> {
    this.subs.add(sub);
    try {
      await sub.start();
    } catch (e) {
      this.subs.delete(sub);
      await sub.stop().catch(() => undefined);
      throw mapKafkaError(e, `subscribe (${sub.isTail ? 'tail' : 'consume'})`);
    }
  }

  removeSub(sub: KafkaSubscription): void {
    this.subs.delete(sub);
  }

  /** Lag of the watched groups and this process's own: committed offsets against end offsets, per topic (admin API). */
  async lag(): Promise<ConsumerLag[]> {
    this.assertOpen();
    const groups = new Map<string, Set<string>>();
    for (const w of this.opts.watchGroups ?? []) groups.set(w.groupId, new Set(w.topics));
    for (const sub of this.subs) {
      if (sub.isTail) continue;
      const set = groups.get(sub.groupId) ?? new Set<string>();
      for (const t of sub.topics) set.add(t);
      groups.set(sub.groupId, set);
    }
    const topics = new Set<string>();
    for (const ts of groups.values()) for (const t of ts) topics.add(t);
    const ends = new Map<string, Array<{ partition: number; high: bigint; low: bigint }>>();
    try {
      await withTimeout(
        Promise.all(
          [...topics].map(async (t) => {
            const offs = await this.admin.fetchTopicOffsets(t);
            ends.set(t, offs.map((o) => ({ partition: o.partition, high: BigInt(o.high), low: BigInt(o.low) })));
          }),
        ),
        5000,
        () => new Error('fetchTopicOffsets timed out'),
      );
      const out: ConsumerLag[] = [];
      for (const [groupId, ts] of groups) {
        const committed = await withTimeout(this.admin.fetchOffsets({ groupId, topics: [...ts] }), 5000, () => new Error('fetchOffsets timed out'));
        // A group the broker does not know (no sink deployed yet) is reported, but holds nothing back.
        let exists = committed.some((c) => c.partitions.some((p) => p.offset !== '-1'));
        if (!exists) {
          const d = await withTimeout(this.admin.describeGroups([groupId]), 5000, () => new Error('describeGroups timed out'));
          exists = d.groups.some((g) => g.state !== 'Dead' && g.members.length > 0);
        }
        for (const c of committed) {
          let lag = 0n;
          const partitions: Array<{ partition: number; lag: number }> = [];
          for (const e of ends.get(c.topic) ?? []) {
            const at = c.partitions.find((p) => p.partition === e.partition)?.offset;
            // No commit on this partition yet ("-1"): the group starts at the log start, so everything there is lag.
            const pos = at === undefined || at === '-1' ? e.low : BigInt(at);
            const behind = e.high > pos ? e.high - pos : 0n;
            lag += behind;
            partitions.push({ partition: e.partition, lag: Number(behind) });
          }
          out.push({ consumer: groupId, topic: c.topic, lag: Number(lag), required: exists, partitions });
        }
      }
      return out;
    } catch (e) {
      throw mapKafkaError(e, 'lag');
    }
  }

  async healthy(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await withTimeout(this.admin.describeCluster(), 2000, () => new Error('describeCluster timed out'));
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const bound = (p: Promise<unknown>, ms: number, what: string): Promise<unknown> =>
      withTimeout(p, ms, () => new Error(`${what} timed out`)).catch((e: unknown) => this.log?.warn({ error: errorText(e) }, `kafka close: ${what}`));
    // Consumers first: they may still be committing; then whatever was accepted for publishing.
    await Promise.all([...this.subs].map((s) => bound(s.stop(), 20_000, 'consumer disconnect')));
    await bound(
      (async () => {
        for (const lane of this.lanes) {
          while (lane.inFlight || lane.pending.length > 0 || lane.flushScheduled) {
            if (lane.inFlight) await lane.inFlight;
            else await sleep(5);
          }
        }
      })(),
      30_000,
      'publish drain',
    );
    await Promise.all([...this.lanes.map((l) => bound(l.producer.disconnect(), 10_000, 'producer disconnect')), bound(this.admin.disconnect(), 10_000, 'admin disconnect')]);
  }
}

interface SubOptions {
  groupId: string;
  topics: string[];
  handler: BatchHandler;
  fromBeginning: boolean;
  /** Group consumers commit; tails never do. */
  commit: boolean;
  batching?: ConsumeOptions['batching'];
  partitioned?: PartitionOwner | undefined;
}

/** kafkajs assigner around {@link assignCoPartitions}; members declare what they own in their join metadata. */
function coPartitionAssigner(owned: () => Iterable<number>): PartitionAssigner {
  return ({ cluster }) => ({
    name: 'VitalsCoPartition',
    version: 0,
    async assign({ members, topics }) {
      const counts = new Map(topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).length]));
      const count = Math.max(0, ...counts.values());
      const plan = assignCoPartitions(
        members.map((m) => ({ memberId: m.memberId, owned: decodeOwned(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData) })),
        count,
      );
      return [...plan].map(([memberId, parts]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          // A topic with fewer partitions than the others simply has no partition i for high i.
          assignment: Object.fromEntries(topics.map((t) => [t, parts.filter((p) => p < (counts.get(t) ?? 0))])),
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return { name: 'VitalsCoPartition', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: encodeOwned(owned()) }) };
    },
  });
}

class KafkaSubscription implements Subscription {
  readonly consumer: Consumer;
  readonly progress = new Progress();
  private stopping: Promise<void> | null = null;
  private stopped = false;
  /** Partition-owning consumers: the partitions owned now, and the hand-over in progress (eachBatch waits for it). */
  private owned = new Set<number>();
  private handover: Promise<void> = Promise.resolve();
  private handoverDone = true;
  private joined = false;

  constructor(
    private readonly bus: KafkaBus,
    private readonly o: SubOptions,
  ) {
    this.consumer = bus.kafka.consumer({
      groupId: o.groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 30_000,
      allowAutoTopicCreation: false,
      // Bounded long-poll: stop() waits for an in-flight fetch.
      maxWaitTimeInMs: o.batching?.maxWaitMs ?? 500,
      minBytes: o.batching?.minBytes ?? 1,
      retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 8 },
      ...(o.partitioned ? { partitionAssigners: [coPartitionAssigner(() => this.owned)] } : {}),
    });
    const { CRASH, GROUP_JOIN } = this.consumer.events;
    this.consumer.on(CRASH, (ev) => {
      const { error, restart } = ev.payload;
      bus.log?.error({ groupId: o.groupId, tail: this.isTail, restart, error: errorText(error) }, 'kafka consumer crashed');
      if (!restart && !this.stopped) this.progress.fail(mapKafkaError(error, 'consumer crashed'));
    });
    const owner = o.partitioned;
    if (owner) {
      // Synchronous listener: the hand-over is in place before kafkajs fetches for the new assignment.
      this.consumer.on(GROUP_JOIN, (ev) => {
        const assignment = ev.payload.memberAssignment;
        this.handoverDone = false;
        const run = this.handover.then(() => this.handOver(owner, assignment));
        this.handover = run;
        void run.finally(() => {
          if (this.handover === run) this.handoverDone = true;
        });
      });
      this.consumer.on(this.consumer.events.REBALANCING, () => owner.onRebalance?.());
    } else if (o.commit) {
      this.consumer.on(GROUP_JOIN, (ev) => void this.onJoin(ev.payload.memberAssignment));
    }
  }

  /**
   * Apply a new assignment: the owner forgets lost partitions, rebuilds gained ones and chooses
   * where they start; gained partitions are sought there. Retried until it succeeds or the member
   * stops: records of a partition are never handed over before its owner has rebuilt it.
   */
  private async handOver(owner: PartitionOwner, assignment: Record<string, number[]>): Promise<void> {
    const now = new Set(Object.values(assignment).flat());
    const lost = [...this.owned].filter((p) => !now.has(p)).sort((a, b) => a - b);
    const gained = [...now].filter((p) => !this.owned.has(p)).sort((a, b) => a - b);
    this.owned = now;
    this.progress.forget(lost.flatMap((p) => this.o.topics.map((t) => tp(t, p))));
    const first = !this.joined;
    this.joined = true;
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        if (lost.length > 0) await owner.onRevoked(lost);
        lost.length = 0;
        const from = await owner.onAssigned(gained);
        const { starts, highs } = await this.bus.positionsFor(this.o.topics, from, new Set(gained));
        for (const [k, start] of starts) {
          const [p, ...rest] = k.split(':');
          this.progress.next.set(k, start);
          this.consumer.seek({ topic: rest.join(':'), partition: Number(p), offset: start.toString() });
        }
        if (first) this.progress.setTargets(highs, starts);
        this.bus.log?.info({ groupId: this.o.groupId, owned: [...now].sort((a, b) => a - b), gained, lost }, 'kafka: partitions handed over');
        return;
      } catch (e) {
        const delay = Math.min(5_000, 200 * 2 ** Math.min(attempt - 1, 5));
        this.bus.log?.warn({ groupId: this.o.groupId, attempt, retryInMs: delay, error: errorText(e) }, 'kafka: partition hand-over failed; retrying');
        await sleep(delay);
      }
    }
  }

  /** Wait for a hand-over in progress, heartbeating; false if the member stopped or is rebalancing again. */
  private async awaitHandover(heartbeat: () => Promise<void>, isRunning: () => boolean): Promise<boolean> {
    while (!this.handoverDone) {
      if (!isRunning() || this.stopped) return false;
      await Promise.race([this.handover, sleep(1_000)]);
      if (this.handoverDone) break;
      try {
        await heartbeat();
      } catch {
        return false; // rebalancing: the batch stays unresolved and is fetched again after the rejoin
      }
    }
    return !this.stopped;
  }

  get isTail(): boolean {
    return !this.o.commit;
  }

  get groupId(): string {
    return this.o.groupId;
  }

  get topics(): readonly string[] {
    return this.o.topics;
  }

  get caughtUp(): Promise<void> {
    return this.progress.caughtUp;
  }

  async start(): Promise<void> {
    const deadline = Math.max(this.bus.opts.connectTimeoutMs, 30_000);
    const timeout = (): VitalsError => new VitalsError('VTL_ERR_BUS_UNAVAILABLE', `consumer did not join within ${deadline} ms`);
    await withTimeout(
      (async () => {
        await this.consumer.connect();
        await this.consumer.subscribe({ topics: this.o.topics, fromBeginning: this.o.fromBeginning });
        // kafkajs 2.2.4: run() resolves after the first join (GROUP_JOIN fired already).
        await this.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: this.o.batching?.concurrency ?? 1,
          eachBatch: (payload) => this.eachBatch(payload),
        });
      })(),
      deadline,
      timeout,
    );
  }

  /** caughtUp for a group: the high watermarks of the assigned partitions, read at join. */
  private async onJoin(assignment: Record<string, number[]>): Promise<void> {
    if (this.progress.settled) return;
    for (let attempt = 1; attempt <= 5 && !this.stopped; attempt++) {
      try {
        const targets = new Map<string, bigint>();
        const starts = new Map<string, bigint>();
        for (const [topic, partitions] of Object.entries(assignment)) {
          const offsets = await this.bus.admin.fetchTopicOffsets(topic);
          const committed = await this.bus.admin.fetchOffsets({ groupId: this.o.groupId, topics: [topic] });
          const cParts = committed.find((c) => c.topic === topic)?.partitions ?? [];
          for (const p of partitions) {
            const o = offsets.find((x) => x.partition === p);
            if (!o) continue;
            const low = BigInt(o.low);
            const high = BigInt(o.high);
            const c = BigInt(cParts.find((x) => x.partition === p)?.offset ?? '-1');
            // Mirror kafkajs' reset: no commit, or a commit retention already deleted, falls back to the start policy.
            const start = c >= low ? c : this.o.fromBeginning ? low : high;
            starts.set(tp(topic, p), start);
            targets.set(tp(topic, p), high);
          }
        }
        this.progress.setTargets(targets, starts);
        return;
      } catch (e) {
        this.bus.log?.warn({ groupId: this.o.groupId, attempt, error: errorText(e) }, 'kafka: could not read offsets for caughtUp; retrying');
        await sleep(200 * attempt);
      }
    }
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const key = tp(batch.topic, batch.partition);
    const last = BigInt(batch.lastOffset());
    let messages = batch.messages;
    if (this.o.partitioned) {
      if (!(await this.awaitHandover(heartbeat, isRunning))) return;
      // Fetched for a partition since lost, or before its seek to the owner's start: drop it unresolved.
      if (!this.owned.has(batch.partition) || isStale()) return;
      const from = this.progress.next.get(key);
      if (from === undefined) return;
      if (messages.length > 0 && BigInt((messages[0] as KafkaMessage).offset) < from) messages = messages.filter((m) => BigInt(m.offset) >= from);
    } else if (this.isTail) {
      // A tail drops what lies before its position: a fetch that raced the seek, or a restart
      // after a crash (which forgets the seek and would replay from the beginning).
      const from = this.progress.next.get(key) ?? 0n;
      if (messages.length > 0 && BigInt((messages[0] as KafkaMessage).offset) < from) {
        messages = messages.filter((m) => BigInt(m.offset) >= from);
      }
    }
    if (messages.length > 0) {
      const records = messages.map((m) => toRecord(batch.topic, batch.partition, m));
      if (!(await this.deliver(batch, records, heartbeat, isRunning, isStale))) return; // unresolved: redelivered
    }
    resolveOffset(batch.lastOffset());
    const next = last + 1n;
    if (this.o.commit) {
      await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next.toString() }] }] });
    }
    this.progress.advance(key, next);
    await heartbeat();
  }

  /** Hand the batch to the handler until it succeeds; false if the member stopped or lost the partition. */
  private async deliver(batch: Batch, records: BusRecord[], heartbeat: () => Promise<void>, isRunning: () => boolean, isStale: () => boolean): Promise<boolean> {
    const { initial, max } = this.bus.backoff;
    for (let attempt = 1; ; attempt++) {
      if (!isRunning() || isStale() || this.stopped) return false;
      try {
        await this.o.handler(records);
        return true;
      } catch (e) {
        const delay = Math.min(max, initial * 2 ** Math.min(attempt - 1, 20));
        // Offsets and counts only: records carry patient data.
        this.bus.log?.warn(
          {
            topic: batch.topic,
            partition: batch.partition,
            groupId: this.isTail ? null : this.o.groupId,
            firstOffset: records[0]?.offset,
            lastOffset: records[records.length - 1]?.offset,
            count: records.length,
            attempt,
            retryInMs: delay,
            error: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : typeof e,
          },
          'bus handler failed; retrying the batch',
        );
        // Sleep in slices, heartbeating, so a long backoff neither loses the group nor delays stop().
        const until = Date.now() + delay;
        while (Date.now() < until) {
          if (!isRunning() || this.stopped) return false;
          await sleep(Math.min(250, until - Date.now()));
          try {
            await heartbeat();
          } catch {
            return false; // rebalancing: the runner rejoins; the batch was not resolved
          }
        }
      }
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      try {
        // Bounded: a broker that went away must not hang shutdown (kafkajs retries the leave).
        await withTimeout(this.consumer.disconnect(), 20_000, () => new Error('consumer disconnect timed out'));
      } catch (e) {
        this.bus.log?.warn({ groupId: this.isTail ? null : this.o.groupId, error: errorText(e) }, 'kafka consumer did not disconnect cleanly');
      } finally {
        this.progress.fail(new VitalsError('VTL_ERR_BUS_UNAVAILABLE', 'subscription stopped before it caught up'));
        this.bus.removeSub(this);
        if (this.isTail) {
          // The ephemeral group committed nothing; remove it so it does not linger in listings.
          await withTimeout(this.bus.admin.deleteGroups([this.o.groupId]), 2000, () => new Error('deleteGroups timed out')).catch(() => undefined);
        }
      }
    })();
    return this.stopping;
  }
}

/**
 * Connect to Kafka. Fails with a retriable VTL_ERR_BUS_UNAVAILABLE within `connectTimeoutMs`
 * when no broker answers; retrying with backoff is the caller's business.
 */
export async function createKafkaBus(opts: KafkaBusOptions): Promise<Bus> {
  const clientId = opts.clientId ?? 'vitalstream';
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const kafka = new Kafka({
    clientId,
    brokers: opts.brokers,
    connectionTimeout: Math.min(3_000, connectTimeoutMs),
    requestTimeout: 30_000,
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 8 },
    logLevel: opts.log?.isLevelEnabled('debug') ? logLevel.INFO : logLevel.WARN,
    logCreator: logCreator(opts.log),
  });
  const makeProducer = (): Producer => kafka.producer({
    idempotent: true,
    // kafkajs' idempotent producer keeps order across retries only with one request in flight.
    maxInFlightRequests: 1,
    createPartitioner: rememberingPartitioner,
    allowAutoTopicCreation: false,
    // Bounded (kafkajs would default to infinite for idempotence): publish must fail within
    // ~30 s so the caller can withhold the device's PUBACK and let it resend.
    retry: { initialRetryTime: 100, maxRetryTime: 5_000, retries: 10 },
  });
  const lanes = Math.max(1, Math.floor(opts.producers ?? 1));
  const producers = Array.from({ length: lanes }, makeProducer);
  const admin = kafka.admin();
  try {
    await withTimeout(
      Promise.all([admin.connect(), ...producers.map((p) => p.connect())]),
      connectTimeoutMs,
      () => new VitalsError('VTL_ERR_BUS_UNAVAILABLE', `no Kafka broker answered within ${connectTimeoutMs} ms (${opts.brokers.join(',')})`),
    );
  } catch (e) {
    // Stop kafkajs' own connect retries, or they outlive the failed attempt. Bounded: against a
    // peer that accepted the socket but never answers, disconnect waits out the request timeout.
    await withTimeout(Promise.allSettled([...producers.map((p) => p.disconnect()), admin.disconnect()]), 1000, () => new Error('disconnect timed out')).catch(() => undefined);
    throw mapKafkaError(e, 'connect');
  }
  return new KafkaBus(kafka, producers, admin, { ...opts, clientId, connectTimeoutMs }, opts.log, makeProducer);
}

/** What {@link describeKafkaTopics} reports per topic. */
export interface KafkaTopicDescription {
  name: string;
  partitions: number;
  /** Non-default topic configs (e.g. cleanup.policy, retention.ms). */
  configs: Record<string, string>;
}

/**
 * Read topics' partition counts and configs from the cluster (diagnostics and tests), so
 * that no other file needs kafkajs to check what ensureTopics created.
 */
export async function describeKafkaTopics(brokers: string[], names: string[]): Promise<KafkaTopicDescription[]> {
  const admin = new Kafka({ brokers, clientId: 'vitalstream-describe', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: names });
    const cfg = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name })),
    });
    return names.map((name) => {
      const res = cfg.resources.find((r) => r.resourceName === name);
      const configs: Record<string, string> = {};
      for (const e of res?.configEntries ?? []) if (!e.isDefault && e.configValue !== null) configs[e.configName] = e.configValue;
      return { name, partitions: meta.topics.find((t) => t.name === name)?.partitions.length ?? 0, configs };
    });
  } catch (e) {
    throw mapKafkaError(e, 'describeTopics');
  } finally {
    await admin.disconnect();
  }
}
