/**
 * A gateway on the embedded bus and an in-memory DuckDB, for the gateway's tests and the
 * WebSocket benchmark: tokens, bus publishing helpers, and a recording WebSocket client.
 * Not used in production code paths.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket, { type ClientOptions } from 'ws';
import { createMemoryBus } from '../../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../../adapters/bus/topics.js';
import { createDuckDbStore } from '../../adapters/store/duckdb.js';
import type { Alert, AlertEvent, AlertEventType } from '../../core/alerts-model.js';
import { TOPICS, type Bus, type Store } from '../../core/ports.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { loadConfig, type Config } from '../../platform/config.js';
import { systemClock, type Context } from '../../platform/context.js';
import { loadSigningKey, signToken, type Principal } from '../../platform/jwt.js';
import { createLogger, type Logger } from '../../platform/log.js';
import { createMetricsRegistry } from '../../platform/metrics.js';
import { startRegistryView, type RegistryView } from '../../platform/registry-view.js';
import { startGateway, type GatewayOptions, type GatewayService } from '../../dashboard-gateway/gateway.js';

export interface Harness {
  dataDir: string;
  config: Config;
  bus: Bus;
  store: Store;
  registry: RegistryView;
  log: Logger;
  logLines: string[];
  /** Start (another) gateway instance on the same bus and store. */
  gateway(env?: Record<string, string>, opts?: GatewayOptions): Promise<GatewayService>;
  token(p: Principal, ttlSec?: number, nowMs?: number): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(opts: { bus?: Bus; store?: Store; dataDir?: string } = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'vitals-gw-')));
  const logLines: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (s: string) => void logLines.push(s) } });
  const bus = opts.bus ?? (await createMemoryBus({ log }));
  await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
  const store = opts.store ?? (await createDuckDbStore({ path: ':memory:' }));
  await store.migrate();
  const registry = await startRegistryView(bus, log);
  await registry.caughtUp;
  const key = await loadSigningKey(dataDir);
  const gateways: GatewayService[] = [];
  const h: Harness = {
    dataDir,
    config: null as unknown as Config,
    bus,
    store,
    registry,
    log,
    logLines,
    async gateway(env = {}, gopts = {}) {
      const cfg = loadConfig({ VITALS_DATA_DIR: dataDir, VITALS_HTTP_PORT: '0', VITALS_LOG_LEVEL: 'debug', ...env });
      if (!cfg.ok) throw new Error(cfg.errors.join('; '));
      h.config = cfg.config;
      const ctx: Context = { config: cfg.config, log, clock: systemClock, metrics: createMetricsRegistry(), bus, store };
      const g = await startGateway(ctx, registry, async () => ({ ok: true, checks: {} }), gopts);
      gateways.push(g);
      return g;
    },
    token: (p, ttlSec = 600, nowMs = Date.now()) => signToken(key, p, ttlSec, nowMs),
    async close() {
      for (const g of gateways.reverse()) await g.stop().catch(() => undefined);
      await registry.stop();
      if (!opts.bus) await bus.close();
      if (!opts.store) await store.close();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}

let alertCounter = 0;

/** Publish one alert event on the alert log (as the rules role would). */
export async function publishAlert(bus: Bus, a: Partial<Alert> & { patientId: string; ward: string }, event: AlertEventType = 'raised', ts = Date.now()): Promise<AlertEvent> {
  const alert: Alert = {
    id: a.id ?? `al-${++alertCounter}`,
    ruleId: 'test-rule',
    kind: 'clinical',
    priority: 'high',
    state: event === 'acknowledged' ? 'acknowledged' : event === 'resolved' ? 'resolved' : 'open',
    openedAt: ts,
    message: 'test alert',
    ...a,
  };
  const ev: AlertEvent = { v: 1, eventId: `${alert.id}:${event}:${ts}`, event, ts, alert };
  await bus.publish(TOPICS.alerts, [{ key: alert.patientId, value: JSON.stringify(ev), timestamp: ts }]);
  return ev;
}

/** Publish one canonical sample (as ingest would). */
export async function publishSample(bus: Bus, patientId: string, ward: string, metrics: CanonicalSample['metrics'], ts = Date.now()): Promise<CanonicalSample> {
  const s: CanonicalSample = { v: 1, deviceId: `dev-${patientId}`, patientId, ward, bed: '1', ts, recvTs: ts, source: 'device', metrics, traceId: `t-${ts}` };
  await bus.publish(TOPICS.samples, [{ key: patientId, value: JSON.stringify(s), timestamp: ts }]);
  return s;
}

export async function until<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 10_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A dashboard WebSocket that records every message, with arrival times. */
export class Client {
  readonly messages: any[] = [];
  readonly arrivals: number[] = [];
  closed: { code: number; reason: string } | null = null;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.messages.push(JSON.parse(d.toString()));
      this.arrivals.push(performance.now());
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    ws.on('error', () => undefined);
  }

  static open(url: string, token: string | null, opts: ClientOptions = {}): Promise<Client> {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws', { ...opts, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.headers ?? {}) } });
    const c = new Client(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  /** Open, wait for ready, subscribe and wait for the snapshot. */
  static async subscribed(url: string, token: string, sub: { wards?: string[]; patients?: string[] }, opts: ClientOptions = {}): Promise<Client> {
    const c = await Client.open(url, token, opts);
    await c.waitFor('ready', (m) => m.type === 'ready');
    c.send({ op: 'subscribe', ...sub });
    await c.waitFor('snapshot', (m) => m.type === 'snapshot');
    return c;
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  of(type: string): any[] {
    return this.messages.filter((m) => m.type === type);
  }

  waitFor(what: string, pred: (m: any) => boolean, timeoutMs = 10_000): Promise<any> {
    return until(what, () => this.messages.find(pred), timeoutMs);
  }

  waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    return until('close', () => this.closed, timeoutMs);
  }

  close(): void {
    this.ws.close();
  }
}
