/**
 * Namespaces every topic and consumer group of a bus under a prefix, so several
 * deployments (staging beside production, parallel test runs) share one Kafka cluster
 * without seeing each other. Roles keep using the plain TOPICS names.
 */
import type { BatchHandler, Bus, TopicSpec } from '../../core/ports.js';

export function prefixedBus(inner: Bus, prefix: string): Bus {
  if (prefix === '') return inner;
  const outer = (t: string): string => `${prefix}${t}`;
  const inward = (handler: BatchHandler): BatchHandler => (records) =>
    handler(records.map((r) => ({ ...r, topic: r.topic.startsWith(prefix) ? r.topic.slice(prefix.length) : r.topic })));
  return {
    kind: inner.kind,
    ensureTopics: (specs: readonly TopicSpec[]) => inner.ensureTopics(specs.map((s) => ({ ...s, name: outer(s.name) }))),
    publish: (topic, records) => inner.publish(outer(topic), records),
    consume: (o) => inner.consume({ ...o, groupId: outer(o.groupId), topics: o.topics.map(outer), handler: inward(o.handler) }),
    tail: (o) => inner.tail({ ...o, topics: o.topics.map(outer), handler: inward(o.handler) }),
    // Only this deployment's consumers, under their plain names.
    lag: async () =>
      (await inner.lag())
        .filter((l) => l.topic.startsWith(prefix))
        .map((l) => ({ ...l, consumer: l.consumer.startsWith(prefix) ? l.consumer.slice(prefix.length) : l.consumer, topic: l.topic.slice(prefix.length) })),
    healthy: () => inner.healthy(),
    close: () => inner.close(),
  };
}
