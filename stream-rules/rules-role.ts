/**
 * The rules role: wires the pure rules engine to the bus. N instances share the patients
 * (docs/decisions/0018): the role is a partition-owning consumer group on samples, backlog and
 * actions (co-partitioned by patient), and each instance acts only for its partitions' patients.
 *
 * Hand-over without duplicates or losses: alert and event ids are deterministic. When an
 * instance gains partitions it (1) learns the ids logged in the replay window, (2) restores those
 * partitions' patients from their checkpoints on `rules.state` (unresolved alerts, chart orders),
 * (3) replays the last WARMUP_MS of their samples and actions, and (4) publishes only events whose
 * id is not already logged. Start-up reads the checkpoints and a bounded window, never the whole
 * alert history. When it loses partitions it forgets their patients without a word.
 */
import { readFile } from 'node:fs/promises';
import type { AlertEvent } from '../core/alerts-model.js';
import { decodeAction, decodeAlertEvent, decodeRecord, decodeSample, isChartOrder, type Decoder, type ScoreOutput } from '../core/bus-messages.js';
import { VitalsError } from '../core/errors.js';
import { TOPICS, type Bus, type BusRecord, type OutgoingRecord, type Subscription } from '../core/ports.js';
import { createRulesEngine } from './engine/engine.js';
import type { Context, Service } from '../platform/context.js';
import { ALERT_LATENCY_BUCKETS, counter, gauge, histogram } from '../platform/metrics.js';
import { parseRuleSetText, readDefaultRulesText } from './rules-loader.js';
import { retry } from '../platform/backoff.js';
import { dataDirSecret } from '../platform/secrets.js';
import type { Logger } from '../platform/log.js';
import { Checkpoints, parseCheckpoint, SEEDED_KEY } from './checkpoints.js';

/** Event time replayed on start: longer than any shipped rule window and the live window. */
export const WARMUP_MS = 20 * 60_000;
/** Logged ids are learned from this much before the replay window too: publish clocks of instances differ. */
const ID_WINDOW_SLACK_MS = 5 * 60_000;
/** The rules role's consumer group (the deployment's topic prefix is added by the bus). */
export const RULES_GROUP = 'vitals-rules';
/** The topics a rules instance owns partitions of: co-partitioned by patient. */
export const RULES_TOPICS = [TOPICS.samples, TOPICS.backlog, TOPICS.alertActions] as const;
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

/** Publish until the bus takes it: the engine has moved on, so giving up would lose the events. */
function publishRetrying(bus: Bus, topic: string, records: OutgoingRecord[], log: Logger, stopping: () => boolean): Promise<void> {
  return retry(() => bus.publish(topic, records), {
    // Every failure, not only retriable ones: there is no caller to hand the events back to.
    retriable: () => true,
    aborted: stopping,
    onRetry: (e, attempt) => log.error({ err: (e as Error).message, attempt, topic, records: records.length }, 'publish failed; retrying'),
  });
}

