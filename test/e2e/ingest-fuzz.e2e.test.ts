/**
 * Fuzz at the front door: thousands of random and mutated payloads (wrong types, "NaN" strings,
 * huge numbers, deep nesting, binary garbage, truncated JSON, huge batches) from a real MQTT
 * client at a running ingest, plus raw sockets speaking garbage MQTT. Then:
 * - the broker is alive (a fresh device connects and gets a PUBACK),
 * - every message is accounted for: each one's trace id is on vitals.samples or vitals.dlq, and
 *   the metrics agree with the bus record counts,
 * - no valid sample was dropped, and nothing out of range was accepted.
 * Seeded, so a failure replays with FUZZ_SEED.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createMemoryBus } from '../../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../../adapters/bus/topics.js';
import { METRIC_RANGES } from '../../core/payload.js';
import { TOPICS, type Bus } from '../../core/ports.js';
import { absentStore } from '../../platform/absent.js';
import { loadConfig, type Config } from '../../platform/config.js';
import { systemClock, type Context } from '../../platform/context.js';
import { createLogger } from '../../platform/log.js';
import { createMetricsRegistry } from '../../platform/metrics.js';
import { startRegistryView, type RegistryView } from '../../platform/registry-view.js';
import { startIngest, type IngestService } from '../../ingest/ingest.js';
import { connectDevice, waitFor } from './helpers.js';
import { BusTap, metricValue, provisionOnBus, rawFlood } from './ingest-helpers.js';
// mulberry32, the simulator's seeded generator: good enough to pick mutations.
import { prng } from '../../device-sim/patient-model.js';

const MESSAGES = Number(process.env.FUZZ_MESSAGES ?? 4000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const MAX_PAYLOAD = 16 * 1024;
const MAX_BATCH = 50;
const IN_FLIGHT = 64;


interface Generated {
  payload: Buffer;
  /** Timestamps of the samples in it that are valid by construction and must be accepted. */
  valid: number[];
}

