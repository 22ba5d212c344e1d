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
import { opsPortFor, type Config } from '../platform/config.js';
import { systemClock, type Context, type OpsHooks, type Service } from '../platform/context.js';
import { startOpsServer, type OpsServer } from '../platform/ops-server.js';
import type { Logger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { registerLagGauge, reportsLag } from '../platform/lag-metric.js';
import { registerStoreMemoryGauge, reportsEngineMemory } from '../platform/store-memory-metric.js';
import { retry } from '../platform/backoff.js';
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
  /** The ops port bound (split ingest, rules, sink), null when the target has none of its own. */
  opsPort: number | null;
  stop(): Promise<void>;
}

type Check = { ok: boolean; detail?: string };

/**
 * Retry `make` with backoff while it fails with a retriable error (Kafka or ClickHouse not up
 * yet) until it succeeds or `aborted` says stop; any other error (a bad setting, a data dir it
 * cannot write) fails the start at once. Each failure is reported in `status` for /readyz.
 */
async function connectWithRetry<T>(what: string, make: () => Promise<T>, log: Logger, status: Map<string, Check>, aborted: () => boolean): Promise<T> {
  const v = await retry(
    async () => {
      try {
        return await make();
      } catch (e) {
        status.set(what, { ok: false, detail: `unreachable: ${(e as Error).message}`.slice(0, 300) });
        throw e;
      }
    },
    {
      aborted,
      onRetry: (e, attempt, waitMs) => log.warn({ what, attempt, retryInMs: waitMs, err: (e as Error).message }, `${what} not reachable at start; retrying`),
    },
  );
  status.set(what, { ok: true });
  return v;
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

/**
 * @param runsSink - whether this process runs the sink itself: then the group is its own; otherwise
 *   the sink is a split `vitals sink`, which runs only on ClickHouse (`vitals-sink.<database>`), even
 *   when this process (an ingest) was given no CLICKHOUSE_URL.
 */
export async function createBus(config: Config, log: Logger, runsSink = true): Promise<Bus> {
  if (config.kafkaBrokers) {
    // The sink's and the rules role's groups, whichever processes run them: ingest flow-controls on their lag
    // (docs/decisions/0012-flow-control.md).
    const p = config.topicPrefix;
    const sinkDb = config.clickhouseUrl || !runsSink ? config.clickhouseDatabase : null;
    const watchGroups = [
      { groupId: `${p}${sinkGroupId(sinkDb)}`, topics: SINK_TOPICS.map((t) => `${p}${t}`) },
      { groupId: `${p}${RULES_GROUP}`, topics: [TOPICS.samples, TOPICS.backlog].map((t) => `${p}${t}`) },
    ];
    return prefixedBus(await createKafkaBus({ brokers: config.kafkaBrokers, log, watchGroups, producers: config.kafkaProducers }), p);
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
  const order = orderedModules(target).filter((m) => MODULES[m].init);
  const needs = infraNeeds(target);
  const status = new Map<string, Check>();
  const services = new Map<ModuleName, Service>();
  let stopping = false;
  let ctx: Context | null = null;
  const metrics = createMetricsRegistry({ defaults: true });
  const extraChecks = new Map<string, () => Promise<Check>>();
  const ops: OpsHooks = {
    addReadinessCheck: (name, check) => {
      extraChecks.set(name, check);
      return () => void extraChecks.delete(name);
    },
  };
  let opsServer: OpsServer | null = null;
  // Modules not started yet: a process is not ready while, e.g., ingest's registry view catches up
  // and its MQTT port is not open (a balancer would send devices to it).
  const pending = new Set<string>(order);

  const ready = async (): Promise<{ ok: boolean; checks: Record<string, Check> }> => {
    const checks: Record<string, Check> = {};
    if (ctx) {
      const [b, s] = await Promise.all([ctx.bus.healthy().catch(() => false), ctx.store.healthy().catch(() => false)]);
      if (needs.bus) checks.bus = b ? { ok: true } : { ok: false, detail: `${ctx.bus.kind} unreachable` };
      if (needs.store) checks.store = s ? { ok: true } : { ok: false, detail: `${ctx.store.kind} unreachable` };
    } else for (const [k, v] of status) checks[k] = v;
    for (const [name, svc] of services) if (svc.ready) checks[name] = await svc.ready().catch((e: unknown) => ({ ok: false, detail: (e as Error).message }));
    for (const [name, check] of extraChecks) checks[name] = await check().catch((e: unknown) => ({ ok: false, detail: (e as Error).message }));
    if (pending.size > 0) checks.modules = { ok: false, detail: `starting: ${[...pending].join(', ')}` };
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
    if (ctx) {
      await ctx.bus.close().catch((e: unknown) => log.error({ err: (e as Error).message }, 'bus close failed'));
      await ctx.store.close().catch((e: unknown) => log.error({ err: (e as Error).message }, 'store close failed'));
    }
    // Last: probes and scrapers see the drain (a 503 from stopped modules) until the process goes.
    await opsServer?.close();
  };

  // Private before anything is written to it (bus segments, DuckDB, the signing key).
  const loosened = await secureDataDir(config.dataDir);
  if (loosened.length > 0) log.warn({ dataDir: config.dataDir, tightened: loosened.length, first: loosened.slice(0, 5) }, 'data dir entries were readable by others; now owner-only (0700 dirs, 0600 files)');

  const onAbort = (): void => void stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (needs.bus) status.set('bus', { ok: false, detail: 'connecting' });
    if (needs.store) status.set('store', { ok: false, detail: 'connecting' });
    // A split role's ops port answers from the start, so a probe sees "bus: connecting" while it waits.
    const opsPort = opsPortFor(config, target);
    if (opsPort !== null) {
      opsServer = await startOpsServer({ host: config.host, port: opsPort, metrics, ready, log });
      log.info({ opsPort: opsServer.port }, `ops endpoints on http://${config.host}:${opsServer.port} (/healthz, /readyz, /metrics)`);
    }
    const interim = needs.bus || needs.store ? (order.includes('gateway') ? await startInterimOps(config, status) : null) : null;
    // When one of the two fails for good, the other stops retrying too (the start is over).
    let failed = false;
    const giveUp = (): boolean => stopping || failed;
    const connect = <T,>(what: 'bus' | 'store', make: () => Promise<T>): Promise<T> =>
      connectWithRetry(what, make, log, status, giveUp).catch((e: unknown) => {
        failed = true;
        throw e;
      });
    const [busResult, storeResult] = await Promise.allSettled([
      needs.bus
        ? connect('bus', async () => {
            const b = await createBus(config, log, order.includes('sink'));
            await b.ensureTopics(DEFAULT_TOPIC_SPECS).catch(async (e: unknown) => {
              await b.close().catch(() => undefined);
              throw e;
            });
            return b;
          })
        : absentBus(),
      needs.store
        ? connect('store', async () => {
            const s = await createStore(config, log);
            await s.migrate().catch(async (e: unknown) => {
              await s.close().catch(() => undefined);
              throw e;
            });
            return s;
          })
        : absentStore(),
    ]);
    if (busResult.status === 'rejected' || storeResult.status === 'rejected') {
      // One failed for good (or the start was cancelled): close the other rather than leave it open.
      if (busResult.status === 'fulfilled') await busResult.value.close().catch(() => undefined);
      if (storeResult.status === 'fulfilled') await storeResult.value.close().catch(() => undefined);
      throw busResult.status === 'rejected' ? busResult.reason : (storeResult as PromiseRejectedResult).reason;
    }
    const bus = busResult.value;
    const store = storeResult.value;
    ctx = { config, log, clock: systemClock, metrics, bus, store, ops };
    if (needs.bus && reportsLag(bus)) registerLagGauge(metrics, bus);
    if (needs.store && reportsEngineMemory(store)) registerStoreMemoryGauge(metrics, store);
    if (interim) await new Promise<void>((r) => interim.close(() => r()));

    for (const name of order) {
      if (stopping) break;
      const def = MODULES[name];
      if (!def.init) continue;
      const env = { ctx, ready, started: services };
      services.set(name, await def.init(env));
      pending.delete(name);
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
  return { services, ctx, opsPort: opsServer?.port ?? null, stop };
}
