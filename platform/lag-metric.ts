/**
 * Consumer lag as a Prometheus gauge, read from the bus at scrape time: records each consumer
 * group or named reader has not read yet, per topic. The number an operator watches: lag that
 * grows means a role cannot keep up, and alerts arrive late.
 */
import { Gauge, type Registry } from 'prom-client';

type LagRow = { consumer: string; topic: string; lag: number; required?: boolean; partitions?: ReadonlyArray<{ partition: number; lag: number }> };

export interface LagSource {
  lag(): Promise<ReadonlyArray<LagRow>>;
}

/** Whether a bus reports lag (the Bus port gains `lag()` with the flow-control work; adapters without it show no series). */
export function reportsLag(bus: object): bus is LagSource {
  return typeof (bus as Partial<LagSource>).lag === 'function';
}

export const CONSUMER_LAG_METRIC = 'vitals_bus_consumer_lag';
export const PARTITION_LAG_METRIC = 'vitals_bus_consumer_partition_lag';

/**
 * One bus read serves both gauges of a scrape (on Kafka it is several admin requests): a scrape
 * collects them concurrently, so a read still in flight is shared; a later scrape reads afresh.
 */
function sharedRead(source: LagSource): () => Promise<ReadonlyArray<LagRow>> {
  let inFlight: Promise<ReadonlyArray<LagRow>> | null = null;
  return () => {
    if (!inFlight) {
      const p = source.lag().catch(() => []);
      inFlight = p;
      void p.finally(() => {
        if (inFlight === p) inFlight = null;
      });
    }
    return inFlight;
  };
}

/** Register the gauges once per registry; a failed read leaves the series out of that scrape. */
export function registerLagGauge(registry: Registry, source: LagSource): void {
  if (registry.getSingleMetric(CONSUMER_LAG_METRIC)) return;
  const read = sharedRead(source);
  new Gauge({
    name: CONSUMER_LAG_METRIC,
    help: 'Records a consumer group or named reader has not read yet, by consumer and topic; required: ingest holds devices back when it grows (docs/decisions/0012-flow-control.md)',
    labelNames: ['consumer', 'topic', 'required'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await read()) this.set({ consumer: r.consumer, topic: r.topic, required: String(r.required ?? false) }, r.lag);
    },
  });
  new Gauge({
    name: PARTITION_LAG_METRIC,
    help: 'The same lag per partition (Kafka only): one instance of a scaled role falling behind shows as its partitions',
    labelNames: ['consumer', 'topic', 'partition'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await read()) for (const p of r.partitions ?? []) this.set({ consumer: r.consumer, topic: r.topic, partition: String(p.partition) }, p.lag);
    },
  });
}
