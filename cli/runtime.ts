/**
 * Runs a target: builds the shared infrastructure once (bus, store), starts the
 * modules in dependency order, aggregates readiness, and stops everything in
 * reverse on SIGTERM/SIGINT. If any module fails to start, the whole process stops.
 */
import http from 'node:http';
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { TOPICS, type Bus, type Store } from '../core/ports.js';
import { createMemoryBus } from '../adapters/bus/memory.js';
import { createKafkaBus } from '../adapters/bus/kafka.js';
import { DEFAULT_TOPIC_SPECS } from '../adapters/bus/topics.js';
import { prefixedBus } from '../adapters/bus/prefixed.js';
import { createDuckDbStore } from '../adapters/store/duckdb.js';
import { createClickHouseStore } from '../adapters/store/clickhouse.js';
import type { Config } from '../platform/config.js';
import { systemClock, type Context, type Service } from '../platform/context.js';
import type { Logger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { registerLagGauge, reportsLag } from '../platform/lag-metric.js';
import { startRegistryView, type RegistryView } from '../platform/registry-view.js';
import { backoffDelay } from '../platform/backoff.js';
import { SINK_TOPICS, sinkGroupId } from '../sink/sink.js';
import { RULES_GROUP } from '../stream-rules/rules-role.js';
import { MODULES, infraNeeds, orderedModules, type ModuleName } from './modules.js';
import { absentBus, absentStore } from '../platform/absent.js';
import { secureDataDir } from '../platform/data-dir.js';

/** Start-up was cancelled (SIGTERM/SIGINT while connecting): a clean stop, not a failure. */
export class StartAborted extends Error {
  constructor() {
    super('start-up cancelled');
    this.name = 'StartAborted';
  }
}

export interface Running {
  services: Map<ModuleName, Service>;
  ctx: Context | null;
  stop(): Promise<void>;
}

type Check = { ok: boolean; detail?: string };

/** Retry `make` with backoff until it succeeds or `abort` says stop; reports each failure. */
async function connectWithRetry<T>(what: string, make: () => Promise<T>, log: Logger, status: Map<string, Check>, aborted: () => boolean): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const v = await make();
      status.set(what, { ok: true });
      return v;
    } catch (e) {
      const detail = `unreachable: ${(e as Error).message}`.slice(0, 300);
      status.set(what, { ok: false, detail });
      if (aborted()) throw e;
      const wait = backoffDelay(attempt);
      log.warn({ what, attempt, retryInMs: wait, err: (e as Error).message }, `${what} not reachable at start; retrying`);
      // Sleep in short steps so a SIGTERM during the wait stops at once.
      for (let slept = 0; slept < wait && !aborted(); slept += 100) await new Promise((r) => setTimeout(r, 100));
      if (aborted()) throw e;
    }
  }
}

/** Until the gateway is up, answer /healthz and /readyz on its port so operators see why it is waiting. */
function startInterimOps(config: Config, status: Map<string, Check>): Promise<http.Server | null> {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/healthz') return void res.end(JSON.stringify({ status: 'ok' }));
    const checks = Object.fromEntries(status);
    res.statusCode = 503;
    res.end(JSON.stringify(req.url === '/readyz' ? { status: 'not ready', checks } : { error: { code: 'VTL_ERR_BUS_UNAVAILABLE', message: 'starting: waiting for bus and store' } }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? reject(new Error(`HTTP port ${config.httpPort} on ${config.host} is already in use`)) : resolve(null)));
    server.listen(config.httpPort, config.host, () => resolve(server));
  });
}

export async function createBus(config: Config, log: Logger): Promise<Bus> {
  if (config.kafkaBrokers) {
    // The sink's and the rules role's groups, whichever processes run them: ingest flow-controls on their lag
    // (docs/decisions/0012-flow-control.md).
    const p = config.topicPrefix;
    const watchGroups = [
      { groupId: `${p}${sinkGroupId(config.clickhouseUrl ? config.clickhouseDatabase : null)}`, topics: SINK_TOPICS.map((t) => `${p}${t}`) },
      { groupId: `${p}${RULES_GROUP}`, topics: [TOPICS.samples, TOPICS.backlog].map((t) => `${p}${t}`) },
    ];
    return prefixedBus(await createKafkaBus({ brokers: config.kafkaBrokers, log, watchGroups }), p);
  }
  return createMemoryBus({ dataDir: config.dataDir, log });
}

