/**
 * The rules role scaled out on real Kafka (docs/decisions/0018): instances share the patients by
 * partition; one killed with SIGKILL mid-deterioration hands its patients to the survivor, a third
 * joining takes some over, and every patient still gets each clinical alert event exactly once —
 * the same events an uninterrupted single engine makes of the same input. Start-up reads
 * checkpoints and a bounded window, so it does not grow with the alert history.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaBus } from '../../adapters/bus/kafka.js';
import { prefixedBus } from '../../adapters/bus/prefixed.js';
import { DEFAULT_TOPIC_SPECS } from '../../adapters/bus/topics.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import { TOPICS, type Bus, type Subscription } from '../../core/ports.js';
import { createRulesEngine } from '../../stream-rules/engine/engine.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { alertIdSalt, loadRules } from '../../stream-rules/rules-role.js';
import { builtCli, tempDir, waitFor } from './helpers.js';

const CLI = builtCli();
const brokers = process.env.KAFKA_BROKERS ?? '';

/** 20 patients over four minutes of recent event time: half become hypoxic (escalating), half tachycardic. */
function deteriorations(now: number, run: string): CanonicalSample[] {
  const out: CanonicalSample[] = [];
  const start = now - 240_000;
  for (let t = 0; t < 240; t += 2) {
    const ts = start + t * 1000;
    for (let i = 0; i < 20; i++) {
      const p = `${run}-p${i}`;
      const metrics: CanonicalSample['metrics'] =
        i % 2 === 0 ? { hr: 96, rr: 22, spo2: t < 20 + i ? 95 : t < 120 + i ? 88 : 82 } : { hr: t < 30 + i ? 90 : 142, rr: 18, spo2: 96 };
      out.push({ v: 1, deviceId: `dev-${p}`, patientId: p, ward: 'S1', bed: `b${i}`, ts, recvTs: ts, source: 'device', metrics, quality: { spo2: 0.95, hr: 0.95 }, traceId: `${p}-${t}` });
    }
  }
  return out;
}

interface Instance {
  proc: ChildProcess;
  /** Partitions owned after the latest hand-over, from the adapter's log line. */
  owned: number[] | null;
  liveAt: number | null;
  startedAt: number;
  /** Alert records the instance read before going live. */
  alertRecordsRead: number | null;
}

