/**
 * The MQTT front door under abuse, against a real ingest on loopback (memory bus, real aedes,
 * raw sockets and mqtt.js): oversized and pre-CONNECT floods, per-address admission, sessions
 * bound to devices, client id length, revocation during CONNECT, and password guessing.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createMemoryBus } from '../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../adapters/bus/topics.js';
import { TOPICS, type Bus } from '../core/ports.js';
import { absentStore } from '../platform/absent.js';
import { loadConfig } from '../platform/config.js';
import { systemClock } from '../platform/context.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { startRegistryView, type RegistryView } from '../platform/registry-view.js';
import { metricValue, provisionOnBus, rawFlood } from '../test/e2e/ingest-helpers.js';
import { startIngest, type IngestService } from './ingest.js';

interface Rig {
  bus: Bus;
  ingest: IngestService;
  registry: RegistryView;
  metrics: ReturnType<typeof createMetricsRegistry>;
  stop(): Promise<void>;
}

const log = createLogger({ level: 'silent' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function rig(devices: Array<[string, string]>, env: Record<string, string> = {}): Promise<Rig> {
  const cfg = loadConfig({ VITALS_MQTT_PORT: '0', VITALS_DEVICE_RATE: '100000', VITALS_MAX_PAYLOAD_BYTES: '4096', ...env });
  if (!cfg.ok) throw new Error(cfg.errors.join('; '));
  const bus = await createMemoryBus({ log });
  await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
  const metrics = createMetricsRegistry();
  const registry = await startRegistryView(bus, log);
  for (const [id, token] of devices) await provisionOnBus(bus, id, token, `MRN-${id}`);
  for (let i = 0; i < 100 && devices.some(([id]) => !registry.get(id)); i++) await sleep(10);
  const ingest = await startIngest({ config: cfg.config, log, clock: systemClock, metrics, bus, store: absentStore() }, registry);
  return {
    bus,
    ingest,
    registry,
    metrics,
    async stop() {
      await ingest.stop();
      await registry.stop();
      await bus.close();
    },
  };
}

/** Connect with mqtt.js; resolves with the CONNACK code (0: accepted) and the client when accepted. */
function connack(port: number, opts: mqtt.IClientOptions): Promise<{ code: number; client: MqttClient | null }> {
  return new Promise((resolve) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => resolve({ code: 0, client: c }));
    c.once('error', (e: Error & { code?: number }) => {
      c.end(true);
      resolve({ code: typeof e.code === 'number' ? e.code : -1, client: null });
    });
    c.once('close', () => resolve({ code: -1, client: null }));
  });
}