/** Read a topic from `from` to its end as it is now, then stop. */
async function readToEnd(bus: Bus, topic: string, from: 'earliest' | { timestamp: number }, onRecords: (rs: BusRecord[]) => void): Promise<void> {
  const sub = await bus.tail({ topics: [topic], from, handler: async (rs) => onRecords(rs) });
  try {
    await sub.caughtUp;
  } finally {
    await sub.stop();
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
  const partitionsGauge = gauge(metrics, 'vitals_rules_partitions_owned', 'Partitions of the patient topics this rules instance owns');
  const handoversTotal = counter(metrics, 'vitals_rules_partition_handovers_total', 'Partitions gained or lost by this rules instance', ['change']);
  const alertLatency = histogram(
    metrics,
    'vitals_alert_latency_seconds',
    'From the event time of the transition (the sample that raised or escalated it) to the alert event durably on the bus',
    ALERT_LATENCY_BUCKETS,
    ['event'],
  );
  const known = new KnownIds();
  const checkpoints = new Checkpoints();
  /** Partition of each patient this instance has state for: a revocation forgets exactly those. */
  const partitionOf = new Map<string, number>();
  const owned = new Set<number>();
  const subs: Subscription[] = [];
  let live = false;
  let stopping = false;
  /** No timer-driven events while partitions may be moving (a rebalance until the next hand-over). */
  let rebalancing = false;

  /** Decoded once per process (core/bus-messages.ts); a refused record is logged by position only. */
  const parse = <T>(r: BusRecord, decoder: Decoder<T>): T | null => {
    const v = decodeRecord(r, decoder);
    if (v === null && r.value !== null) log.warn({ topic: r.topic, offset: r.offset }, 'unreadable record skipped');
    return v;
  };

  const saveCheckpoints = async (patients: Iterable<string>): Promise<void> => {
    const records = [...patients].map((id) => ({ ...checkpoints.record(id), timestamp: clock.now() }));
    if (records.length > 0) await publishRetrying(bus, TOPICS.rulesState, records, log, () => stopping);
  };

  /**
   * Publish events not yet in the log, durably, in order, then the checkpoints they (or the batch's
   * chart orders, `charted`) changed, in one publish. The engine
   * has already moved on, so a failed publish is retried until it succeeds (holding back the
   * stream) rather than thrown: a redelivered sample would not produce the event again.
   */
  const emit = async (events: readonly AlertEvent[], charted: ReadonlySet<string> = new Set()): Promise<void> => {
    if (events.length === 0 && charted.size === 0) return;
    const fresh = events.filter((e) => !known.has(e.eventId));
    if (fresh.length > 0) {
      // Serialised once; in-process readers (sink, gateway) get the object itself.
      const records = fresh.map((e) => ({ key: e.alert.patientId, value: JSON.stringify(e), timestamp: clock.now(), decoded: e }));
      await publishRetrying(bus, TOPICS.alerts, records, log, () => stopping);
      const published = clock.now();
      for (const e of fresh) {
        known.add(e.eventId);
        eventsTotal.inc({ event: e.event, kind: e.alert.kind });
        if (e.event === 'raised' || e.event === 'escalated') alertLatency.observe({ event: e.event }, Math.max(0, published - e.ts) / 1000);
      }
    }
    // Events the log had already (a replay) still belong in the checkpoint: it may predate them.
    const changed = checkpoints.applyEvents(events);
    for (const id of charted) changed.add(id);
    await saveCheckpoints(changed);
  };

  // Ids logged by any instance: learned live from now on, and for the replay window at each hand-over
  // (onAssigned), which also covers everything logged before this start.
  let alertRecordsRead = 0;
  const learnIds = (rs: readonly BusRecord[]): void => {
    alertRecordsRead += rs.length;
    for (const r of rs) {
      const ev = parse(r, decodeAlertEvent);
      if (ev) known.add(ev.eventId);
    }
  };
  const idWindow = (): { timestamp: number } => ({ timestamp: clock.now() - WARMUP_MS - ID_WINDOW_SLACK_MS });
  subs.push(await bus.tail({ topics: [TOPICS.alerts], from: 'latest', handler: async (rs) => learnIds(rs) }));

  await seedCheckpointsOnce(bus, log, () => stopping);

  const onAssigned = async (parts: readonly number[]): Promise<{ timestamp: number }> => {
    const gained = new Set(parts);
    for (const p of parts) owned.add(p);
    if (parts.length > 0) {
      // Everything logged until now, including what the previous owner published before it let go.
      await readToEnd(bus, TOPICS.alerts, idWindow(), learnIds);
      const latest = new Map<string, BusRecord>();
      await readToEnd(bus, TOPICS.rulesState, 'earliest', (rs) => {
        for (const r of rs) if (gained.has(r.partition) && r.key !== SEEDED_KEY) latest.set(r.key, r);
      });
      let restoredAlerts = 0;
      for (const [patientId, r] of latest) {
        const cp = parseCheckpoint(r.value);
        if (!cp) {
          if (r.value !== null) log.warn({ partition: r.partition, offset: r.offset }, 'unreadable checkpoint skipped');
          continue;
        }
        partitionOf.set(patientId, r.partition);
        checkpoints.load(patientId, cp);
        for (const e of cp.events) known.add(e.eventId);
        engine.restore(cp.events);
        if (cp.chart) engine.onAction(cp.chart);
        restoredAlerts += cp.events.length;
      }
      handoversTotal.inc({ change: 'gained' }, parts.length);
      log.info({ partitions: [...gained], patients: latest.size, events: restoredAlerts, open: engine.openAlerts().length }, 'partitions restored from checkpoints');
    }
    partitionsGauge.set(owned.size);
    rebalancing = false;
    return { timestamp: clock.now() - WARMUP_MS };
  };

  const onRevoked = async (parts: readonly number[]): Promise<void> => {
    const lost = new Set(parts);
    for (const p of parts) owned.delete(p);
    let forgotten = 0;
    for (const [patientId, p] of partitionOf) {
      if (!lost.has(p)) continue;
      engine.forgetPatient(patientId);
      checkpoints.forget(patientId);
      partitionOf.delete(patientId);
      forgotten++;
    }
    handoversTotal.inc({ change: 'lost' }, parts.length);
    partitionsGauge.set(owned.size);
    log.info({ partitions: parts, patients: forgotten }, 'partitions handed to another rules instance');
  };

  const handler = async (records: BusRecord[]): Promise<void> => {
    const events: AlertEvent[] = [];
    const scores: ScoreOutput[] = [];
    const charts = new Set<string>();
    const liveFrom = clock.now() - config.liveWindowMs;
    for (const r of records) {
      if (r.topic === TOPICS.alertActions) {
        const a = parse(r, decodeAction);
        if (!a) continue;
        partitionOf.set(a.patientId, r.partition);
        events.push(...engine.onAction(a));
        if (isChartOrder(a) && checkpoints.applyChart(a)) charts.add(a.patientId);
        continue;
      }
      const s = parse(r, decodeSample);
      if (!s) continue;
      if (s.patientId) partitionOf.set(s.patientId, r.partition);
      const out = engine.onSample(s, { live: s.ts >= liveFrom });
      samplesTotal.inc();
      if (out.alerts.length) events.push(...out.alerts);
      if (out.score) scores.push(out.score);
    }
    await emit(events, charts);
    if (scores.length) {
      await bus.publish(
        TOPICS.scores,
        scores.map((sc) => ({ key: sc.patientId, value: JSON.stringify(sc), timestamp: clock.now(), decoded: sc })),
      );
    }
  };

  // Required (a consumer group): retention keeps what this group has not scored, and its lag holds ingest back.
  // The backlog lane is read too; the bus alternates batches, so backfill never queues ahead of live samples.
  const sub = await bus.consume({
    groupId: RULES_GROUP,
    topics: [...RULES_TOPICS],
    handler,
    partitioned: {
      onAssigned,
      onRevoked,
      onRebalance: () => {
        rebalancing = true;
      },
    },
  });
  subs.push(sub);
  await sub.caughtUp;
  live = true;
  // alertRecordsRead: bounded by the replay window, not the deployment's history (tested).
  log.info({ patients: engine.stats().patients, partitions: owned.size, alertRecordsRead }, 'rules warm-up done; live');

  // (3) Timers (missing data, escalation) run on the wall clock once caught up.
  let ticking = Promise.resolve();
  const timer = setInterval(() => {
    if (rebalancing) return;
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

/**
 * A deployment upgraded from a version without checkpoints has open alerts only in the alert log:
 * build every patient's checkpoint from it once, then mark the topic seeded. Instances racing here
 * write the same checkpoints. The one read of the whole log happens once per deployment, not per start.
 */
async function seedCheckpointsOnce(bus: Bus, log: Logger, stopping: () => boolean): Promise<void> {
  let seeded = false;
  await readToEnd(bus, TOPICS.rulesState, 'earliest', (rs) => {
    if (rs.some((r) => r.key === SEEDED_KEY)) seeded = true;
  });
  if (seeded) return;
  const seed = new Checkpoints();
  let events = 0;
  await readToEnd(bus, TOPICS.alerts, 'earliest', (rs) => {
    for (const r of rs) {
      const ev = decodeRecord(r, decodeAlertEvent);
      if (!ev) continue;
      events++;
      seed.applyEvents([ev]);
    }
  });
  const now = Date.now();
  const records: OutgoingRecord[] = [...seed.patients()].map((id) => ({ ...seed.record(id), timestamp: now }));
  // The marker last: a crash before it means the next start seeds again (the same checkpoints).
  records.push({ key: SEEDED_KEY, value: JSON.stringify({ v: 1, at: now }), timestamp: now });
  // In slices: a ward's worth of checkpoints in one request could exceed the broker's batch limit.
  for (let i = 0; i < records.length; i += 500) await publishRetrying(bus, TOPICS.rulesState, records.slice(i, i + 500), log, stopping);
  log.info({ events, patients: records.length - 1 }, 'checkpoints seeded from the alert log (once per deployment)');
}
