/**
 * The rules role: wires the pure rules engine to the bus.
 *
 * Recovery without duplicates: alert and event ids are deterministic, so on start the
 * role (1) reads the alert log and restores open alerts, (2) replays the last window of
 * samples and actions through the engine in event time, and (3) publishes only events
 * whose id is not already in the log. A crash between computing an event and logging it
 * therefore re-emits it once; one that was logged is never emitted twice.
 */
import { readFile } from 'node:fs/promises';
import type { AlertEvent, ClinicianAction } from '../core/alerts-model.js';
import { VitalsError } from '../core/errors.js';
import { TOPICS, type BusRecord, type Subscription } from '../core/ports.js';
import { createRulesEngine, type ScoreOutput } from '../core/rules-engine.js';
import type { CanonicalSample } from '../core/vitals.js';
import type { Context, Service } from '../platform/context.js';
import { ALERT_LATENCY_BUCKETS, counter, gauge, histogram } from '../platform/metrics.js';
import { parseRuleSetText, readDefaultRulesText } from './rules-loader.js';
import { backoffDelay } from '../platform/backoff.js';
import { dataDirSecret } from '../platform/secrets.js';

/** Event time replayed on start: longer than any shipped rule window and the live window. */
export const WARMUP_MS = 20 * 60_000;
/** Event ids remembered for de-duplication; older ones fall out (they are beyond any replay). */
const KNOWN_IDS_MAX = 500_000;

/** The deployment's alert-id salt (data dir file `alert-id.salt`). */
export function alertIdSalt(dataDir: string): Promise<string> {
  return dataDirSecret(dataDir, 'alert-id.salt', 16);
}

/** Load and validate the rule set; a bad file never half-loads. */
export async function loadRules(file: string | null) {
  const text = file ? await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new VitalsError('VTL_ERR_CONFIG', `cannot read rules file ${file}: ${e.code ?? e.message}`);
  }) : await readDefaultRulesText();
  const parsed = parseRuleSetText(text);
  if (!parsed.ok) throw new VitalsError('VTL_ERR_CONFIG', `rules file ${file ?? '(default)'} has ${parsed.errors.length} error(s):\n  - ${parsed.errors.join('\n  - ')}`);
  return parsed.ruleSet;
}

class KnownIds {
  private readonly set = new Set<string>();
  has(id: string): boolean {
    return this.set.has(id);
  }
  add(id: string): void {
    this.set.add(id);
    if (this.set.size > KNOWN_IDS_MAX) {
      // Sets iterate in insertion order: drop the oldest tenth.
      let n = KNOWN_IDS_MAX / 10;
      for (const k of this.set) {
        this.set.delete(k);
        if (--n <= 0) break;
      }
    }
  }
}

