/**
 * The embedded store's own memory as a Prometheus gauge: DuckDB's buffer pool by tag (table data,
 * indexes, …). With `process_resident_memory_bytes` and the heap gauges it tells an operator whose
 * memory a growing process holds: DuckDB's stays under its `VITALS_DUCKDB_MEMORY_MB` limit, so
 * growth beyond that is the process's own.
 *
 * Read at most once per `refreshMs` and off the scrape's path: a `duckdb_memory()` query at every
 * scrape (5 s in the 5,000-patient bench) coincided with that target's misses (BENCHMARKS.md),
 * and memory that moves over minutes needs no fresher reading.
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
export const STORE_MEMORY_REFRESH_MS = 60_000;

/**
 * Register the gauge once per registry. The first scrape waits for a reading; later ones serve the
 * last reading and, once it is older than `refreshMs`, start the next one in the background. A failed
 * read leaves the series out until a read succeeds.
 */
export function registerStoreMemoryGauge(registry: Registry, source: EngineMemorySource, refreshMs = STORE_MEMORY_REFRESH_MS, now: () => number = Date.now): void {
  if (registry.getSingleMetric(STORE_MEMORY_METRIC)) return;
  let last: { at: number; held: ReadonlyArray<{ tag: string; bytes: number }> } | undefined;
  let reading: Promise<void> | undefined;
  const read = (): Promise<void> =>
    (reading ??= source
      .engineMemory()
      .catch(() => [])
      .then((held) => {
        last = { at: now(), held };
      })
      .finally(() => {
        reading = undefined;
      }));
  new Gauge({
    name: STORE_MEMORY_METRIC,
    help: 'Memory the embedded DuckDB store holds, by DuckDB tag (its sum stays under VITALS_DUCKDB_MEMORY_MB; read at most once a minute)',
    labelNames: ['tag'],
    registers: [registry],
    async collect() {
      if (!last) await read();
      else if (now() - last.at >= refreshMs) void read();
      this.reset();
      for (const m of last?.held ?? []) this.set({ tag: m.tag }, m.bytes);
    },
  });
}
