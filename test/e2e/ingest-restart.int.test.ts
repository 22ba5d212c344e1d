/**
 * "A restart of the ingest process, or of Kafka, loses no QoS 1 sample that was acknowledged."
 * A device streams QoS 1 samples (each with a unique event time) through ingest into a PRIVATE
 * real Kafka broker (own ports, own temp dir: the shared one is never touched). Mid-stream we
 * SIGKILL (1) the Kafka broker, then restart it, and (2) a spawned `vitals ingest`, then start
 * it again. mqtt.js reconnects and resends what was not acknowledged. Afterwards every PUBACKed
 * sample must be on vitals.samples (or vitals.backlog when older than the live window); duplicates are allowed, loss is not.
 *
 * Budget: a broker restarted after kill -9 on the same node id is accepted only once its old
 * registration times out (~17 s), so this suite takes about a minute.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createKafkaBus } from '../../adapters/bus/kafka.js';
import { DEFAULT_TOPIC_SPECS } from '../../adapters/bus/topics.js';
import { TOPICS, type Bus } from '../../core/ports.js';
import { absentStore } from '../../platform/absent.js';
import { loadConfig } from '../../platform/config.js';
import { systemClock } from '../../platform/context.js';
import { createLogger } from '../../platform/log.js';
import { createMetricsRegistry } from '../../platform/metrics.js';
import { startRegistryView, type RegistryView } from '../../platform/registry-view.js';
import { isPortFree } from '../../dev-services/process-control.js';
import { startPrivateKafka, type PrivateKafka } from '../../dev-services/private-kafka.js';
import { startIngest, type IngestService } from '../../ingest/ingest.js';
import { builtCli, tempDir, waitFor } from './helpers.js';
import { metricValue, provisionOnBus } from './ingest-helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = builtCli();
const RATE_PER_SEC = 200;

/** A device streaming QoS 1 samples with unique event times, remembering which were PUBACKed. */
class Streamer {
  readonly acked = new Set<number>();
  readonly sent = new Set<number>();
  /** Publishes mqtt.js gave up on (callback error, no PUBACK), by message. */
  readonly failed = new Map<string, number>();
  readonly events: string[] = [];
  private readonly born = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  readonly client: MqttClient;
  disconnects = 0;

  constructor(
    port: number,
    readonly deviceId: string,
    token: string,
    private readonly t0: number,
  ) {
    // Reconnect quickly and resend whatever is unacknowledged (mqtt.js keeps it in its outgoing store).
    this.client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: deviceId, username: deviceId, password: token, reconnectPeriod: 300, connectTimeout: 3000 });
    this.client.on('close', () => {
      this.disconnects++;
      this.events.push(`${Date.now() - this.born}ms close`);
    });
    this.client.on('connect', () => this.events.push(`${Date.now() - this.born}ms connect`));
    this.client.on('error', () => undefined);
  }

  start(): void {
    const perTick = Math.max(1, Math.round(RATE_PER_SEC / 50));
    this.timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) {
        const ts = this.t0 + this.seq++;
        this.sent.add(ts);
        this.client.publish(`devices/${this.deviceId}/vitals`, JSON.stringify({ ts, hr: 60 + (ts % 50), spo2: 97 }), { qos: 1 }, (err) => {
          if (!err) this.acked.add(ts);
          else this.failed.set(err.message, (this.failed.get(err.message) ?? 0) + 1);
        });
      }
    }, 20);
  }

  /** Event time of the latest publish so far. */
  lastTs(): number {
    return this.t0 + this.seq - 1;
  }

  /** Samples published after `ts` that were not acknowledged (liveness once the fault is over). */
  unackedAfter(ts: number): number {
    let n = 0;
    for (const t of this.sent) if (t > ts && !this.acked.has(t)) n++;
    return n;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get failedCount(): number {
    return [...this.failed.values()].reduce((a, b) => a + b, 0);
  }

  /** Wait until every publish has settled: PUBACKed, or given up on by the client. */
  async drain(timeoutMs: number): Promise<void> {
    await waitFor(`${this.deviceId}: every publish settled (${this.acked.size} acked + ${this.failedCount} failed of ${this.sent.size}; ${this.events.join(', ')})`, () => this.acked.size + this.failedCount === this.sent.size, timeoutMs, 100);
  }

  describe(): string {
    return `failed ${JSON.stringify(Object.fromEntries(this.failed))}; events ${this.events.join(', ')}`;
  }

  end(): void {
    this.stop();
    this.client.end(true);
  }
}