function generator(seed: number, now: number): () => Generated {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  // Unique, in-range event times identify each valid sample on the bus.
  let nextTs = now - 60_000;
  const validSample = (): Record<string, unknown> => ({ ts: nextTs--, hr: 40 + int(100), spo2: 85 + int(15), rr: 8 + int(20), temp: 35 + int(40) / 10, sbp: 90 + int(60), dbp: 50 + int(40) });
  const junkValues: unknown[] = ['72', 'NaN', 'Infinity', '', null, true, [], {}, [72], { v: 72 }, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0.0000001, 1e-320, '\u0000', '\ud800'];
  const mutateSample = (s: Record<string, unknown>): Record<string, unknown> => {
    const m = { ...s };
    switch (int(9)) {
      case 0: m[pick(['hr', 'spo2', 'rr', 'temp', 'sbp', 'dbp'])] = pick(junkValues); break;
      case 1: m.ts = pick(['yesterday', 1e20, -1e20, 0, '2026-13-45T99:99:99Z', now + 3_600_000, [1], 'x'.repeat(60)]); break;
      case 2: m.units = pick([{ temp: 'kelvin' }, { spo2: 'ppm' }, 'degF', { hr: '/s' }, []]); break;
      case 3: m.quality = pick([{ spo2: 2 }, { hr: '0.9' }, 'good', [0.9]]); break;
      case 4: for (let i = 0; i < 12; i++) m[`extra${i}`] = i; break;
      case 5: m.hr = Number.MAX_VALUE; m.spo2 = -5; break;
      case 6: return pick([{}, { ts: now }, { o2: 'yes' }, { acvpu: 'Z' }, { battery: 7 }]);
      case 7: m.nested = JSON.parse(`${'{"a":'.repeat(200)}1${'}'.repeat(200)}`); for (let i = 0; i < 9; i++) m[`x${i}`] = 1; break;
      default: m.hr = `${m.hr}`; break;
    }
    return m;
  };
  const text = (x: unknown): Buffer => Buffer.from(JSON.stringify(x));
  return () => {
    const kind = int(16);
    switch (kind) {
      case 0: case 1: case 2: {
        const s = validSample();
        return { payload: text(s), valid: [s.ts as number] };
      }
      case 3: case 4: {
        const items = Array.from({ length: 1 + int(20) }, validSample);
        return { payload: text({ samples: items }), valid: items.map((s) => s.ts as number) };
      }
      case 5: case 6: {
        // Mixed batch: valid items beside mutated ones are each judged alone.
        const valid: number[] = [];
        const items = Array.from({ length: 2 + int(30) }, () => {
          const s = validSample();
          if (rnd() < 0.5) return mutateSample(s);
          valid.push(s.ts as number);
          return s;
        });
        return { payload: text({ samples: items }), valid };
      }
      case 7: return { payload: text(mutateSample(validSample())), valid: [] };
      case 8: {
        const t = JSON.stringify({ samples: Array.from({ length: 1 + int(10) }, validSample) });
        return { payload: Buffer.from(t.slice(0, int(t.length))), valid: [] }; // truncated JSON
      }
      case 9: return { payload: Buffer.from(Array.from({ length: int(600) }, () => int(256))), valid: [] }; // binary garbage
      case 10: {
        const d = 1000 + int(6000);
        return { payload: Buffer.from(pick([`${'['.repeat(d)}${']'.repeat(d)}`, `{"samples":[${'['.repeat(d)}${']'.repeat(d)}]}`, `${'{"a":'.repeat(d / 5)}1${'}'.repeat(d / 5)}`])), valid: [] };
      }
      case 11: return { payload: text({ samples: Array.from({ length: MAX_BATCH + 1 + int(200) }, () => ({ hr: 70 })) }), valid: [] }; // batch too large
      case 12: return { payload: Buffer.alloc(MAX_PAYLOAD + 1 + int(MAX_PAYLOAD), 0x20), valid: [] }; // too large
      case 13: return { payload: Buffer.from(pick(['', 'null', '42', '"str"', '[]', '[{"hr":70}]', '{"samples":{}}', '{"samples":[]}', '{"samples":null}', 'NaN', '{"hr":NaN}', '{"hr":72,}', '\ufeff{"hr":72}', '{"hr":1e400}', '{"hr":-1e400,"spo2":97}', '{"samples":[{"hr":1e999},{"hr":"1e999"}]}'])), valid: [] };
      case 14: {
        // A huge but legal batch of valid samples.
        const items = Array.from({ length: MAX_BATCH }, validSample);
        return { payload: text({ samples: items }), valid: items.map((s) => s.ts as number) };
      }
      default: {
        const m = validSample();
        m.hr = pick([Number.MAX_SAFE_INTEGER, 351, -1, 1e6, 0.5e-300]);
        return { payload: text(m), valid: [] };
      }
    }
  };
}

/** Raw sockets that speak broken MQTT: the broker must drop them and carry on. */
async function rawGarbage(port: number, rnd: () => number): Promise<void> {
  const connect = Buffer.from('101800044d5154540402003c000c66757a7a2d6e6f2d61757468', 'hex'); // CONNECT, client id only
  const frames = [
    Buffer.from(Array.from({ length: 256 }, () => Math.floor(rnd() * 256))),
    Buffer.from('30ffffffff7f', 'hex'), // PUBLISH with an over-long remaining length
    Buffer.concat([connect, Buffer.from('32ff7f', 'hex'), Buffer.alloc(64, 0x41)]), // PUBLISH before CONNACK, truncated
    Buffer.from('e000e000e000', 'hex'), // DISCONNECT storm without CONNECT
    Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
  ];
  await Promise.all(
    frames.map(
      (f) =>
        new Promise<void>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => s.end(f));
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.resume();
          setTimeout(() => (s.destroy(), resolve()), 2000).unref();
        }),
    ),
  );
}

