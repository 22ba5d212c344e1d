/**
 * The embedded store's own memory as a Prometheus gauge, read at scrape time: DuckDB's buffer pool
 * by tag (table data, indexes, …). With `process_resident_memory_bytes` and the heap gauges it
 * tells an operator whose memory a growing process holds: DuckDB's stays under its
 * `VITALS_DUCKDB_MEMORY_MB` limit, so growth beyond that is the process's own.
 */
import { Gauge, type Registry } from 'prom-client';

export interface EngineMemorySource {
  engineMemory(): Promise<ReadonlyArray<{ tag: string; bytes: number }>>;
}

/** Whether a store reports its engine's memory (the embedded DuckDB store does; ClickHouse is another process). */
export function reportsEngineMemory(store: object): store is EngineMemorySource {
  return typeof (store as Partial<EngineMemorySource>).engineMemory === 'function';
}

export const STORE_MEMORY_METRIC = 'vitals_store_engine_memory_bytes';

/** Register the gauge once per registry; a failed read leaves the series out of that scrape. */
export function registerStoreMemoryGauge(registry: Registry, source: EngineMemorySource): void {
  if (registry.getSingleMetric(STORE_MEMORY_METRIC)) return;
  new Gauge({
    name: STORE_MEMORY_METRIC,
    help: 'Memory the embedded DuckDB store holds, by DuckDB tag (its sum stays under VITALS_DUCKDB_MEMORY_MB)',
    labelNames: ['tag'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const m of await source.engineMemory().catch(() => [])) this.set({ tag: m.tag }, m.bytes);
    },
  });
}
