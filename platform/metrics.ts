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
