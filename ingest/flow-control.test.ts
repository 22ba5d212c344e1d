/**
 * Issue 11: ingest acknowledges no faster than the required consumers keep up, and the device
 * rate limit never acknowledges what it then drops. Real memory bus, real MQTT over loopback.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { createMemoryBus, type MemoryBus } from '../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../adapters/bus/topics.js';
import { TOPICS, type BusRecord } from '../core/ports.js';
import { absentStore } from '../platform/absent.js';
import { loadConfig } from '../platform/config.js';
import { registerLagGauge } from '../platform/lag-metric.js';
import { systemClock } from '../platform/context.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { startRegistryView, type RegistryView } from '../platform/registry-view.js';
import { BusTap, metricValue, provisionOnBus } from '../test/e2e/ingest-helpers.js';
import { startIngest, type IngestService } from './ingest.js';

interface Rig {
  bus: MemoryBus;
  ingest: IngestService;
  metrics: ReturnType<typeof createMetricsRegistry>;
  tap: BusTap;
  stop(): Promise<void>;
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

async function rig(env: Record<string, string>): Promise<Rig> {
  const cfg = loadConfig({ VITALS_MQTT_PORT: '0', VITALS_LOG_LEVEL: 'silent', ...env });
  if (!cfg.ok) throw new Error(cfg.errors.join('; '));
  const log = createLogger({ level: 'silent' });
  // Small count retention: a consumer held back puts the log far past it.
  const bus = await createMemoryBus({ log, retention: { defaults: { maxRecords: 100 } } });
  await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
  const metrics = createMetricsRegistry();
  registerLagGauge(metrics, bus); // as the runtime does for every role on a bus
  const registry: RegistryView = await startRegistryView(bus, log);
  await provisionOnBus(bus, 'fc-1', 'fc-token', 'MRN-FC-1');
  for (let i = 0; i < 50 && !registry.get('fc-1'); i++) await sleep(20);
  const ingest = await startIngest({ config: cfg.config, log, clock: systemClock, metrics, bus, store: absentStore() }, registry);
  const tap = await BusTap.open(bus, [TOPICS.samples, TOPICS.backlog, TOPICS.dlq]);
  const r: Rig = {
    bus,
    ingest,
    metrics,
    tap,
    async stop() {
      await tap.stop();
      await ingest.stop();
      await registry.stop();
      await bus.close();
    },
  };
  stops.push(() => r.stop());
  return r;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function connect(port: number): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'fc-1', username: 'fc-1', password: 'fc-token', reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** One sample per message; `seq` rides in a field the pipeline keeps (the heart rate) with a distinct ts. */
const payload = (seq: number, t0: number): string => JSON.stringify({ ts: t0 + seq, hr: 40 + (seq % 150), seq });
const stored = (rs: Array<BusRecord & { json: { ts: number } }>, t0: number): Set<number> => new Set(rs.map((r) => r.json.ts - t0));

describe('flow control: a required consumer held back', () => {
  it('stops ingest from acknowledging; when it resumes every message is acknowledged and read once', async () => {
    const r = await rig({ VITALS_DEVICE_RATE: '1000000', VITALS_FLOW_MAX_LAG: '200' });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((res) => (release = res));
    const read: BusRecord[] = [];
    const sink = await r.bus.consume({
      groupId: 'test-sink',
      topics: [TOPICS.samples],
      handler: async (rs) => {
        await gate;
        read.push(...rs);
      },
    });
    stops.push(() => sink.stop());
    const c = await connect(r.ingest.port);
    stops.push(async () => void c.end(true));
    const N = 3000;
    const t0 = Date.now();
    let acked = 0;
    const all = Array.from({ length: N }, (_, i) => c.publishAsync('devices/fc-1/vitals', payload(i, t0), { qos: 1 }).then(() => void acked++));
    await sleep(1500);
    for (let i = 0; i < 100 && acked === 0; i++) await sleep(100);
    // Held: far fewer PUBACKs than messages sent (bound 200 plus what one 20 ms poll lets through).
    expect(acked).toBeLessThan(1200);
    expect(acked).toBeGreaterThan(0);
    expect(await metricValue(r.metrics, 'vitals_ingest_flow_held', { lane: 'live' })).toBe(1);
    expect(await metricValue(r.metrics, 'vitals_bus_consumer_lag', { consumer: 'test-sink', topic: TOPICS.samples })).toBeGreaterThan(200);
    release();
    await Promise.all(all);
    expect(acked).toBe(N);
    for (let i = 0; i < 500 && read.length < N; i++) await sleep(10);
    // Retention (100 records) was passed many times over; the held consumer still read all, once each.
    const seen = read.map((x) => (JSON.parse(x.value as string) as { ts: number }).ts - t0);
    expect(seen).toHaveLength(N);
    expect(new Set(seen).size).toBe(N);
    await sleep(100);
    expect(await metricValue(r.metrics, 'vitals_ingest_flow_held', { lane: 'live' })).toBe(0);
  }, 30_000);

  it('holds backfill at half the bound while live samples still flow', async () => {
    const r = await rig({ VITALS_DEVICE_RATE: '1000000', VITALS_FLOW_MAX_LAG: '400' });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((res) => (release = res));
    const sink = await r.bus.consume({ groupId: 'test-sink', topics: [TOPICS.samples, TOPICS.backlog], handler: async () => gate });
    stops.push(() => sink.stop());
    // 300 records waiting: above half the bound (backlog held), below the bound (live open).
    await r.bus.publish(TOPICS.backlog, Array.from({ length: 300 }, (_, i) => ({ key: 'x', value: `{"n":${i}}` })));
    await sleep(100);
    const c = await connect(r.ingest.port);
    stops.push(async () => void c.end(true));
    const hourAgo = Date.now() - 3_600_000;
    let backfillAcked = false;
    const backfill = c.publishAsync('devices/fc-1/vitals', payload(0, hourAgo), { qos: 1 }).then(() => void (backfillAcked = true));
    await c.publishAsync('devices/fc-1/vitals', payload(1, Date.now()), { qos: 1 });
    await sleep(200);
    expect(backfillAcked).toBe(false);
    expect(await metricValue(r.metrics, 'vitals_ingest_flow_held', { lane: 'backlog' })).toBe(1);
    release();
    await backfill;
    await sleep(100);
    expect(r.tap.on(TOPICS.samples)).toHaveLength(1);
    expect(r.tap.on(TOPICS.backlog).filter((x) => x.key !== 'x')).toHaveLength(1);
  }, 30_000);
});

