/**
 * Ingest against a bus we control (the memory bus behind a gate): ack-after-durable, backpressure
 * and the QoS 0 / QoS 1 failure semantics, with a real MQTT client over loopback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createMemoryBus } from '../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../adapters/bus/topics.js';
import { VitalsError } from '../core/errors.js';
import { TOPICS, type Bus, type OutgoingRecord } from '../core/ports.js';
import { absentStore } from '../platform/absent.js';
import { loadConfig } from '../platform/config.js';
import { systemClock } from '../platform/context.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { startRegistryView, type RegistryView } from '../platform/registry-view.js';
import { BusTap, metricValue, provisionOnBus } from '../test/e2e/ingest-helpers.js';
import { startIngest, type IngestService } from './ingest.js';

/** A bus whose publishes to the data topics can be held (slow bus) or failed (bus down). */
class GatedBus {
  held: Array<() => void> = [];
  failing = false;
  holding = false;
  /** Records and their bytes inside publish() right now, and the most ever. */
  inFlight = { records: 0, bytes: 0, maxRecords: 0, maxBytes: 0 };
  readonly bus: Bus;

  constructor(readonly inner: Bus) {
    const gated = new Set<string>([TOPICS.samples, TOPICS.dlq]);
    this.bus = {
      kind: inner.kind,
      ensureTopics: (s) => inner.ensureTopics(s),
      consume: (o) => inner.consume(o),
      tail: (o) => inner.tail(o),
      healthy: () => inner.healthy(),
      lag: () => inner.lag(),
      close: () => inner.close(),
      publish: async (topic: string, records: OutgoingRecord[]) => {
        if (!gated.has(topic)) return inner.publish(topic, records);
        const bytes = records.reduce((a, r) => a + (r.value?.length ?? 0), 0);
        const f = this.inFlight;
        f.records += records.length;
        f.bytes += bytes;
        f.maxRecords = Math.max(f.maxRecords, f.records);
        f.maxBytes = Math.max(f.maxBytes, f.bytes);
        try {
          if (this.holding) await new Promise<void>((r) => this.held.push(r));
          if (this.failing) throw new VitalsError('VTL_ERR_BUS_UNAVAILABLE', 'test: bus down');
          await inner.publish(topic, records);
        } finally {
          f.records -= records.length;
          f.bytes -= bytes;
        }
      },
    };
  }

  release(): void {
    this.holding = false;
    for (const r of this.held.splice(0)) r();
  }
}

interface Rig {
  gate: GatedBus;
  ingest: IngestService;
  registry: RegistryView;
  metrics: ReturnType<typeof createMetricsRegistry>;
  tap: BusTap;
  stop(): Promise<void>;
}

async function rig(env: Record<string, string> = {}): Promise<Rig> {
  const cfg = loadConfig({ VITALS_MQTT_PORT: '0', VITALS_DEVICE_RATE: '100000', VITALS_LOG_LEVEL: 'silent', ...env });
  if (!cfg.ok) throw new Error(cfg.errors.join('; '));
  const log = createLogger({ level: 'silent' });
  const inner = await createMemoryBus({ log, retention: { defaults: { maxRecords: 1_000_000 } } });
  await inner.ensureTopics(DEFAULT_TOPIC_SPECS);
  const gate = new GatedBus(inner);
  const metrics = createMetricsRegistry();
  const registry = await startRegistryView(gate.bus, log);
  await provisionOnBus(gate.bus, 'bp-1', 'bp-token', 'MRN-BP-1');
  for (let i = 0; i < 50 && !registry.get('bp-1'); i++) await new Promise((r) => setTimeout(r, 20));
  const ingest = await startIngest({ config: cfg.config, log, clock: systemClock, metrics, bus: gate.bus, store: absentStore() }, registry);
  const tap = await BusTap.open(inner, [TOPICS.samples, TOPICS.dlq]);
  return {
    gate,
    ingest,
    registry,
    metrics,
    tap,
    async stop() {
      gate.release();
      await tap.stop();
      await ingest.stop();
      await registry.stop();
      await inner.close();
    },
  };
}