describe('ingest: fuzzed payloads at a running broker', () => {
  let bus: Bus;
  let registry: RegistryView;
  let ingest: IngestService;
  let ctx: Context;
  let tap: BusTap;
  const logLines: string[] = [];

  beforeAll(async () => {
    const cfg = loadConfig({ VITALS_MQTT_PORT: '0', VITALS_DEVICE_RATE: '1000000', VITALS_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD), VITALS_MAX_BATCH_SAMPLES: String(MAX_BATCH) });
    if (!cfg.ok) throw new Error(cfg.errors.join('; '));
    const log = createLogger({ level: 'info', destination: { write: (s: string) => void logLines.push(s) } });
    // Retention above anything this test writes: the tally needs every record.
    bus = await createMemoryBus({ log, retention: { defaults: { maxRecords: 10_000_000 } } });
    await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
    ctx = { config: cfg.config as Config, log, clock: systemClock, metrics: createMetricsRegistry(), bus, store: absentStore() };
    registry = await startRegistryView(bus, log);
    await provisionOnBus(bus, 'fz-1', 'fz-token', 'MRN-FUZZ-1');
    await provisionOnBus(bus, 'fz-2', 'fz-token-2', 'MRN-FUZZ-2');
    await waitFor('registry', () => registry.get('fz-2'));
    ingest = await startIngest(ctx, registry);
    tap = await BusTap.open(bus, [TOPICS.samples, TOPICS.backlog, TOPICS.dlq]);
  });

  afterAll(async () => {
    await tap?.stop();
    await ingest?.stop();
    await registry?.stop();
    await bus?.close();
  });

  it(`${MESSAGES} mutated payloads: broker alive, every message accounted for, no valid sample lost`, async () => {
    const started = Date.now();
    const next = generator(SEED, Date.now());
    const device: MqttClient = await connectDevice(ingest.port, 'fz-1', 'fz-token');
    let closedUnexpectedly = false;
    device.on('close', () => (closedUnexpectedly = true));
    const expectValid = new Set<number>();
    let qos0 = 0;
    const rnd = prng(SEED + 1);
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < MESSAGES; i++) {
      const g = next();
      for (const ts of g.valid) expectValid.add(ts);
      // Mostly QoS 1 (the PUBACK tells us it was handled); some QoS 0, which must be handled just the same.
      const qos = rnd() < 0.1 ? 0 : 1;
      if (qos === 0) qos0++;
      const p: Promise<unknown> = device.publishAsync('devices/fz-1/vitals', g.payload, { qos }).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    await rawGarbage(ingest.port, rnd);
    expect(closedUnexpectedly).toBe(false);

    // Alive: a fresh device gets a PUBACK for a valid sample.
    const probe = await connectDevice(ingest.port, 'fz-2', 'fz-token-2');
    await probe.publishAsync('devices/fz-2/vitals', JSON.stringify({ hr: 61 }), { qos: 1 });
    await probe.endAsync();

    const traceBase = (t: string): string => t.replace(/-\d+$/, '');
    const tally = (): { bases: Set<string>; samples: any[]; dlq: any[] } => {
      // Both lanes: a fuzzed sample older than the live window is on vitals.backlog.
      const samples = [...tap.on(TOPICS.samples), ...tap.on(TOPICS.backlog)].filter((r) => r.json.deviceId === 'fz-1').map((r) => r.json);
      const dlq = tap.on(TOPICS.dlq).filter((r) => r.json.deviceId === 'fz-1').map((r) => r.json);
      return { bases: new Set([...samples.map((s) => traceBase(s.traceId)), ...dlq.map((d) => d.traceId)]), samples, dlq };
    };
    // QoS 0 messages have no PUBACK: wait until each has left its trace.
    await waitFor('every message traced', () => tally().bases.size >= MESSAGES, 20_000, 50);
    const { bases, samples, dlq } = tally();
    expect(bases.size).toBe(MESSAGES);

    const metrics = ctx.metrics;
    expect(await metricValue(metrics, 'vitals_ingest_samples_total')).toBe(samples.length + 1); // + the probe
    expect(await metricValue(metrics, 'vitals_ingest_rejected_total')).toBe(dlq.length);
    expect(await metricValue(metrics, 'vitals_ingest_qos0_dropped_total')).toBe(0);

    const accepted = new Set(samples.map((s) => s.ts));
    const lost = [...expectValid].filter((ts) => !accepted.has(ts));
    expect(lost, `valid samples not on vitals.samples (seed ${SEED})`).toEqual([]);
    expect(samples.length).toBe(accepted.size); // no duplicates on one clean connection
    for (const s of samples) {
      for (const [m, v] of Object.entries(s.metrics as Record<string, number>)) {
        const [lo, hi] = METRIC_RANGES[m as keyof typeof METRIC_RANGES];
        expect(Number.isFinite(v) && v >= lo && v <= hi, `${m}=${v}`).toBe(true);
      }
      expect(s.patientId).toBe('MRN-FUZZ-1');
    }
    const reasons = new Set(dlq.map((d) => d.reason));
    for (const r of ['invalid_json', 'not_an_object', 'payload_too_large', 'batch_too_large', 'wrong_type', 'impossible_value', 'too_many_unknown_fields']) expect(reasons).toContain(r);
    expect(logLines.join('')).not.toContain('MRN-FUZZ');
    await device.endAsync();
    console.log(`fuzz: ${MESSAGES} messages (${qos0} QoS 0), ${samples.length} accepted samples, ${dlq.length} dead letters, ${expectValid.size} valid by construction, ${Date.now() - started} ms`);
  });

  it('pre-CONNECT abuse from raw sockets: announced giants, non-CONNECT openers, long client ids; bounded memory, broker alive', async () => {
    const refused = (reason: string): Promise<number> => metricValue(ctx.metrics, 'vitals_ingest_connections_refused_total', { reason });
    const rss0 = process.memoryUsage().rss;
    const junk = Buffer.alloc(64 * 1024, 0x41);
    // Four sockets each announcing a 268 MB CONNECT and writing up to 64 MB behind it (the probe's attack).
    const giants = await Promise.all([0, 1, 2, 3].map(() => rawFlood(ingest.port, Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), junk, 64 * 1024 * 1024)));
    expect(giants.every((g) => g.closedByServer)).toBe(true);
    expect(await refused('packet_too_large')).toBeGreaterThanOrEqual(4);
    // Openers that are not CONNECT (PUBLISH, SUBSCRIBE, PINGREQ, random) are closed at their first byte.
    const rnd = prng(SEED + 2);
    const openers = [Buffer.from('3005000174', 'hex'), Buffer.from('820600010001740', 'hex'), Buffer.from('c000', 'hex'), Buffer.from([0x20 + Math.floor(rnd() * 0xd0), 0x02, 0, 0])];
    const opened = await Promise.all(openers.map((o) => rawFlood(ingest.port, o, junk, 4 * 1024 * 1024)));
    expect(opened.every((g) => g.closedByServer)).toBe(true);
    expect(await refused('connect_expected')).toBeGreaterThanOrEqual(4);
    // A 129-character client id is refused with CONNACK 2 (identifier rejected).
    const longId = 'x'.repeat(129);
    const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 0x02, 0, 60, 0, longId.length]), Buffer.from(longId)]);
    const connack = await new Promise<Buffer>((resolve) => {
      const s = net.connect(ingest.port, '127.0.0.1', () => s.write(Buffer.concat([Buffer.from([0x10, body.length, 0x01]), body])));
      s.once('data', (d) => (resolve(d), s.destroy()));
      s.on('error', () => resolve(Buffer.alloc(0)));
    });
    expect([...connack.subarray(0, 4)]).toEqual([0x20, 0x02, 0x00, 0x02]);
    const grew = (process.memoryUsage().rss - rss0) / 1048576;
    console.log(`pre-CONNECT abuse: ${giants.reduce((a, g) => a + g.written, 0) >> 20} MB offered by 4 giant-CONNECT sockets before the close; rss +${grew.toFixed(0)} MB`);
    expect(grew).toBeLessThan(128);
    const probe = await connectDevice(ingest.port, 'fz-2', 'fz-token-2');
    await probe.publishAsync('devices/fz-2/vitals', JSON.stringify({ hr: 62 }), { qos: 1 });
    await probe.endAsync();
  });
});