/** Every event time on vitals.samples and vitals.backlog (older than the live window) for a device, read back from the broker from the start. */
async function samplesOnKafka(brokers: string, deviceId: string): Promise<number[]> {
  const bus = await createKafkaBus({ brokers: [brokers] });
  const seen: number[] = [];
  try {
    const sub = await bus.tail({
      topics: [TOPICS.samples, TOPICS.backlog],
      from: 'earliest',
      handler: async (rs) => {
        for (const r of rs) {
          const s = JSON.parse(r.value ?? 'null') as { deviceId: string; ts: number } | null;
          if (s?.deviceId === deviceId) seen.push(s.ts);
        }
      },
    });
    await sub.caughtUp;
    await sub.stop();
  } finally {
    await bus.close();
  }
  return seen;
}

function verdict(s: Streamer, onBus: number[]): { acked: number; lost: number[]; duplicates: number } {
  const present = new Set(onBus);
  const lost = [...s.acked].filter((ts) => !present.has(ts));
  return { acked: s.acked.size, lost, duplicates: onBus.length - present.size };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ingest: no acknowledged QoS 1 sample is lost across restarts (private Kafka)', () => {
  let kafka: PrivateKafka;
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('ingest-restart');
    kafka = await startPrivateKafka({ root: ROOT, dir: path.join(dir, 'kafka'), progress: (l) => process.stderr.write(`[ingest-restart] ${l}\n`) });
    const bus = await createKafkaBus({ brokers: [kafka.brokers] });
    await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
    await provisionOnBus(bus, 'rs-kafka', 'rs-token-1', 'MRN-RS-1');
    await provisionOnBus(bus, 'rs-ingest', 'rs-token-2', 'MRN-RS-2');
    await bus.close();
  }, 180_000);

  afterAll(async () => {
    await kafka?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('Kafka SIGKILLed mid-stream and restarted', async () => {
    const cfg = loadConfig({ KAFKA_BROKERS: kafka.brokers, VITALS_MQTT_PORT: '0', VITALS_DEVICE_RATE: '100000' });
    if (!cfg.ok) throw new Error(cfg.errors.join('; '));
    const logLines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (l: string) => void logLines.push(l) } });
    const bus: Bus = await createKafkaBus({ brokers: [kafka.brokers], log });
    const registry: RegistryView = await startRegistryView(bus, log);
    await registry.caughtUp;
    const metrics = createMetricsRegistry();
    const ingest: IngestService = await startIngest({ config: cfg.config, log, clock: systemClock, metrics, bus, store: absentStore() }, registry);
    const dev = new Streamer(ingest.port, 'rs-kafka', 'rs-token-1', Date.now() - 600_000);
    try {
      await waitFor('device connected', () => dev.client.connected);
      dev.start();
      await sleep(2000);
      const before = dev.acked.size;
      await kafka.kill('SIGKILL');
      const killedAt = Date.now();
      await sleep(1000);
      const restarting = kafka.restart(120_000);
      await restarting;
      const back = Date.now() - killedAt;
      // The broker listening is not yet the broker serving (leadership, the producer's reconnect):
      // liveness is judged from the first acknowledgement of a sample sent after the restart.
      const sentAtRestart = dev.lastTs();
      await waitFor('a sample sent after the restart is acknowledged', () => [...dev.acked].some((t) => t > sentAtRestart), 60_000, 100);
      const lastBeforeBack = dev.lastTs();
      await sleep(3000); // keep streaming on the recovered broker
      dev.stop();
      await dev.drain(90_000);
      const result = verdict(dev, await samplesOnKafka(kafka.brokers, 'rs-kafka'));
      console.log(`kafka kill -9: ${dev.sent.size} sent, ${before} acked before the kill, ${result.acked} acked in all, ${dev.failedCount} given up by the client, broker back after ${back} ms, ${dev.disconnects} device disconnects, ${result.duplicates} duplicates, ${result.lost.length} lost; ${dev.describe()}`);
      expect(before).toBeGreaterThan(0);
      // The guarantee: nothing acknowledged is missing. Duplicates are allowed.
      expect(result.lost).toEqual([]);
      // And ingest recovers: what the device sent once Kafka was back is acknowledged.
      expect(dev.unackedAfter(lastBeforeBack)).toBe(0);
    } catch (e) {
      const tail = logLines.slice(-25).map((l) => l.slice(0, 400)).join('');
      const c = dev.client as unknown as Record<string, unknown>;
      const client = `connected ${dev.client.connected}, disconnects ${dev.disconnects}, outgoing ${Object.keys((c.outgoing as object) ?? {}).length}, storeProcessing ${String(c._storeProcessing)}, storeQueue ${(c._storeProcessingQueue as unknown[] | undefined)?.length}`;
      const accepted = await metricValue(metrics, 'vitals_ingest_samples_total');
      throw new Error(`${(e as Error).message}\n(device: ${client}; ${dev.describe()}; ingest accepted ${accepted})\n--- ingest log tail:\n${tail}`, { cause: e });
    } finally {
      dev.end();
      await ingest.stop();
      await registry.stop();
      await bus.close();
    }
  }, 240_000);

  it('`vitals ingest` SIGKILLed mid-stream and started again', async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: run \`npm run build\` first`);
    let port = 0;
    for (let i = 0; i < 20 && !port; i++) {
      const p = 20000 + Math.floor(Math.random() * 20000);
      if (await isPortFree(p)) port = p;
    }
    const out: string[] = [];
    const startIngestProcess = (): ChildProcess => {
      const p = spawn(process.execPath, [CLI, 'ingest'], {
        env: { ...process.env, KAFKA_BROKERS: kafka.brokers, VITALS_MQTT_PORT: String(port), VITALS_HTTP_PORT: '0', VITALS_DATA_DIR: path.join(dir, 'data'), VITALS_DEVICE_RATE: '100000', VITALS_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      p.stdout?.on('data', (d) => out.push(String(d)));
      p.stderr?.on('data', (d) => out.push(String(d)));
      return p;
    };
    let proc = startIngestProcess();
    const dev = new Streamer(port, 'rs-ingest', 'rs-token-2', Date.now() - 300_000);
    try {
      await waitFor('device connected to the spawned ingest', () => dev.client.connected, 60_000);
      dev.start();
      await sleep(2000);
      const before = dev.acked.size;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
      await sleep(500);
      proc = startIngestProcess();
      const lastBeforeRestart = dev.lastTs();
      await sleep(4000);
      dev.stop();
      await dev.drain(60_000);
      const result = verdict(dev, await samplesOnKafka(kafka.brokers, 'rs-ingest'));
      console.log(`ingest kill -9: ${dev.sent.size} sent, ${before} acked before the kill, ${result.acked} acked in all, ${dev.failedCount} given up by the client, ${dev.disconnects} device disconnects, ${result.duplicates} duplicates, ${result.lost.length} lost; ${dev.describe()}`);
      expect(before).toBeGreaterThan(0);
      expect(result.lost).toEqual([]);
      expect(dev.unackedAfter(lastBeforeRestart)).toBe(0);
      expect(out.join('')).not.toContain('MRN-RS');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- ingest output:\n${out.join('').split('\n').slice(-20).join('\n')}`, { cause: e });
    } finally {
      dev.end();
      const exited = new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 15_000).unref();
      await exited;
    }
  }, 180_000);
});
