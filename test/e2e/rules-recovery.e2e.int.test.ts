/**
 * Crash recovery of the rules role on real Kafka: kill -9 mid-stream, restart, and the
 * alert log must equal an uninterrupted run over the same input: every event once,
 * none missing, no duplicate raise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaBus } from '../../adapters/bus/kafka.js';
import { prefixedBus } from '../../adapters/bus/prefixed.js';
import { DEFAULT_TOPIC_SPECS } from '../../adapters/bus/topics.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import { TOPICS, type Bus } from '../../core/ports.js';
import { createRulesEngine } from '../../stream-rules/engine/engine.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { alertIdSalt, loadRules } from '../../stream-rules/rules-role.js';
import { builtCli, tempDir, waitFor } from './helpers.js';

const CLI = builtCli();

/** Three patients over four minutes of recent event time: hypoxia that escalates, sustained tachycardia, one stable. */
function input(now: number, run: string): CanonicalSample[] {
  const out: CanonicalSample[] = [];
  const start = now - 240_000;
  for (let t = 0; t < 240; t += 2) {
    const ts = start + t * 1000;
    const mk = (p: string, metrics: CanonicalSample['metrics']): CanonicalSample => ({
      v: 1, deviceId: `dev-${p}`, patientId: `${run}-${p}`, ward: 'R1', bed: p, ts, recvTs: ts, source: 'device', metrics, quality: { spo2: 0.95, hr: 0.95 }, traceId: `${p}-${t}`,
    });
    out.push(mk('hypoxic', { hr: 96, rr: 22, spo2: t < 20 ? 95 : t < 120 ? 88 : 82 }));
    out.push(mk('tachy', { hr: t < 30 ? 90 : 142, rr: 18, spo2: 96 }));
    out.push(mk('stable', { hr: 72, rr: 15, spo2: 97 }));
  }
  return out;
}

describe('rules role crash recovery (kill -9, real Kafka)', () => {
  const procs: ChildProcess[] = [];
  let bus: Bus;

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    await bus?.close();
  });

  it('the alert log after a crash and restart equals an uninterrupted run', async () => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('KAFKA_BROKERS must be set (test/global-setup.ts provides it)');
    const run = `rr${Date.now().toString(36)}`;
    const prefix = `e2e-${run}.`;
    bus = prefixedBus(await createKafkaBus({ brokers: brokers.split(',') }), prefix);
    await bus.ensureTopics(DEFAULT_TOPIC_SPECS);

    const now = Date.now();
    const samples = input(now, run);
    const dataDir = await tempDir('rules-recovery');
    // What an uninterrupted engine makes of the same input (with the deployment's alert-id salt).
    const engine = createRulesEngine(await loadRules(null), { idSalt: await alertIdSalt(dataDir) });
    const expected: AlertEvent[] = [];
    for (const s of samples) expected.push(...engine.onSample(s, { live: true }).alerts);
    expect(expected.filter((e) => e.event === 'raised').length).toBeGreaterThanOrEqual(2);
    expect(expected.some((e) => e.event === 'escalated')).toBe(true);

    const seen: AlertEvent[] = [];
    const tail = await bus.tail({
      topics: [TOPICS.alerts],
      from: 'earliest',
      handler: async (rs) => {
        for (const r of rs) if (r.value) seen.push(JSON.parse(r.value) as AlertEvent);
      },
    });
    const start = (): ChildProcess => {
      const p = spawn(process.execPath, [CLI, 'rules'], {
        env: { ...process.env, KAFKA_BROKERS: brokers, VITALS_TOPIC_PREFIX: prefix, VITALS_DATA_DIR: dataDir, VITALS_LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      });
      procs.push(p);
      return p;
    };
    const publish = (xs: CanonicalSample[]) => bus.publish(TOPICS.samples, xs.map((s) => ({ key: s.patientId as string, value: JSON.stringify(s), timestamp: s.ts })));

    const first = start();
    const half = samples.length / 2;
    await publish(samples.slice(0, half));
    await waitFor('a first alert event', () => seen.length > 0, 60_000, 100);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const beforeCrash = seen.length;
    await publish(samples.slice(half));

    start();
    await waitFor('every expected event', () => seen.length >= expected.length, 60_000, 200);
    // Give a duplicate the chance to show up before judging.
    await new Promise((r) => setTimeout(r, 3000));
    await tail.stop();

    const ids = seen.map((e) => e.eventId);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]); // nothing twice
    expect(ids.sort()).toEqual(expected.map((e) => e.eventId).sort()); // nothing missing, nothing extra
    const byId = new Map(seen.map((e) => [e.eventId, e]));
    for (const e of expected) expect(byId.get(e.eventId)?.alert).toEqual(e.alert);
    expect(beforeCrash).toBeLessThan(expected.length); // the crash really was mid-stream
  }, 180_000);
});
