/**
 * The producer side: idempotent producers (lanes), a record's lane a hash of its key, publish()
 * calls of one turn of the event loop joined into one sendBatch per lane (group commit; kafkajs
 * has no linger), and a producer replaced when the broker lost its state (ADR 0020).
 */
import type { Admin, ICustomPartitioner, Producer } from 'kafkajs';
import { VitalsError } from '../../../core/errors.js';
import type { OutgoingRecord } from '../../../core/ports.js';
import { GroupCommit } from '../../../platform/group-commit.js';
import type { Logger } from '../../../platform/log.js';
import { type KafkaClient, Partitioners, withTimeout } from './client.js';
import { errorText, mapKafkaError, PRODUCER_STATE_LOST, rootCause } from './errors.js';

/** One publish() call's records for one lane. */
interface PendingPublish {
  topic: string;
  messages: { key: string; value: string | null; timestamp: string }[];
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

/** What the lanes need from their bus. */
export interface ProducerHost {
  readonly admin: Admin;
  readonly log: Logger | undefined;
  readonly opts: { maxCoalescedPublishes?: number; connectTimeoutMs: number };
  /** Topics seen to exist; a publish to any other is checked first (kafkajs would retry ~30 s). */
  readonly knownTopics: Set<string>;
}

/** The bus's producers: one {@link Lane} each, a publish split across them by key. */
export class ProducerLanes {
  private readonly lanes: Lane[];

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
    return lane.commits.add({ topic, messages });
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
    const byTopic = new Map<string, PendingPublish['messages']>();
    for (let i = 0; i < batch.length; i++) {
      if (dropped?.has(i)) continue;
      const p = batch[i] as PendingPublish;
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
    } catch (e) {
      const err = mapKafkaError(e, 'publish');
      this.log?.warn({ error: errorText(e), code: err.code, publishes: batch.length - (dropped?.size ?? 0) }, 'kafka publish failed');
      // Failed before the producer is replaced (the callers resend); the lane's next request
      // waits for the replacement.
      for (let i = 0; i < batch.length; i++) fail(i, err);
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
