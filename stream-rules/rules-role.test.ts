/**
 * The rules role on the embedded bus: an alert that is still open after the replay window has
 * passed is restored from its checkpoint (rules.state), not raised again, and resolves under its
 * own id. Without checkpoints a restart an hour later would open a second alert for the same episode.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus } from '../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../adapters/bus/topics.js';
import type { AlertEvent } from '../core/alerts-model.js';
import { TOPICS, type Bus, type Store } from '../core/ports.js';
import type { CanonicalSample } from '../core/vitals.js';
import { loadConfig } from '../platform/config.js';
import type { Context } from '../platform/context.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { startRules } from './rules-role.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sample = (ts: number, spo2: number): CanonicalSample => ({
  v: 1, deviceId: 'd1', patientId: 'P1', ward: 'W1', ts, recvTs: ts, source: 'device', metrics: { spo2, hr: 80, rr: 16 }, quality: { spo2: 0.95 }, traceId: `t${ts}`,
});

/** Samples every 2 s over [from, to), published with their event time as record time. */
const publishRange = (bus: Bus, from: number, to: number, spo2: number): Promise<void> => {
  const xs: CanonicalSample[] = [];
  for (let ts = from; ts < to; ts += 2000) xs.push(sample(ts, spo2));
  return bus.publish(TOPICS.samples, xs.map((s) => ({ key: 'P1', value: JSON.stringify(s), timestamp: s.ts })));
};

/** A rules role's context on a fresh embedded bus and data dir, removed after the test. */
async function roleContext(now: () => number): Promise<{ bus: Bus; ctx: Context }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-rules-role-'));
  const bus = await createMemoryBus();
  await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
  cleanups.push(async () => {
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  });
  const loaded = loadConfig({ VITALS_DATA_DIR: dir });
  if (!loaded.ok) throw new Error('config');
  // The rules role has no store.
  return { bus, ctx: { config: loaded.config, log: createLogger({ level: 'silent' }), clock: { now }, metrics: createMetricsRegistry(), bus, store: undefined as unknown as Store } };
}

describe('rules role checkpoints (embedded bus)', () => {
  it('an alert still open after the replay window is restored, not raised again, and resolves under its own id', async () => {
    const T = Date.now();
    const clock = { t: T };
    const { bus, ctx } = await roleContext(() => clock.t);
    const seen: AlertEvent[] = [];
    const tail = await bus.tail({ topics: [TOPICS.alerts], from: 'earliest', handler: async (rs) => void seen.push(...rs.map((r) => JSON.parse(r.value as string) as AlertEvent)) });
    cleanups.push(() => tail.stop());
    const spo2Low = (): AlertEvent[] => seen.filter((e) => e.alert.ruleId === 'spo2-low');

    // SpO2 86% for two minutes: spo2-low opens (medium; 86 is above its escalation threshold).
    await publishRange(bus, T - 120_000, T, 86);
    const first = await startRules(ctx);
    await until('spo2-low raised', () => spo2Low().some((e) => e.event === 'raised'));
    await first.stop();

    // An hour later, still 86%: the alert's events are older than anything a start reads from the log.
    clock.t = T + 3_600_000;
    await publishRange(bus, clock.t - 120_000, clock.t, 86);
    ctx.metrics = createMetricsRegistry();
    const second = await startRules(ctx);
    cleanups.push(() => second.stop());
    // Then SpO2 recovers for two minutes: the restored alert resolves.
    clock.t += 180_000;
    await publishRange(bus, clock.t - 180_000, clock.t, 97);
    await until('spo2-low resolved', () => spo2Low().some((e) => e.event === 'resolved'));

    const raised = spo2Low().filter((e) => e.event === 'raised');
    expect(raised).toHaveLength(1);
    const resolved = spo2Low().find((e) => e.event === 'resolved');
    expect(resolved?.alert.id).toBe(raised[0]?.alert.id);
  });

  it('a chart action unfit to apply (no orderedBy) is not saved to the checkpoint; a fit one is', async () => {
    const { bus, ctx } = await roleContext(() => Date.now());
    const saved = new Map<string, string | null>();
    const tail = await bus.tail({ topics: [TOPICS.rulesState], from: 'earliest', handler: async (rs) => void rs.forEach((r) => saved.set(r.key, r.value)) });
    cleanups.push(() => tail.stop());
    const rules = await startRules(ctx);
    cleanups.push(() => rules.stop());
    const ts = Date.now();
    const order = { v: 1, action: 'chart', spo2Scale: 2, ts, until: null };
    await bus.publish(TOPICS.alertActions, [
      { key: 'P-unfit', value: JSON.stringify({ ...order, patientId: 'P-unfit' }) },
      { key: 'P-fit', value: JSON.stringify({ ...order, patientId: 'P-fit', orderedBy: 'nurse-1' }) },
    ]);
    await until('the fit order checkpointed', () => saved.has('P-fit'));
    expect(JSON.parse(saved.get('P-fit') as string)).toMatchObject({ chart: { spo2Scale: 2, orderedBy: 'nurse-1' } });
    expect(saved.has('P-unfit')).toBe(false);
  });
});
