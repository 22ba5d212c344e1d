import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerStoreMemoryGauge, STORE_MEMORY_METRIC } from './store-memory-metric.js';

/** A source whose answers the test releases, counting reads. */
function heldSource(): { reads: number; engineMemory(): Promise<Array<{ tag: string; bytes: number }>>; answer(bytes: number): void; fail(): void } {
  let pending: Array<{ resolve: (v: Array<{ tag: string; bytes: number }>) => void; reject: (e: Error) => void }> = [];
  return {
    reads: 0,
    engineMemory() {
      this.reads++;
      return new Promise((resolve, reject) => pending.push({ resolve, reject }));
    },
    answer(bytes) {
      for (const p of pending) p.resolve([{ tag: 'BASE_TABLE', bytes }]);
      pending = [];
    },
    fail() {
      for (const p of pending) p.reject(new Error('engine closed'));
      pending = [];
    },
  };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A gauge on a held source and a test clock, its first scrape started and waiting for the source. */
async function gaugeScraped(refreshMs: number): Promise<{ source: ReturnType<typeof heldSource>; reg: Registry; clock: { t: number }; first: Promise<string> }> {
  const source = heldSource();
  const clock = { t: 0 };
  const reg = new Registry();
  registerStoreMemoryGauge(reg, source, refreshMs, () => clock.t);
  const first = reg.getSingleMetricAsString(STORE_MEMORY_METRIC);
  await flush();
  return { source, reg, clock, first };
}

describe('store memory gauge', () => {
  it('reads once per refresh interval, serves the last reading meanwhile and never waits on a refresh', async () => {
    const { source, reg, clock, first } = await gaugeScraped(60_000);
    source.answer(100);
    expect(await first).toMatch(/tag="BASE_TABLE"\} 100$/m);
    for (let i = 0; i < 10; i++) {
      clock.t += 5_000; // a scrape every 5 s: 50 s in all, inside the minute
      expect(await reg.getSingleMetricAsString(STORE_MEMORY_METRIC)).toMatch(/\} 100$/m);
    }
    expect(source.reads).toBe(1);
    clock.t += 10_000; // now a minute old: this scrape starts a read but answers from the last one
    expect(await reg.getSingleMetricAsString(STORE_MEMORY_METRIC)).toMatch(/\} 100$/m);
    expect(await reg.getSingleMetricAsString(STORE_MEMORY_METRIC)).toMatch(/\} 100$/m);
    expect(source.reads).toBe(2); // one read in flight at a time
    source.answer(200);
    await flush();
    expect(await reg.getSingleMetricAsString(STORE_MEMORY_METRIC)).toMatch(/\} 200$/m);
  });

  it('leaves the series out after a failed read and recovers at the next interval', async () => {
    const { source, reg, clock, first } = await gaugeScraped(1_000);
    source.fail();
    expect(await first).not.toMatch(/tag=/);
    clock.t += 1_000;
    await reg.getSingleMetricAsString(STORE_MEMORY_METRIC);
    source.answer(300);
    await flush();
    expect(await reg.getSingleMetricAsString(STORE_MEMORY_METRIC)).toMatch(/\} 300$/m);
  });

  it('registers once per registry', () => {
    const reg = new Registry();
    registerStoreMemoryGauge(reg, heldSource());
    registerStoreMemoryGauge(reg, heldSource());
    expect(reg.getMetricsAsArray()).toHaveLength(1);
  });
});