describe('MQTT front door', () => {
  let r: Rig | null = null;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await r?.stop();
    r = null;
  });

  it('a CONNECT announcing 268 MB is closed from its header; nothing is buffered', async () => {
    r = await rig([]);
    const res = await rawFlood(r.ingest.port, Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(64 * 1024, 0x41), 64 * 1024 * 1024);
    expect(res.closedByServer).toBe(true);
    expect(res.written).toBeLessThan(16 * 1024 * 1024);
    expect(await metricValue(r.metrics, 'vitals_ingest_connections_refused_total', { reason: 'packet_too_large' })).toBe(1);
  });

  it('an authenticated device announcing a packet beyond payload limit + header room is disconnected', async () => {
    r = await rig([['fd-big', 'tok-big']]);
    const { code, client } = await connack(r.ingest.port, { clientId: 'fd-big', username: 'fd-big', password: 'tok-big' });
    expect(code).toBe(0);
    const closed = new Promise<void>((res) => client?.once('close', () => res()));
    // The raw stream of the client: a PUBLISH header announcing 200 KiB (limit 4 KiB + 64 KiB).
    (client as unknown as { stream: net.Socket }).stream.write(Buffer.from([0x30, 0x80, 0xc0, 0x0c]));
    await closed;
    expect(await metricValue(r.metrics, 'vitals_ingest_connections_refused_total', { reason: 'packet_too_large' })).toBe(1);
    client?.end(true);
  });

  it('new connections per source address are limited', async () => {
    r = await rig([], { VITALS_MQTT_CONN_RATE: '2' });
    const port = r.ingest.port;
    // Burst 8: the ninth and later sockets in the same instant are closed at once.
    const sockets = await Promise.all(
      Array.from({ length: 14 }, () => new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('close', () => resolve(true));
        s.on('error', () => undefined);
        setTimeout(() => {
          resolve(false);
          s.destroy();
        }, 400);
      })),
    );
    expect(sockets.filter(Boolean).length).toBeGreaterThanOrEqual(5);
    expect(await metricValue(r.metrics, 'vitals_ingest_connections_refused_total', { reason: 'address_rate' })).toBeGreaterThanOrEqual(5);
  });

  it('a shared client id cannot take over another device: the client id is the device id', async () => {
    r = await rig([['fd-a', 'tok-a'], ['fd-b', 'tok-b']]);
    const a = await connack(r.ingest.port, { clientId: 'fd-a', username: 'fd-a', password: 'tok-a', clean: false });
    expect(a.code).toBe(0);
    clients.push(a.client as MqttClient);
    let aClosed = false;
    a.client?.on('close', () => (aClosed = true));
    // The same client id, another device: refused, and the first session is untouched.
    expect((await connack(r.ingest.port, { clientId: 'fd-a', username: 'fd-b', password: 'tok-b', clean: false })).code).toBe(2);
    expect((await connack(r.ingest.port, { clientId: 'shared', username: 'fd-b', password: 'tok-b', clean: false })).code).toBe(2);
    await sleep(100);
    expect(aClosed).toBe(false);
    // An empty client id (clean session) becomes the device id.
    const empty = await connack(r.ingest.port, { clientId: '', username: 'fd-b', password: 'tok-b', clean: true });
    expect(empty.code).toBe(0);
    clients.push(empty.client as MqttClient);
    await empty.client?.publishAsync('devices/fd-b/vitals', JSON.stringify({ hr: 70 }), { qos: 1 });
    expect(await metricValue(r.metrics, 'vitals_ingest_auth_failures_total', { reason: 'client_id_not_device' })).toBe(2);
  });

  it('a client id longer than 128 characters is refused (identifier rejected)', async () => {
    const long = `fd-${'x'.repeat(126)}`;
    r = await rig([['fd-long', 'tok-long']]);
    expect((await connack(r.ingest.port, { clientId: long, username: 'fd-long', password: 'tok-long' })).code).toBe(2);
    expect(await metricValue(r.metrics, 'vitals_ingest_auth_failures_total', { reason: 'client_id_too_long' })).toBe(1);
  });

  it('a device revoked while its first CONNECT is verified never gets CONNACK 0', async () => {
    r = await rig([['fd-rev', 'tok-rev']]);
    const rr = r;
    // The tombstone goes out the moment the CONNECT reaches authentication (0 ms after it).
    const realGet = rr.registry.get.bind(rr.registry);
    let revoked = false;
    rr.registry.get = (id: string) => {
      if (id === 'fd-rev' && !revoked) {
        revoked = true;
        void rr.bus.publish(TOPICS.registry, [{ key: 'fd-rev', value: null }]);
      }
      return realGet(id);
    };
    const res = await connack(r.ingest.port, { clientId: 'fd-rev', username: 'fd-rev', password: 'tok-rev' });
    if (res.client) clients.push(res.client);
    expect(revoked).toBe(true);
    expect(res.code).not.toBe(0);
    expect(await metricValue(r.metrics, 'vitals_ingest_auth_failures_total', { reason: 'revoked_during_connect' })).toBe(1);
  });

  it('password guessing is throttled per device id: a few hashes, then refusals that cost nothing', async () => {
    r = await rig([['fd-guess', 'right'], ['fd-known', 'tok-known'], ['fd-other', 'tok-other']]);
    // fd-known was verified before the attack: its cached token passes any lockout.
    const known = await connack(r.ingest.port, { clientId: 'fd-known', username: 'fd-known', password: 'tok-known' });
    known.client?.end(true);
    const codes: number[] = [];
    for (let i = 0; i < 30; i++) codes.push((await connack(r.ingest.port, { clientId: 'fd-guess', username: 'fd-guess', password: `guess-${i}` })).code);
    for (let i = 0; i < 6; i++) codes.push((await connack(r.ingest.port, { clientId: 'fd-known', username: 'fd-known', password: `guess-${i}` })).code);
    const hashed = await metricValue(r.metrics, 'vitals_ingest_auth_failures_total', { reason: 'bad_token' });
    const throttled = await metricValue(r.metrics, 'vitals_ingest_auth_failures_total', { reason: 'throttled' });
    // Five free failures and the one that locks; fd-known's wrong guesses are checked against its cached digest.
    expect(hashed).toBeLessThanOrEqual(8 + 6);
    expect(throttled).toBeGreaterThanOrEqual(20);
    expect(codes.filter((c) => c === 3).length).toBe(throttled);
    // The locked id with its right token waits too (it was never verified); the others do not.
    expect((await connack(r.ingest.port, { clientId: 'fd-guess', username: 'fd-guess', password: 'right' })).code).toBe(3);
    const again = await connack(r.ingest.port, { clientId: 'fd-known', username: 'fd-known', password: 'tok-known' });
    expect(again.code).toBe(0);
    clients.push(again.client as MqttClient);
    const other = await connack(r.ingest.port, { clientId: 'fd-other', username: 'fd-other', password: 'tok-other' });
    expect(other.code).toBe(0);
    clients.push(other.client as MqttClient);
    await other.client?.publishAsync('devices/fd-other/vitals', JSON.stringify({ hr: 70 }), { qos: 1 });
  });
});