export async function startRules(ctx: Context): Promise<Service> {
  const { bus, clock, config, metrics } = ctx;
  const log = ctx.log.child({ role: 'rules' });
  const ruleSet = await loadRules(config.rulesFile);
  // Salted so an alert id cannot be linked back to a patient id by hashing guesses;
  // every rules instance of a deployment shares the data dir's salt, so ids stay deterministic.
  const engine = createRulesEngine(ruleSet, { idSalt: await alertIdSalt(config.dataDir) });
  const samplesTotal = counter(metrics, 'vitals_rules_samples_total', 'Samples evaluated by the rules engine');
  const eventsTotal = counter(metrics, 'vitals_rules_alert_events_total', 'Alert events published, by event and kind', ['event', 'kind']);
  const patientsGauge = gauge(metrics, 'vitals_rules_patients', 'Patients with state in the rules engine');
  const alertLatency = histogram(
    metrics,
    'vitals_alert_latency_seconds',
    'From the event time of the transition (the sample that raised or escalated it) to the alert event durably on the bus',
    ALERT_LATENCY_BUCKETS,
    ['event'],
  );
  const known = new KnownIds();
  const subs: Subscription[] = [];
  let live = false;
  let stopping = false;

  const parse = <T>(r: BusRecord): T | null => {
    if (r.value === null) return null;
    try {
      return JSON.parse(r.value) as T;
    } catch {
      log.warn({ topic: r.topic, offset: r.offset }, 'unreadable record skipped');
      return null;
    }
  };

  /**
   * Publish events not yet in the log, durably, in order. The engine has already moved
   * on, so a failed publish is retried here until it succeeds (holding back the stream)
   * rather than thrown: a redelivered sample would not produce the event again.
   */
  const emit = async (events: readonly AlertEvent[]): Promise<void> => {
    const fresh = events.filter((e) => !known.has(e.eventId));
    if (fresh.length === 0) return;
    const records = fresh.map((e) => ({ key: e.alert.patientId, value: JSON.stringify(e), timestamp: clock.now() }));
    for (let attempt = 0; ; attempt++) {
      try {
        await bus.publish(TOPICS.alerts, records);
        break;
      } catch (e) {
        if (stopping) throw e;
        log.error({ err: (e as Error).message, attempt, events: fresh.length }, 'alert publish failed; retrying');
        await new Promise((r) => setTimeout(r, backoffDelay(attempt)));
      }
    }
    const published = clock.now();
    for (const e of fresh) {
      known.add(e.eventId);
      eventsTotal.inc({ event: e.event, kind: e.alert.kind });
      if (e.event === 'raised' || e.event === 'escalated') alertLatency.observe({ event: e.event }, Math.max(0, published - e.ts) / 1000);
    }
  };

  // (1) The alert log: restore open alerts, then keep learning ids (ours and other instances').
  const restored: AlertEvent[] = [];
  let restoring = true;
  const alertSub = await bus.tail({
    topics: [TOPICS.alerts],
    from: 'earliest',
    handler: async (records) => {
      for (const r of records) {
        const ev = parse<AlertEvent>(r);
        if (!ev) continue;
        known.add(ev.eventId);
        if (restoring) restored.push(ev);
      }
    },
  });
  subs.push(alertSub);
  await alertSub.caughtUp;
  restoring = false;
  engine.restore(restored);
  log.info({ events: restored.length, open: engine.openAlerts().length }, 'alert log restored');

  // (2) Samples and clinician actions from the last window, then live.
  const from = { timestamp: clock.now() - WARMUP_MS };
  const sampleSub = await bus.tail({
    topics: [TOPICS.samples],
    from,
    handler: async (records) => {
      const events: AlertEvent[] = [];
      const scores: ScoreOutput[] = [];
      const liveFrom = clock.now() - config.liveWindowMs;
      for (const r of records) {
        const s = parse<CanonicalSample>(r);
        if (!s) continue;
        const out = engine.onSample(s, { live: s.ts >= liveFrom });
        samplesTotal.inc();
        if (out.alerts.length) events.push(...out.alerts);
        if (out.score) scores.push(out.score);
      }
      await emit(events);
      if (scores.length) {
        await bus.publish(
          TOPICS.scores,
          scores.map((sc) => ({ key: sc.patientId, value: JSON.stringify(sc), timestamp: clock.now() })),
        );
      }
    },
  });
  subs.push(sampleSub);
  const actionSub = await bus.tail({
    topics: [TOPICS.alertActions],
    from,
    handler: async (records) => {
      const events: AlertEvent[] = [];
      for (const r of records) {
        const a = parse<ClinicianAction>(r);
        if (a) events.push(...engine.onAction(a));
      }
      await emit(events);
    },
  });
  subs.push(actionSub);
  await Promise.all([sampleSub.caughtUp, actionSub.caughtUp]);
  live = true;
  log.info({ patients: engine.stats().patients }, 'rules warm-up done; live');

  // (3) Timers (missing data, escalation) run on the wall clock once caught up.
  let ticking = Promise.resolve();
  const timer = setInterval(() => {
    ticking = ticking
      .then(() => emit(engine.onTick(clock.now())))
      .then(() => void patientsGauge.set(engine.stats().patients))
      .catch((e: unknown) => log.error({ err: (e as Error).message }, 'tick failed'));
  }, 1000);

  return {
    name: 'rules',
    async ready() {
      return live ? { ok: true } : { ok: false, detail: 'warming up' };
    },
    async stop() {
      stopping = true;
      clearInterval(timer);
      await ticking;
      await Promise.all(subs.map((s) => s.stop()));
    },
  };
}
