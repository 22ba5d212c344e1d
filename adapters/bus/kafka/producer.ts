/**
 * The producer side: idempotent producers (lanes), a record's lane a hash of its key, publish()
 * calls of one turn of the event loop joined into one sendBatch per lane (group commit; kafkajs
 * has no linger), and a producer replaced when the broker lost its state (ADR 0020).
 */
import type { Admin, ICustomPartitioner, PartitionMetadata, Producer } from 'kafkajs';
import { VitalsError } from '../../../core/errors.js';
import type { OutgoingRecord } from '../../../core/ports.js';
import { GroupCommit } from '../../../platform/group-commit.js';
import { BUNDLE_HEADER, BUNDLE_VERSION, type BundleEntry, encodeBundle, splitRuns } from './bundle.js';
import type { Logger } from '../../../platform/log.js';
import { type KafkaClient, Partitioners, withTimeout } from './client.js';
import { errorText, mapKafkaError, PRODUCER_STATE_LOST, rootCause } from './errors.js';

/**
 * A record as kafkajs takes it: key and value already bytes, so kafkajs' per-record encoder
 * copies them instead of measuring and encoding each string twice (`Buffer.byteLength` in its
 * size pass and again in its write pass).
 */
interface PlainMessage {
  key: Buffer;
  value: Buffer | null;
  timestamp: string;
  partition?: number;
  headers?: Record<string, string>;
}

/** A record of a bundled topic, held until its partition's records are bundled at flush. */
interface Entry {
  key: Buffer;
  value: string | null;
  timestamp: number;
}

/** One publish() call's records for one lane: kafkajs messages, or entries of a bundled topic. */
type PendingPublish = { topic: string; bundled: false; messages: PlainMessage[] } | { topic: string; bundled: true; entries: Entry[] };

const BUNDLE_HEADERS: Record<string, string> = { [BUNDLE_HEADER]: BUNDLE_VERSION };

/** How long a bundled topic's partition count is trusted before it is read again. */
const PARTITION_COUNT_TTL_MS = 60_000;

/** Keys whose bytes are kept; past it the memory starts over (a bound, not an LRU: patients repeat every second). */
const MAX_KEPT_KEYS = 200_000;

/**
 * The bytes of each key, made once: keys (patients) repeat every second. The same Buffer object
 * comes back for the same key, which {@link rememberingPartitioner} relies on to remember its
 * partition by identity. Nothing writes into these buffers (kafkajs copies them into its request).
 */
export class KeyBytes {
  private readonly kept = new Map<string, Buffer>();
  of(key: string): Buffer {
    let b = this.kept.get(key);
    if (b === undefined) {
      if (this.kept.size >= MAX_KEPT_KEYS) this.kept.clear();
      b = Buffer.from(key, 'utf8');
      this.kept.set(key, b);
    }
    return b;
  }
}

