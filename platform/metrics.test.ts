import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerLagGauge } from './lag-metric.js';
import { sampledGauge } from './metrics.js';

describe('gauges read at scrape time', () => {
  it('sampledGauge sums every registered reader and forgets one that unregisters', async () => {
    const reg = new Registry();
    let a = 2;
    const offA = sampledGauge(reg, 'x_clients', 'clients', () => a);
    sampledGauge(reg, 'x_clients', 'clients', () => 3);
    expect(await reg.getSingleMetricAsString('x_clients')).toMatch(/^x_clients 5$/m);
    a = 4;
    expect(await reg.getSingleMetricAsString('x_clients')).toMatch(/^x_clients 7$/m);
    offA();
    expect(await reg.getSingleMetricAsString('x_clients')).toMatch(/^x_clients 3$/m);
  });
  it('the lag gauge shows the current rows only, and none when the bus cannot answer', async () => {
    const reg = new Registry();
    let rows: Array<{ consumer: string; topic: string; lag: number; required: boolean }> = [{ consumer: 'sink', topic: 'vitals.samples', lag: 12, required: true }, { consumer: 'rules', topic: 'vitals.samples', lag: 0, required: true }];
    let fail = false;
    registerLagGauge(reg, { lag: async () => (fail ? Promise.reject(new Error('down')) : rows) });
    registerLagGauge(reg, { lag: async () => [] }); // a second registration is ignored
    const text = await reg.getSingleMetricAsString('vitals_bus_consumer_lag');
    expect(text).toContain('vitals_bus_consumer_lag{consumer="sink",topic="vitals.samples",required="true"} 12');
    expect(text).toContain('vitals_bus_consumer_lag{consumer="rules",topic="vitals.samples",required="true"} 0');
    rows = [{ consumer: 'sink', topic: 'vitals.samples', lag: 1, required: true }];
    expect(await reg.getSingleMetricAsString('vitals_bus_consumer_lag')).not.toContain('rules');
    fail = true;
    expect(await reg.getSingleMetricAsString('vitals_bus_consumer_lag')).not.toMatch(/consumer=/);
  });
  it('per-partition lag where the bus has partitions, from one bus read per scrape', async () => {
    const reg = new Registry();
    let reads = 0;
    registerLagGauge(reg, {
      lag: async () => {
        reads++;
        return [
          { consumer: 'vitals-rules', topic: 'vitals.samples', lag: 7, required: true, partitions: [{ partition: 0, lag: 5 }, { partition: 1, lag: 2 }] },
          { consumer: 'view', topic: 'alerts', lag: 3, required: false },
        ];
      },
    });
    const text = await reg.metrics();
    expect(reads).toBe(1);
    expect(text).toContain('vitals_bus_consumer_partition_lag{consumer="vitals-rules",topic="vitals.samples",partition="0"} 5');
    expect(text).toContain('vitals_bus_consumer_partition_lag{consumer="vitals-rules",topic="vitals.samples",partition="1"} 2');
    expect(text).not.toMatch(/vitals_bus_consumer_partition_lag\{consumer="view"/);
    expect(text).toContain('vitals_bus_consumer_lag{consumer="view",topic="alerts",required="false"} 3');
    await reg.metrics();
    expect(reads).toBe(2);
  });
});
