/**
 * Rules role latency, in process: p50/p99 from a sample published on the embedded bus to its
 * alert event on the bus, while N patients stream at 1 Hz through the same role.
 *
 *   npm run build && node dist/load/rules-latency-bench.js [--patients 10000] [--seconds 30] [--runs 3]
 *
 * Probe patients flip SBP 80/120 every 2 s (the bench's rule file makes `sbp-low` fire on one
 * reading, as the end-to-end bench does), so every flip raises or resolves an alert to time.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createMemoryBus } from '../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../adapters/bus/topics.js';
import type { AlertEvent } from '../core/alerts-model.js';
import { TOPICS } from '../core/ports.js';
import type { CanonicalSample } from '../core/vitals.js';
import { absentStore } from '../platform/absent.js';
import { loadConfig } from '../platform/config.js';
import { systemClock } from '../platform/context.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { startRules } from '../stream-rules/rules-role.js';
import { benchRulesFile } from './lib/procs.js';

const { values } = parseArgs({ options: { patients: { type: 'string' }, seconds: { type: 'string' }, runs: { type: 'string' }, probes: { type: 'string' } } });
const PATIENTS = Number(values.patients ?? 10_000);
const SECONDS = Number(values.seconds ?? 30);
const RUNS = Number(values.runs ?? 3);
const PROBES = Number(values.probes ?? 20);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number) : Number.NaN;
};

async function run(): Promise<{ p50: number; p99: number; max: number; alerts: number; samplesPerSec: number }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vitals-rules-lat-'));
  const cfg = loadConfig({ VITALS_DATA_DIR: dataDir, VITALS_RULES_FILE: await benchRulesFile(root, dataDir), VITALS_LOG_LEVEL: 'warn' });
  if (!cfg.ok) throw new Error(cfg.errors.join('; '));
  const bus = await createMemoryBus({});
  await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
  const ctx = { config: cfg.config, log: createLogger({ level: 'warn' }), clock: systemClock, metrics: createMetricsRegistry(), bus, store: absentStore() };
  const rules = await startRules(ctx);
  const sentAt = new Map<string, number>();
  const lat: number[] = [];
  const sub = await bus.tail({
    topics: [TOPICS.alerts],
    from: 'latest',
    handler: async (rs) => {
      const now = performance.now();
      for (const r of rs) {
        const ev = JSON.parse(r.value as string) as AlertEvent;
        const t = sentAt.get(`${ev.alert.patientId}:${ev.ts}`);
        if (t !== undefined && ev.alert.ruleId === 'sbp-low') lat.push(now - t);
      }
    },
  });
  const start = Date.now();
  let sent = 0;
  // 1 Hz per patient, spread over 100 ms slices.
  for (let sec = 0; sec < SECONDS; sec++) {
    for (let slice = 0; slice < 10; slice++) {
      const ts = start + sec * 1000 + slice * 100;
      const batch = [];
      for (let i = slice; i < PATIENTS; i += 10) {
        const pid = `LAT-${i}`;
        const probe = i < PROBES;
        const metrics: CanonicalSample['metrics'] = { hr: 70 + (i % 20), spo2: 97, rr: 15 };
        if (probe && sec % 2 === 0) metrics.sbp = sec % 4 === 0 ? 80 : 120;
        const s: CanonicalSample = { v: 1, deviceId: `d-${i}`, patientId: pid, ward: `W${i % 10}`, ts, recvTs: ts, source: 'device', metrics, traceId: `${i}-${sec}` };
        if (probe && metrics.sbp !== undefined) sentAt.set(`${pid}:${ts}`, performance.now());
        batch.push({ key: pid, value: JSON.stringify(s) });
      }
      await bus.publish(TOPICS.samples, batch);
      sent += batch.length;
      const wait = start + sec * 1000 + (slice + 1) * 100 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  const elapsed = (Date.now() - start) / 1000;
  await sub.stop();
  await rules.stop();
  await bus.close();
  return { p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat), alerts: lat.length, samplesPerSec: sent / elapsed };
}

const results: Array<Awaited<ReturnType<typeof run>>> = [];
for (let i = 0; i < RUNS; i++) {
  const r = await run();
  results.push(r);
  process.stdout.write(`run ${i + 1}: ${JSON.stringify(r)}\n`);
}
const med = (k: 'p50' | 'p99' | 'max'): number => pct(results.map((r) => r[k]), 50);
process.stdout.write(`median of ${RUNS}: ${PATIENTS} patients at 1 Hz, sample -> alert on the bus p50 ${med('p50').toFixed(2)} ms, p99 ${med('p99').toFixed(2)} ms, max ${med('max').toFixed(2)} ms\n`);