/** One idempotent producer and its publishes joined by group commit: one produce request in flight at a time. */
interface Lane {
  producer: Producer;
  commits: GroupCommit<PendingPublish>;
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
 * A string key is remembered by value, a Buffer key by identity ({@link KeyBytes} hands out one
 * Buffer per key; another Buffer with the same bytes is hashed again, to the same partition).
 */
export const rememberingPartitioner: ICustomPartitioner = () => {
  const hash = Partitioners.DefaultPartitioner();
  const byCount = new Map<number, Map<string | Buffer, number>>();
  return (args) => {
    const { message, partitionMetadata } = args;
    const key = message.key;
    if ((typeof key !== 'string' && !Buffer.isBuffer(key)) || (message.partition !== undefined && message.partition !== null)) return hash(args);
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

/** What the lanes need from their bus. */
export interface ProducerHost {
  readonly admin: Admin;
  readonly log: Logger | undefined;
  readonly opts: { maxCoalescedPublishes?: number; connectTimeoutMs: number };
  /** Topics seen to exist; a publish to any other is checked first (kafkajs would retry ~30 s). */
  readonly knownTopics: Set<string>;
  /** Topics whose records travel in bundles (TopicSpec.bundled, from ensureTopics). */
  readonly bundledTopics: ReadonlySet<string>;
}

/** The bus's producers: one {@link Lane} each, a publish split across them by key. */
export class ProducerLanes {
  private readonly lanes: Lane[];
  private readonly keyBytes = new KeyBytes();
  /** Places a bundled topic's records on partitions as kafkajs would (see {@link bundles}). */
  private readonly placer = rememberingPartitioner();
  private readonly metaByCount = new Map<number, PartitionMetadata[]>();
  private readonly partitionCounts = new Map<string, { n: number; at: number }>();
  /** Per bundled topic, records per Kafka record in recent flushes (a moving average, ≥ 1). */
  private readonly bundling = new Map<string, number>();

  constructor(
    private readonly host: ProducerHost,
    producers: readonly Producer[],
    /** Makes a replacement producer (new producer id) when the broker lost one's state. */
    private readonly makeProducer: () => Producer,
  ) {
    this.lanes = producers.map((producer) => {
      const lane: Lane = {
        producer,
        // setImmediate: every publish() made in this turn of the loop joins one sendBatch per
        // lane; what arrives while it is in flight forms the next one.
        commits: new GroupCommit<PendingPublish>({
          bounds: [{ size: () => 1, max: host.opts.maxCoalescedPublishes ?? 500 }],
          write: (batch, fail) => this.flush(lane, batch, fail),
        }),
      };
      return lane;
    });
  }

  private get log(): Logger | undefined {
    return this.host.log;
  }

  /** The caller has checked that the bus is open. */
  publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    try {
      const now = Date.now();
      const bundled = this.host.bundledTopics.has(topic);
      const plain: PlainMessage[] | null = bundled ? null : new Array<PlainMessage>(records.length);
      const entries: Entry[] | null = bundled ? new Array<Entry>(records.length) : null;
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
        if (entries !== null) {
          entries[i] = { key: this.keyBytes.of(r.key), value: r.value, timestamp: ts };
          continue;
        }
        if (ts !== lastTs) {
          lastTs = ts;
          lastText = String(ts);
        }
        (plain as PlainMessage[])[i] = { key: this.keyBytes.of(r.key), value: r.value === null ? null : Buffer.from(r.value, 'utf8'), timestamp: lastText };
      }
      if (records.length === 0) return Promise.resolve();
      const n = this.lanes.length;
      const pending = (idx: number[] | null): PendingPublish => {
        if (entries !== null) return { topic, bundled: true, entries: idx === null ? entries : idx.map((i) => entries[i] as Entry) };
        const ms = plain as PlainMessage[];
        return { topic, bundled: false, messages: idx === null ? ms : idx.map((i) => ms[i] as PlainMessage) };
      };
      if (n === 1) return (this.lanes[0] as Lane).commits.add(pending(null));
      const byLane: Array<number[] | undefined> = new Array(n);
      for (let i = 0; i < records.length; i++) (byLane[laneOf((records[i] as OutgoingRecord).key, n)] ??= []).push(i);
      const parts: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const idx = byLane[i];
        if (idx) parts.push((this.lanes[i] as Lane).commits.add(pending(idx)));
      }
      // Resolves when the broker has every record; a failed lane fails the whole publish (the
      // caller resends all of it: at-least-once, duplicates dropped by id downstream).
      return parts.length === 1 ? (parts[0] as Promise<void>) : Promise.all(parts).then(() => undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A bundled topic's partition count (read from the broker, kept a minute); null if it cannot be read now. */
  private async partitionCount(topic: string): Promise<number | null> {
    const known = this.partitionCounts.get(topic);
    if (known !== undefined && Date.now() - known.at < PARTITION_COUNT_TTL_MS) return known.n;
    try {
      const md = await this.host.admin.fetchTopicMetadata({ topics: [topic] });
      const n = md.topics[0]?.partitions.length ?? 0;
      if (n <= 0) return null;
      this.partitionCounts.set(topic, { n, at: Date.now() });
      return n;
    } catch {
      return null; // sent as plain records: kafkajs places them itself
    }
  }

  /**
   * A bundled topic's records as kafkajs messages: per partition (murmur2 of the key, the place
   * kafkajs would give each record), cut into runs by splitRuns (bundle.ts), each run of two or more one
   * bundle, in publish() order. A run of one, a tombstone or an over-long key goes as a plain
   * record, so a quiet partition's records look exactly as they did before bundles.
   */
  private bundles(topic: string, entries: readonly Entry[], count: number): PlainMessage[] {
    let meta = this.metaByCount.get(count);
    if (meta === undefined) {
      // The partitioner reads only the count (murmur2 of the key modulo it).
      meta = Array.from({ length: count }, (_, i) => ({ partitionId: i, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 }));
      this.metaByCount.set(count, meta);
    }
    const partitionMetadata = meta;
    const byPartition = new Map<number, Entry[]>();
    for (const e of entries) {
      const p = this.placer({ topic, partitionMetadata, message: { key: e.key, value: null } });
      const list = byPartition.get(p);
      if (list) list.push(e);
      else byPartition.set(p, [e]);
    }
    const out: PlainMessage[] = [];
    const plain = (e: Entry, partition: number): PlainMessage => ({ key: e.key, value: e.value === null ? null : Buffer.from(e.value, 'utf8'), timestamp: String(e.timestamp), partition });
    for (const [partition, list] of byPartition) {
      for (const run of splitRuns(list)) {
        if (!run.bundle) {
          out.push(plain(run.entry, partition));
          continue;
        }
        let maxTs = 0;
        for (const e of run.entries) if (e.timestamp > maxTs) maxTs = e.timestamp;
        // The bundle's time is its newest record's: a tail from a time never skips a record at or after it.
        out.push({ key: (run.entries[0] as Entry).key, value: encodeBundle(run.entries as BundleEntry[]), timestamp: String(maxTs), partition, headers: BUNDLE_HEADERS });
      }
    }
    return out;
  }

  /** The kafkajs messages of one topic's publishes in a flush, in call order. */
  private async messagesOf(topic: string, publishes: readonly PendingPublish[]): Promise<PlainMessage[]> {
    const first = publishes[0] as PendingPublish;
    if (!first.bundled) {
      if (publishes.length === 1) return first.messages;
      const out: PlainMessage[] = [];
      for (const p of publishes) if (!p.bundled) for (const m of p.messages) out.push(m);
      return out;
    }
    const entries: Entry[] = [];
    for (const p of publishes) if (p.bundled) for (const e of p.entries) entries.push(e);
    const count = await this.partitionCount(topic);
    if (count !== null) {
      const out = this.bundles(topic, entries, count);
      const ratio = entries.length / Math.max(1, out.length);
      const was = this.bundling.get(topic);
      this.bundling.set(topic, was === undefined ? ratio : 0.9 * was + 0.1 * ratio);
      return out;
    }
    return entries.map((e) => ({ key: e.key, value: e.value === null ? null : Buffer.from(e.value, 'utf8'), timestamp: String(e.timestamp) }));
  }

  /** Fail (fast, non-retriable) the publishes to topics that do not exist; keep the rest. */
  private async unknownTopics(batch: PendingPublish[], fail: (index: number, e: unknown) => void): Promise<Set<number> | null> {
    if (batch.every((p) => this.host.knownTopics.has(p.topic))) return null;
    try {
      for (const t of await this.host.admin.listTopics()) this.host.knownTopics.add(t);
    } catch {
      return null; // let sendBatch report the broker problem
    }
    const dropped = new Set<number>();
    batch.forEach((p, i) => {
      if (this.host.knownTopics.has(p.topic)) return;
      dropped.add(i);
      fail(i, new VitalsError('VTL_ERR_NOT_FOUND', `unknown topic "${p.topic}" (call ensureTopics first)`));
    });
    return dropped;
  }

  private async flush(lane: Lane, batch: PendingPublish[], fail: (index: number, e: unknown) => void): Promise<void> {
    const dropped = await this.unknownTopics(batch, fail);
    if (dropped !== null && dropped.size === batch.length) return;
    // Per topic, in call order: per-key order follows publish() order.
    const byTopic = new Map<string, PendingPublish[]>();
    for (let i = 0; i < batch.length; i++) {
      if (dropped?.has(i)) continue;
      const p = batch[i] as PendingPublish;
      const list = byTopic.get(p.topic);
      if (list) list.push(p);
      else byTopic.set(p.topic, [p]);
    }
    try {
      const topicMessages: { topic: string; messages: PlainMessage[] }[] = [];
      for (const [topic, publishes] of byTopic) topicMessages.push({ topic, messages: await this.messagesOf(topic, publishes) });
      await lane.producer.sendBatch({ acks: -1, timeout: 30_000, topicMessages });
    } catch (e) {
      const err = mapKafkaError(e, 'publish');
      this.log?.warn({ error: errorText(e), code: err.code, publishes: batch.length - (dropped?.size ?? 0) }, 'kafka publish failed');
      // Failed before the producer is replaced (the callers resend); the lane's next request
      // waits for the replacement.
      for (let i = 0; i < batch.length; i++) fail(i, err);
      this.partitionCounts.clear(); // read again: a changed partition count is one cause
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
      await withTimeout(fresh.connect(), this.host.opts.connectTimeoutMs, () => new Error('producer connect timed out'));
      lane.producer = fresh;
    } catch (e) {
      // Keep the new one anyway: kafkajs connects lazily on the next send.
      lane.producer = fresh;
      this.log?.warn({ error: errorText(e) }, 'new kafka producer did not connect yet');
    }
  }

  /**
   * How many records one Kafka record of `topic` has carried lately from this process: 1 for a
   * plain topic or one it has not published to. Lag on a bundled topic counts Kafka records;
   * times this, it estimates records (flow control's unit) where this process is the publisher.
   */
  recordsPerKafkaRecord(topic: string): number {
    return this.bundling.get(topic) ?? 1;
  }

  /** Until whatever was accepted for publishing has been sent (or failed). */
  async drain(): Promise<void> {
    for (const lane of this.lanes) await lane.commits.idle();
  }

  /** The producers now in use (a replaced one is not). */
  producers(): Producer[] {
    return this.lanes.map((l) => l.producer);
  }
}

/** A lane's producer: idempotent, one request in flight, publish bounded in time. */
export function newProducer(kafka: KafkaClient): Producer {
  return kafka.producer({
    idempotent: true,
    // kafkajs' idempotent producer keeps order across retries only with one request in flight.
    maxInFlightRequests: 1,
    createPartitioner: rememberingPartitioner,
    allowAutoTopicCreation: false,
    // Bounded (kafkajs would default to infinite for idempotence): publish must fail within
    // ~30 s so the caller can withhold the device's PUBACK and let it resend.
    retry: { initialRetryTime: 100, maxRetryTime: 5_000, retries: 10 },
  });
}
