/**
 * Micro-benchmark of the rules engine (stream-rules/engine/engine.ts) with the shipped default rules:
 * samples/s on one core for 1k and 10k patients, each sending hr/spo2/rr at 1 Hz with a
 * manual observation round every 5 minutes, one onTick per simulated second.
 * Pure CPU: no bus, no I/O. Figures are printed, never asserted.
 *
 * Run from the repo root (Node 20 has no TS loader, so compile first):
 *   npx tsc --outDir /tmp/vs-bench --module nodenext --moduleResolution nodenext \
 *     --target es2022 --skipLibCheck --strict load/rules-bench.ts && node /tmp/vs-bench/load/rules-bench.js
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRulesEngine } from '../stream-rules/engine/engine.js';
import type { CanonicalSample } from '../core/vitals.js';
import { parseRuleSetText } from '../stream-rules/rules-loader.js';

const T0 = 1_767_225_600_000;

function bench(patients: number, seconds: number): { samples: number; perSec: number; alerts: number; heapMB: number; stateMB: number } {
  const parsed = parseRuleSetText(readFileSync(resolve(process.cwd(), 'stream-rules/default-rules.yaml'), 'utf8'));
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const engine = createRulesEngine(parsed.ruleSet);
  // One reusable sample object per patient: the engine copies what it keeps, so the
  // generator costs next to nothing inside the timed loop.
  const wear: CanonicalSample[] = [];
  const manual: CanonicalSample[] = [];
  for (let p = 0; p < patients; p++) {
    const base = { v: 1 as const, deviceId: `dev-${p}`, patientId: `pat-${p}`, ward: `ward-${p % 20}`, recvTs: 0, traceId: 'bench' };
    wear.push({ ...base, ts: 0, source: 'device', metrics: { hr: 70, spo2: 97, rr: 16 }, quality: { hr: 0.9, spo2: 0.9, rr: 0.9 }, battery: 0.9 });
    manual.push({ ...base, ts: 0, source: 'manual', metrics: { sbp: 120, temp: 37 }, acvpu: 'A', o2: false });
  }
  let seed = 42;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  let samples = 0;
  let alerts = 0;
  const start = process.hrtime.bigint();
  for (let sec = 0; sec < seconds; sec++) {
    const now = T0 + sec * 1000;
    alerts += engine.onTick(now).length;
    for (let p = 0; p < patients; p++) {
      const s = wear[p] as CanonicalSample;
      s.ts = now + (p % 997);
      // A few percent of patients deteriorate: SpO2 and heart rate drift.
      const sick = p % 37 === 0;
      s.metrics.hr = 72 + rnd() * 8 + (sick ? sec / 6 : 0);
      s.metrics.spo2 = sick ? 93 - sec / 40 + rnd() * 2 : 96 + rnd() * 3;
      s.metrics.rr = 14 + rnd() * 4;
      alerts += engine.onSample(s, { live: true }).alerts.length;
      samples++;
      if ((sec + p) % 300 === 0) {
        const m = manual[p] as CanonicalSample;
        m.ts = s.ts;
        alerts += engine.onSample(m, { live: true }).alerts.length;
        samples++;
      }
    }
  }
  const ns = Number(process.hrtime.bigint() - start);
  return {
    samples,
    perSec: Math.round(samples / (ns / 1e9)),
    alerts,
    heapMB: Math.round(process.memoryUsage().heapUsed / 1e6),
    stateMB: Math.round(engine.stats().bytesEstimate / 1e5) / 10,
  };
}

// Warm-up so the JIT has compiled the hot path before the measured runs.
bench(200, 60);
for (const [patients, seconds] of [[1_000, 300], [10_000, 240]] as const) {
  const r = bench(patients, seconds);
  console.log(
    `${patients} patients × ${seconds} s: ${r.samples} samples, ${r.perSec.toLocaleString('en')} samples/s, ` +
      `${r.alerts} alert events, state ≈ ${r.stateMB} MB, heap ${r.heapMB} MB`,
  );
}
