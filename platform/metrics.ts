/**
 * Prometheus metrics of one process. A registry per context (not prom-client's
 * global) so two instances can run in one process or one test.
 * Label values are never patient data: reasons, topics, roles only.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetricsRegistry(opts: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Seconds: a store insert (ms for DuckDB, tens of ms for ClickHouse, seconds when it struggles). */
export const STORE_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds from a vital sign's event time to its alert on the bus: the clinical promise is seconds. */
export const ALERT_LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];

/** Get-or-create, so modules sharing a registry in `vitals start` share the series. */
function getOrCreate<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  return getOrCreate(registry, name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

export function gauge(registry: Registry, name: string, help: string, labelNames: string[] = []): Gauge<string> {
  return getOrCreate(registry, name, () => new Gauge({ name, help, labelNames, registers: [registry] }));
}

export function histogram(registry: Registry, name: string, help: string, buckets: number[], labelNames: string[] = []): Histogram<string> {
  return getOrCreate(registry, name, () => new Histogram({ name, help, buckets, labelNames, registers: [registry] }));
}

const sampled = new WeakMap<Registry, Map<string, Set<() => number>>>();

/**
 * A gauge read at scrape time from live state (open sockets, ...): the sum of every reader
 * registered under the name, so several instances in one process (tests, `vitals start`) add up.
 * @returns unregister, for the instance's stop
 */
export function sampledGauge(registry: Registry, name: string, help: string, read: () => number): () => void {
  let byName = sampled.get(registry);
  if (!byName) sampled.set(registry, (byName = new Map()));
  let readers = byName.get(name);
  if (!readers) {
    const set = new Set<() => number>();
    byName.set(name, (readers = set));
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        let sum = 0;
        for (const r of set) sum += r();
        this.set(sum);
      },
    });
  }
  readers.add(read);
  return () => void readers.delete(read);
}
