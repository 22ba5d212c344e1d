/**
 * Consumer lag as a Prometheus gauge, read from the bus at scrape time: records each consumer
 * group or named reader has not read yet, per topic. The number an operator watches: lag that
 * grows means a role cannot keep up, and alerts arrive late.
 */
import { Gauge, type Registry } from 'prom-client';

export interface LagSource {
  lag(): Promise<ReadonlyArray<{ consumer: string; topic: string; lag: number; required?: boolean }>>;
}

/** Whether a bus reports lag (the Bus port gains `lag()` with the flow-control work; adapters without it show no series). */
export function reportsLag(bus: object): bus is LagSource {
  return typeof (bus as Partial<LagSource>).lag === 'function';
}

export const CONSUMER_LAG_METRIC = 'vitals_bus_consumer_lag';

/** Register the gauge once per registry; a failed read leaves the series out of that scrape. */
export function registerLagGauge(registry: Registry, source: LagSource): void {
  if (registry.getSingleMetric(CONSUMER_LAG_METRIC)) return;
  new Gauge({
    name: CONSUMER_LAG_METRIC,
    help: 'Records a consumer group or named reader has not read yet, by consumer and topic; required: ingest holds devices back when it grows (docs/decisions/0012-flow-control.md)',
    labelNames: ['consumer', 'topic', 'required'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await source.lag().catch(() => []);
      for (const r of rows) this.set({ consumer: r.consumer, topic: r.topic, required: String(r.required ?? false) }, r.lag);
    },
  });
}