export async function createStore(config: Config, log: Logger): Promise<Store> {
  if (config.clickhouseUrl) return createClickHouseStore({ url: config.clickhouseUrl, database: config.clickhouseDatabase, log });
  await mkdir(config.dataDir, { recursive: true });
  return createDuckDbStore({ path: path.join(config.dataDir, 'vitals.duckdb'), memoryLimitMb: config.duckdbMemoryMb, threads: config.duckdbThreads, log });
}

/**
 * Start `target` and everything it depends on.
 * @param signal - aborting it (SIGTERM during start-up) stops what started and rejects with StartAborted
 */
export async function runTarget(target: ModuleName, config: Config, log: Logger, signal?: AbortSignal): Promise<Running> {
  const order = orderedModules(target).filter((m) => MODULES[m].init || m === 'registry');
  const needs = infraNeeds(target);
  const status = new Map<string, Check>();
  const services = new Map<ModuleName, Service>();
  let stopping = false;
  let ctx: Context | null = null;
  let registry: RegistryView | null = null;
  const metrics = createMetricsRegistry({ defaults: true });

  const ready = async (): Promise<{ ok: boolean; checks: Record<string, Check> }> => {
    const checks: Record<string, Check> = {};
    if (ctx) {
      const [b, s] = await Promise.all([ctx.bus.healthy().catch(() => false), ctx.store.healthy().catch(() => false)]);
      if (needs.bus) checks.bus = b ? { ok: true } : { ok: false, detail: `${ctx.bus.kind} unreachable` };
      if (needs.store) checks.store = s ? { ok: true } : { ok: false, detail: `${ctx.store.kind} unreachable` };
    } else for (const [k, v] of status) checks[k] = v;
    for (const [name, svc] of services) if (svc.ready) checks[name] = await svc.ready().catch((e: unknown) => ({ ok: false, detail: (e as Error).message }));
    return { ok: Object.values(checks).every((c) => c.ok), checks };
  };

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // Reverse order: stop taking work (MQTT, HTTP) before the consumers, then flush the bus and store.
    for (const name of [...services.keys()].reverse()) {
      try {
        await services.get(name)?.stop();
      } catch (e) {
        log.error({ module: name, err: (e as Error).message }, 'stop failed');
      }
    }
    await registry?.stop().catch(() => undefined);
    if (ctx) {
      await ctx.bus.close().catch((e: unknown) => log.error({ err: (e as Error).message }, 'bus close failed'));
      await ctx.store.close().catch((e: unknown) => log.error({ err: (e as Error).message }, 'store close failed'));
    }
  };

  // Private before anything is written to it (bus segments, DuckDB, the signing key).
  const loosened = await secureDataDir(config.dataDir);
  if (loosened.length > 0) log.warn({ dataDir: config.dataDir, tightened: loosened.length, first: loosened.slice(0, 5) }, 'data dir entries were readable by others; now owner-only (0700 dirs, 0600 files)');

  const onAbort = (): void => void stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const interim = needs.bus || needs.store ? (order.includes('gateway') ? await startInterimOps(config, status) : null) : null;
    if (needs.bus) status.set('bus', { ok: false, detail: 'connecting' });
    if (needs.store) status.set('store', { ok: false, detail: 'connecting' });
    const [bus, store] = await Promise.all([
      needs.bus
        ? connectWithRetry('bus', async () => {
            const b = await createBus(config, log);
            await b.ensureTopics(DEFAULT_TOPIC_SPECS);
            return b;
          }, log, status, () => stopping)
        : absentBus(),
      needs.store
        ? connectWithRetry('store', async () => {
            const s = await createStore(config, log);
            await s.migrate();
            return s;
          }, log, status, () => stopping)
        : absentStore(),
    ]);
    ctx = { config, log, clock: systemClock, metrics, bus, store };
    if (needs.bus && reportsLag(bus)) registerLagGauge(metrics, bus);
    if (interim) await new Promise<void>((r) => interim.close(() => r()));

    for (const name of order) {
      if (stopping) break;
      if (name === 'registry') {
        registry = await startRegistryView(ctx.bus, log.child({ role: 'registry' }));
        await registry.caughtUp;
        continue;
      }
      const def = MODULES[name];
      if (!def.init) continue;
      const env = {
        ctx,
        registry: () => {
          if (!registry) throw new Error('registry not started');
          return registry;
        },
        ready,
        started: services,
      };
      services.set(name, await def.init(env));
      log.info({ module: name }, 'module started');
    }
    if (stopping) throw new StartAborted();
  } catch (e) {
    const cancelled = signal?.aborted === true;
    await stop();
    throw cancelled ? new StartAborted() : e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { services, ctx, stop };
}