function connect(port: number, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'bp-1', username: 'bp-1', password: 'bp-token', reconnectPeriod: 0, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ingest with a slow or failing bus', () => {
  let r: Rig | null = null;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await r?.stop();
    r = null;
  });

  it('a slow bus holds PUBACKs and stops reading the socket: in-flight work stays bounded', async () => {
    r = await rig();
    const c = await connect(r.ingest.port);
    clients.push(c);
    r.gate.holding = true;
    const N = 3000;
    const filler = 'x'.repeat(900); // tolerated unknown field: ~1 KB per message, 3 MB in all
    let acked = 0;
    const acks: Promise<unknown>[] = [];
    const ts = Date.now();
    for (let i = 0; i < N; i++) acks.push(c.publishAsync('devices/bp-1/vitals', JSON.stringify({ ts: ts - i, hr: 70, pad: filler }), { qos: 1 }).then(() => acked++));
    await sleep(1500);
    // Nothing acknowledged while the bus holds, and only a socket read's worth of messages is being handled.
    expect(acked).toBe(0);
    const { maxRecords, maxBytes } = r.gate.inFlight;
    expect(maxRecords).toBeGreaterThan(0);
    expect(maxRecords).toBeLessThan(N / 10);
    expect(maxBytes).toBeLessThan(512 * 1024);
    r.gate.release();
    await Promise.all(acks);
    expect(acked).toBe(N);
    const onBus = r.tap.on(TOPICS.samples).length;
    expect(onBus).toBe(N);
    console.log(`backpressure: ${N} x 1 KB QoS 1 sent while the bus held; at most ${maxRecords} samples (${Math.round(maxBytes / 1024)} KiB) in flight; all ${N} acked after release`);
  });

  it('QoS 1 on a failing bus: no PUBACK, the connection closes, and the resent sample lands once the bus is back', async () => {
    r = await rig();
    const c = await connect(r.ingest.port, { reconnectPeriod: 200 });
    clients.push(c);
    r.gate.failing = true;
    let acked = false;
    const ts = Date.now() - 1000;
    const p = c.publishAsync('devices/bp-1/vitals', JSON.stringify({ ts, hr: 77 }), { qos: 1 }).then(() => (acked = true));
    await new Promise<void>((res) => c.once('close', () => res()));
    expect(acked).toBe(false);
    expect(r.tap.on(TOPICS.samples)).toHaveLength(0);
    r.gate.failing = false;
    await p; // mqtt.js resends the unacknowledged PUBLISH after reconnecting
    expect(acked).toBe(true);
    expect(r.tap.on(TOPICS.samples).filter((s) => s.json.ts === ts).length).toBeGreaterThanOrEqual(1);
    expect(await metricValue(r.metrics, 'vitals_ingest_qos0_dropped_total')).toBe(0);
  });

  it('QoS 0 on a failing bus: dropped and counted, the connection stays up', async () => {
    r = await rig();
    const c = await connect(r.ingest.port);
    clients.push(c);
    let closed = false;
    c.on('close', () => (closed = true));
    r.gate.failing = true;
    for (let i = 0; i < 5; i++) c.publish('devices/bp-1/vitals', JSON.stringify({ hr: 70 + i }), { qos: 0 });
    for (let i = 0; i < 50 && (await metricValue(r.metrics, 'vitals_ingest_qos0_dropped_total')) < 5; i++) await sleep(20);
    expect(await metricValue(r.metrics, 'vitals_ingest_qos0_dropped_total')).toBe(5);
    expect(closed).toBe(false);
    r.gate.failing = false;
    await c.publishAsync('devices/bp-1/vitals', JSON.stringify({ hr: 99 }), { qos: 1 });
    expect(r.tap.on(TOPICS.samples).map((s) => s.json.metrics.hr)).toEqual([99]);
  });
});