describe('rules role scale-out (real Kafka, several processes)', () => {
  const instances: Instance[] = [];
  const buses: Bus[] = [];
  const subs: Subscription[] = [];

  afterAll(async () => {
    for (const i of instances) if (i.proc.exitCode === null) i.proc.kill('SIGKILL');
    await Promise.all(subs.map((s) => s.stop()));
    await Promise.all(buses.map((b) => b.close()));
  });

  const setUp = async (name: string) => {
    if (!brokers) throw new Error('KAFKA_BROKERS must be set (test/global-setup.ts provides it)');
    const run = `${name}${Date.now().toString(36)}`;
    const prefix = `e2e-${run}.`;
    const bus = prefixedBus(await createKafkaBus({ brokers: brokers.split(',') }), prefix);
    buses.push(bus);
    await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
    const dataDir = await tempDir(name);
    const start = (): Instance => {
      const proc = spawn(process.execPath, [CLI, 'rules'], {
        env: { ...process.env, KAFKA_BROKERS: brokers, VITALS_TOPIC_PREFIX: prefix, VITALS_DATA_DIR: dataDir, VITALS_LOG_LEVEL: 'info', VITALS_OPS_PORT: '0' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const inst: Instance = { proc, owned: null, liveAt: null, startedAt: Date.now(), alertRecordsRead: null };
      // Logs go to stderr (stdout is for command output).
      readline.createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on('line', (line) => {
        try {
          const l = JSON.parse(line) as { msg?: string; owned?: number[]; alertRecordsRead?: number };
          if (l.msg === 'kafka: partitions handed over' && Array.isArray(l.owned)) inst.owned = l.owned;
          if (l.msg === 'rules warm-up done; live') {
            inst.liveAt = Date.now();
            inst.alertRecordsRead = l.alertRecordsRead ?? null;
          }
        } catch {
          // not a log line
        }
      });
      instances.push(inst);
      return inst;
    };
    return { run, bus, dataDir, start };
  };

  const alertLog = async (bus: Bus): Promise<AlertEvent[]> => {
    const seen: AlertEvent[] = [];
    subs.push(
      await bus.tail({
        topics: [TOPICS.alerts],
        from: 'earliest',
        handler: async (rs) => {
          for (const r of rs) if (r.value) seen.push(JSON.parse(r.value) as AlertEvent);
        },
      }),
    );
    return seen;
  };

  const publish = (bus: Bus, xs: CanonicalSample[]) => bus.publish(TOPICS.samples, xs.map((s) => ({ key: s.patientId as string, value: JSON.stringify(s), timestamp: s.ts })));

  /** Owned sets that are disjoint, all non-empty and cover every partition. */
  const sharing = (xs: Instance[], partitions: number): boolean => {
    if (xs.some((i) => !i.owned || i.owned.length === 0)) return false;
    const all = xs.flatMap((i) => i.owned as number[]);
    return all.length === partitions && new Set(all).size === partitions;
  };

  /** What one uninterrupted engine makes of the input: the clinical events every patient must get, once each. */
  const expectedFor = async (dataDir: string, samples: CanonicalSample[]): Promise<AlertEvent[]> => {
    const engine = createRulesEngine(await loadRules(null), { idSalt: await alertIdSalt(dataDir) });
    const out: AlertEvent[] = [];
    for (const s of samples) out.push(...engine.onSample(s, { live: true }).alerts);
    return out.filter((e) => e.alert.kind === 'clinical');
  };

  const judge = (seen: AlertEvent[], expected: AlertEvent[], patients: string[]): void => {
    const ids = seen.map((e) => e.eventId);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i), 'no event twice').toEqual([]);
    const clinical = seen.filter((e) => e.alert.kind === 'clinical').map((e) => e.eventId);
    expect(clinical.sort(), 'every clinical event once, nothing extra').toEqual(expected.map((e) => e.eventId).sort());
    for (const p of patients) {
      const raised = seen.filter((e) => e.alert.patientId === p && e.event === 'raised' && e.alert.kind === 'clinical');
      expect(raised.length, `${p} raised`).toBeGreaterThan(0);
      const perRule = new Map<string, number>();
      for (const e of raised) perRule.set(e.alert.ruleId, (perRule.get(e.alert.ruleId) ?? 0) + 1);
      // One episode per rule in this input: exactly one raise per rule.
      expect([...perRule.values()].every((n) => n === 1), `${p}: one raise per rule`).toBe(true);
    }
  };

  it('two instances share the patients; SIGKILL of one mid-deterioration loses and repeats nothing; a third joining neither', async () => {
    const { run, bus, dataDir, start } = await setUp('scale');
    const seen = await alertLog(bus);
    const a = start();
    const b = start();
    await waitFor('two instances sharing the 12 partitions', () => sharing([a, b], 12), 90_000, 200);

    // Phase 1: kill one instance in the middle of 20 patients' deteriorations.
    const samples = deteriorations(Date.now(), `${run}a`);
    const expected = await expectedFor(dataDir, samples);
    const half = samples.length / 2;
    await publish(bus, samples.slice(0, half));
    await waitFor('first alert events', () => seen.length >= 3, 60_000, 100);
    a.proc.kill('SIGKILL');
    await publish(bus, samples.slice(half));
    await waitFor('the survivor owning every partition', () => b.owned?.length === 12, 90_000, 200);
    const patients1 = Array.from({ length: 20 }, (_, i) => `${run}a-p${i}`);
    await waitFor('every expected event of phase 1', () => expected.every((e) => seen.some((s) => s.eventId === e.eventId)), 90_000, 200);

    // Phase 2: a third instance joins in the middle of another 20 patients' deteriorations.
    const samples2 = deteriorations(Date.now(), `${run}b`);
    const expected2 = await expectedFor(dataDir, samples2);
    await publish(bus, samples2.slice(0, half));
    const c = start();
    await waitFor('the newcomer sharing the partitions', () => sharing([b, c], 12), 90_000, 200);
    await publish(bus, samples2.slice(half));
    await waitFor('every expected event of phase 2', () => expected2.every((e) => seen.some((s) => s.eventId === e.eventId)), 90_000, 200);
    // Give a duplicate the chance to show up before judging.
    await new Promise((r) => setTimeout(r, 3000));

    const phase = (tag: string) => seen.filter((e) => e.alert.patientId.startsWith(`${run}${tag}-`));
    judge(phase('a'), expected, patients1);
    judge(phase('b'), expected2, Array.from({ length: 20 }, (_, i) => `${run}b-p${i}`));
  }, 420_000);

  it('start-up time does not grow with the alert history (100,000 events in the log)', async () => {
    const timeToLive = async (start: () => Instance): Promise<{ ms: number; read: number | null }> => {
      const i = start();
      await waitFor('rules live', () => i.liveAt !== null, 90_000, 50);
      const ms = (i.liveAt as number) - i.startedAt;
      i.proc.kill('SIGTERM');
      await new Promise((r) => i.proc.once('exit', r));
      return { ms, read: i.alertRecordsRead };
    };
    const empty = await setUp('empty');
    const emptyStart = await timeToLive(empty.start);

    const full = await setUp('full');
    // Two days of history: 50,000 alerts raised and resolved (an old ward's log), beyond any replay window.
    const t0 = Date.now() - 2 * 86_400_000;
    // Chunks well under the broker's 1 MB batch limit (one partition).
    for (let chunk = 0; chunk < 100; chunk++) {
      const records = [];
      for (let j = 0; j < 500; j++) {
        const n = chunk * 500 + j;
        const alert = { id: `hist-${n}`, patientId: `hist-p${n % 5000}`, ward: 'H1', ruleId: 'spo2-low', kind: 'clinical', priority: 'medium', state: 'open', openedAt: t0 + n * 1000, message: 'SpO2 low' };
        const raised = { v: 1, eventId: `hist-${n}:raised:1`, event: 'raised', ts: alert.openedAt, alert };
        const resolved = { v: 1, eventId: `hist-${n}:resolved:2`, event: 'resolved', ts: alert.openedAt + 60_000, alert: { ...alert, state: 'resolved', resolvedAt: alert.openedAt + 60_000 } };
        records.push({ key: alert.patientId, value: JSON.stringify(raised), timestamp: t0 + n * 1000 });
        records.push({ key: alert.patientId, value: JSON.stringify(resolved), timestamp: t0 + n * 1000 + 60_000 });
      }
      await full.bus.publish(TOPICS.alerts, records);
    }
    // The first start of an upgraded deployment builds the checkpoints from the log, once.
    const seeding = await timeToLive(full.start);
    const fullStart = await timeToLive(full.start);
    console.log(`rules start-up: empty log ${emptyStart.ms} ms; 100,000 events: first (seeding) ${seeding.ms} ms, then ${fullStart.ms} ms reading ${fullStart.read} alert records`);
    // What a start reads is bounded by the replay window: none of the two-day-old history.
    expect(fullStart.read).toBe(0);
    // Timing on a shared machine is loose; the read count above is the exact check.
    expect(fullStart.ms).toBeLessThan(emptyStart.ms * 1.5 + 2000);
  }, 420_000);
});
