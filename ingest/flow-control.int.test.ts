/**
 * Flow control on real Kafka, across processes' worth of clients: ingest's bus only watches the
 * sink's consumer group (as a split `vitals ingest` does); a sink on another bus client held
 * back stops ingest from acknowledging, and on release every message is acknowledged and read.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createKafkaBus } from '../adapters/bus/kafka.js';
import { prefixedBus } from '../adapters/bus/prefixed.js';
import { defaultTopicSpecs } from '../adapters/bus/topics.js';
import { TOPICS, type Bus, type BusRecord } from '../core/ports.js';
import { absentStore } from '../platform/absent.js';
import { loadConfig } from '../platform/config.js';
import { systemClock } from '../platform/context.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { startRegistryView } from '../platform/registry-view.js';
import { metricValue, provisionOnBus } from '../test/e2e/ingest-helpers.js';
import { startIngest } from './ingest.js';

const brokers = (process.env['KAFKA_BROKERS'] ?? '').split(',').filter(Boolean);
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('flow control on Kafka', () => {
  it('a sink group held back (seen through watchGroups) stops ingest from acknowledging; nothing lost on release', async () => {
    const prefix = `fc-${randomUUID().slice(0, 8)}.`;
    const group = 'test-sink';
    const log = createLogger({ level: 'silent' });
    const ingestBus: Bus = prefixedBus(
      await createKafkaBus({ brokers, clientId: 'fc-ingest', watchGroups: [{ groupId: `${prefix}${group}`, topics: [`${prefix}${TOPICS.samples}`] }] }),
      prefix,
    );
    stops.push(() => ingestBus.close());
    await ingestBus.ensureTopics(defaultTopicSpecs({ partitions: 1 }));
    const sinkBus: Bus = prefixedBus(await createKafkaBus({ brokers, clientId: 'fc-sink' }), prefix);
    stops.push(() => sinkBus.close());

    let release: () => void = () => undefined;
    const gate = new Promise<void>((res) => (release = res));
    const read: BusRecord[] = [];
    const sub = await sinkBus.consume({ groupId: group, topics: [TOPICS.samples], handler: async (rs) => { await gate; read.push(...rs); } });
    stops.push(() => sub.stop());

    const cfg = loadConfig({ VITALS_MQTT_PORT: '0', VITALS_LOG_LEVEL: 'silent', VITALS_DEVICE_RATE: '1000000', VITALS_FLOW_MAX_LAG: '100' });
    if (!cfg.ok) throw new Error(cfg.errors.join('; '));
    const registry = await startRegistryView(ingestBus, log);
    stops.push(() => registry.stop());
    await provisionOnBus(ingestBus, 'fck-1', 'fck-token', 'MRN-FCK-1');
    for (let i = 0; i < 100 && !registry.get('fck-1'); i++) await sleep(50);
    const metrics = createMetricsRegistry();
    const ingest = await startIngest({ config: cfg.config, log, clock: systemClock, metrics, bus: ingestBus, store: absentStore() }, registry);
    stops.push(() => ingest.stop());
    const c: MqttClient = await new Promise((resolve, reject) => {
      const cl = mqtt.connect(`mqtt://127.0.0.1:${ingest.port}`, { clientId: 'fck-1', username: 'fck-1', password: 'fck-token', reconnectPeriod: 0 });
      cl.once('connect', () => resolve(cl));
      cl.once('error', reject);
    });
    stops.push(async () => void c.end(true));

    // 3,000 messages over ~6 s: the gate (Kafka lag polled once a second) closes well before the end.
    const N = 3000;
    const t0 = Date.now();
    let acked = 0;
    const all: Array<Promise<void>> = [];
    const sending = (async () => {
      for (let i = 0; i < N; i += 100) {
        for (let k = i; k < i + 100; k++) all.push(c.publishAsync('devices/fck-1/vitals', JSON.stringify({ ts: t0 + k, hr: 70 }), { qos: 1 }).then(() => void acked++, () => undefined));
        await sleep(200);
      }
    })();
    // Kafka lag is polled once a second: give the gate time to see it.
    for (let i = 0; i < 100 && (await metricValue(metrics, 'vitals_ingest_flow_held', { lane: 'live' })) !== 1; i++) await sleep(100);
    expect(await metricValue(metrics, 'vitals_ingest_flow_held', { lane: 'live' })).toBe(1);
    // Publishes admitted before the gate closed still complete; after that, nothing more is acknowledged.
    await sleep(3000);
    const heldAt = acked;
    await sleep(3000);
    expect(acked).toBe(heldAt);
    expect(acked).toBeLessThan(N);
    release();
    await sending;
    await Promise.all(all);
    expect(acked).toBe(N);
    for (let i = 0; i < 300 && read.length < N; i++) await sleep(100);
    expect(new Set(read.map((r) => (JSON.parse(r.value as string) as { ts: number }).ts)).size).toBe(N);
  }, 90_000);

  it('a watched group the broker does not know (no sink deployed yet) is reported but holds nothing back', async () => {
    const prefix = `fc-${randomUUID().slice(0, 8)}.`;
    const bus = prefixedBus(await createKafkaBus({ brokers, clientId: 'fc-ghost', watchGroups: [{ groupId: `${prefix}nobody`, topics: [`${prefix}${TOPICS.samples}`] }] }), prefix);
    stops.push(() => bus.close());
    await bus.ensureTopics(defaultTopicSpecs({ partitions: 1 }));
    await bus.publish(TOPICS.samples, [{ key: 'k', value: '{}' }]);
    const lag = await bus.lag();
    expect(lag).toHaveLength(1);
    expect(lag[0]).toMatchObject({ consumer: 'nobody', topic: TOPICS.samples, required: false });
    expect(lag[0]?.lag).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