describe('device rate limit without loss', () => {
  it('a device over its rate (QoS 1) is slowed, never dead-lettered: every message acknowledged and stored', async () => {
    const RATE = 200;
    const r = await rig({ VITALS_DEVICE_RATE: String(RATE) });
    const c = await connect(r.ingest.port);
    stops.push(async () => void c.end(true));
    const N = 600;
    const t0 = Date.now();
    const start = Date.now();
    await Promise.all(Array.from({ length: N }, (_, i) => c.publishAsync('devices/fc-1/vitals', payload(i, t0), { qos: 1 })));
    const took = Date.now() - start;
    // A burst of RATE, then RATE per second: the last PUBACK comes ~(N - RATE) / RATE s later.
    expect(took).toBeGreaterThan(((N - RATE) / RATE) * 1000 * 0.8);
    await sleep(100);
    expect(stored(r.tap.on(TOPICS.samples), t0).size).toBe(N);
    expect(r.tap.on(TOPICS.dlq)).toHaveLength(0);
    expect(await metricValue(r.metrics, 'vitals_ingest_rate_limited_total', { action: 'delayed' })).toBeGreaterThan(50);
    expect(c.connected).toBe(true);
  }, 30_000);

  it('QoS 0 over the rate is dropped and counted; the connection stays', async () => {
    const RATE = 20;
    const r = await rig({ VITALS_DEVICE_RATE: String(RATE) });
    const c = await connect(r.ingest.port);
    stops.push(async () => void c.end(true));
    const t0 = Date.now();
    for (let i = 0; i < RATE * 10; i++) c.publish('devices/fc-1/vitals', payload(i, t0), { qos: 0 });
    await c.publishAsync('devices/fc-1/status', JSON.stringify({ battery: 0.5 }), { qos: 1 });
    await sleep(200);
    const dropped = await metricValue(r.metrics, 'vitals_ingest_rate_limited_total', { action: 'dropped_qos0' });
    const kept = stored(r.tap.on(TOPICS.samples), t0).size;
    expect(dropped).toBeGreaterThan(RATE * 5);
    expect(kept + dropped).toBe(RATE * 10);
    expect(c.connected).toBe(true);
  }, 30_000);

  it('a device far past its rate is disconnected without PUBACK; every PUBACK it got is for a stored sample', async () => {
    const RATE = 10;
    const r = await rig({ VITALS_DEVICE_RATE: String(RATE) });
    const t0 = Date.now();
    const publish = (i: number): Buffer => mqttPacket.generate({ cmd: 'publish', topic: 'devices/fc-1/vitals', payload: payload(i, t0), qos: 1, messageId: i, retain: false, dup: false });
    const acked = new Set<number>();
    const sock = net.connect(r.ingest.port, '127.0.0.1');
    stops.push(async () => void sock.destroy());
    const parser = mqttPacket.parser();
    parser.on('packet', (p) => {
      if (p.cmd === 'puback' && p.messageId !== undefined) acked.add(p.messageId);
    });
    sock.on('data', (d) => parser.parse(d));
    sock.on('error', () => undefined);
    const closed = new Promise<void>((res) => sock.once('close', () => res()));
    // Within its burst first: acknowledged at once.
    sock.write(Buffer.concat([mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'fc-1', keepalive: 60, username: 'fc-1', password: Buffer.from('fc-token') }), ...[1, 2, 3, 4, 5].map(publish)]));
    for (let i = 0; i < 200 && acked.size < 5; i++) await sleep(10);
    expect(acked.size).toBe(5);
    // Then 300 QoS 1 messages in one TCP write: 30 s of its rate, past the 10 s a message may wait.
    sock.write(Buffer.concat(Array.from({ length: 300 }, (_, i) => publish(6 + i))));
    await Promise.race([closed, sleep(5000).then(() => Promise.reject(new Error('not disconnected')))]);
    await sleep(300);
    const have = stored(r.tap.on(TOPICS.samples), t0);
    expect(acked.size).toBeLessThan(305);
    for (const id of acked) expect(have.has(id)).toBe(true);
    expect(await metricValue(r.metrics, 'vitals_ingest_rate_limited_total', { action: 'disconnected' })).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
