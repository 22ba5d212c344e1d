/**
 * The admin side: topics created and awaited until led, consumer groups' lag, and topic
 * descriptions for diagnostics.
 */
import type { Admin } from 'kafkajs';
import { VitalsError } from '../../../core/errors.js';
import type { ConsumerLag, TopicSpec } from '../../../core/ports.js';
import { backoffDelay, isRetriable, retry } from '../../../platform/backoff.js';
import { ConfigResourceTypes, Kafka, logLevel, withTimeout } from './client.js';
import { errorText, type KafkaishError, mapKafkaError, rootCause } from './errors.js';

/**
 * Create the topics that do not exist (partitions, compaction, retention) and wait until every
 * partition has a leader; record the ones seen to exist in `known`.
 */
export async function ensureTopics(admin: Admin, known: Set<string>, specs: readonly TopicSpec[]): Promise<void> {
  try {
    const existing = new Set(await admin.listTopics());
    const byName = new Map<string, TopicSpec>();
    for (const s of specs) if (!existing.has(s.name)) byName.set(s.name, s);
    for (const s of specs) if (existing.has(s.name)) known.add(s.name);
    if (byName.size === 0) return;
    await admin.createTopics({
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
    await awaitLeaders(admin, [...byName.keys()], Date.now() + 30_000);
    for (const name of byName.keys()) known.add(name);
  } catch (e) {
    throw mapKafkaError(e, 'ensureTopics');
  }
}

/**
 * Until every partition of `topics` has a leader. Past the deadline this fails as a bus that is not
 * ready (retriable: a start tries again), whatever the last metadata answer was.
 */
async function awaitLeaders(admin: Admin, topics: string[], deadline: number): Promise<void> {
  const waiting = retry(
    async () => {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      const leaderless = meta.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0)).map((t) => t.name);
      if (leaderless.length > 0) throw new VitalsError('VTL_ERR_BUS_UNAVAILABLE', `no leader yet for ${leaderless.join(', ')}`);
    },
    {
      // A topic the broker has just created may be unknown to its metadata cache for a moment.
      retriable: (e) => Date.now() < deadline && (isRetriable(e) || (e as KafkaishError).retriable === true || rootCause(e).type === 'UNKNOWN_TOPIC_OR_PARTITION'),
      delay: (attempt) => backoffDelay(attempt, Math.random, { initialMs: 50, maxMs: 1000 }),
    },
  );
  await waiting.catch((e: unknown) => {
    if (Date.now() < deadline) throw e;
    throw new VitalsError('VTL_ERR_BUS_UNAVAILABLE', `ensureTopics: partitions without a leader after 30 s (${errorText(e)})`, { cause: e });
  });
}

/** Lag of consumer groups (their topics each): committed offsets against end offsets, per topic. */
export async function readLag(admin: Admin, groups: ReadonlyMap<string, ReadonlySet<string>>): Promise<ConsumerLag[]> {
  const topics = new Set<string>();
  for (const ts of groups.values()) for (const t of ts) topics.add(t);
  const ends = new Map<string, Array<{ partition: number; high: bigint; low: bigint }>>();
  try {
    await withTimeout(
      Promise.all(
        [...topics].map(async (t) => {
          const offs = await admin.fetchTopicOffsets(t);
          ends.set(t, offs.map((o) => ({ partition: o.partition, high: BigInt(o.high), low: BigInt(o.low) })));
        }),
      ),
      5000,
      () => new Error('fetchTopicOffsets timed out'),
    );
    const out: ConsumerLag[] = [];
    for (const [groupId, ts] of groups) {
      const committed = await withTimeout(admin.fetchOffsets({ groupId, topics: [...ts] }), 5000, () => new Error('fetchOffsets timed out'));
      // A group the broker does not know (no sink deployed yet) is reported, but holds nothing back.
      let exists = committed.some((c) => c.partitions.some((p) => p.offset !== '-1'));
      if (!exists) {
        const d = await withTimeout(admin.describeGroups([groupId]), 5000, () => new Error('describeGroups timed out'));
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
      resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
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
