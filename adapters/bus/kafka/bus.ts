/**
 * The Kafka bus put together: the producer lanes (producer.ts), topics and lag (admin.ts), group
 * members and tails (consumer.ts, tail.ts), health and an orderly close. Semantics:
 * adapters/bus/kafka.ts and docs/decisions/0005-bus-adapters.md.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import { VitalsError } from '../../../core/errors.js';
import type { Bus, ConsumeOptions, ConsumerLag, OutgoingRecord, Subscription, TailOptions, TopicSpec } from '../../../core/ports.js';
import type { Logger } from '../../../platform/log.js';
import type { KafkaBusOptions } from '../kafka.js';
import { ensureTopics, readLag } from './admin.js';
import { Kafka, type KafkaClient, logCreator, logLevel, withTimeout } from './client.js';
import { KafkaSubscription, type SubscriptionHost } from './consumer.js';
import { errorText, mapKafkaError } from './errors.js';
import { newProducer, ProducerLanes } from './producer.js';
import { seekTail, tailPositions } from './tail.js';

class KafkaBus implements Bus, SubscriptionHost {
  readonly kind = 'kafka' as const;
  private closed = false;
  private readonly lanes: ProducerLanes;
  private readonly subs = new Set<KafkaSubscription>();
  /** Topics seen to exist; a publish to any other is checked first (kafkajs would retry ~30 s). */
  readonly knownTopics = new Set<string>();
  /** Topics whose records travel in bundles (kafka/bundle.ts): TopicSpec.bundled, never compacted. */
  readonly bundledTopics = new Set<string>();
  readonly backoff: { initial: number; max: number };

  constructor(
    readonly kafka: KafkaClient,
    producers: readonly Producer[],
    readonly admin: Admin,
    readonly opts: KafkaBusOptions & { clientId: string; connectTimeoutMs: number },
    readonly log: Logger | undefined,
    /** Makes a replacement producer (new producer id) when the broker lost one's state. */
    makeProducer: () => Producer,
  ) {
    this.backoff = opts.retryBackoffMs ?? { initial: 100, max: 5000 };
    this.lanes = new ProducerLanes(this, producers, makeProducer);
  }

  private assertOpen(): void {
    if (this.closed) throw new VitalsError('VTL_ERR_BUS_UNAVAILABLE', 'bus is closed');
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    this.assertOpen();
    await ensureTopics(this.admin, this.knownTopics, specs);
    for (const s of specs) if (s.bundled && !s.compacted) this.bundledTopics.add(s.name);
  }

  publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    try {
      this.assertOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.lanes.publish(topic, records);
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

  async tail(opts: TailOptions): Promise<Subscription> {
    this.assertOpen();
    // Positions and targets are fixed before the consumer exists: "latest" means latest now.
    const { starts, highs: targets } = await tailPositions(this.admin, opts);
    const sub = new KafkaSubscription(this, {
      groupId: `${this.opts.clientId}.tail.${randomUUID()}`,
      topics: opts.topics,
      handler: opts.handler,
      fromBeginning: true,
      commit: false,
    });
    sub.progress.setTargets(targets, starts);
    const from = opts.from;
    if (typeof from === 'object') for (const [k, start] of starts) sub.timeStarts.set(k, { offset: start.toString(), timestamp: from.timestamp });
    await this.startSub(sub);
    seekTail(sub, starts, this.log);
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
    const lags = await readLag(this.admin, groups);
    // Bundled topics: Kafka records scaled to the records they carry (estimated from this process's own publishing).
    return lags.map((l) => {
      const k = this.bundledTopics.has(l.topic) ? this.lanes.recordsPerKafkaRecord(l.topic) : 1;
      if (k === 1) return l;
      const partitions = l.partitions?.map((p) => ({ partition: p.partition, lag: Math.round(p.lag * k) }));
      return { ...l, lag: partitions ? partitions.reduce((a, p) => a + p.lag, 0) : Math.round(l.lag * k), ...(partitions ? { partitions } : {}) };
    });
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
    await bound(this.lanes.drain(), 30_000, 'publish drain');
    await Promise.all([...this.lanes.producers().map((p) => bound(p.disconnect(), 10_000, 'producer disconnect')), bound(this.admin.disconnect(), 10_000, 'admin disconnect')]);
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
  const makeProducer = (): Producer => newProducer(kafka);
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
