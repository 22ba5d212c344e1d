/**
 * Offline alert-quality runs: generate a cohort's device messages with the pure patient model
 * in event time, pass each through ingest's payload validation (core/payload.ts) as the broker
 * would, and run the accepted samples through the rules engine exactly as `vitals rules replay`
 * does (stream-rules/replay.ts: timers fire at the newest sample time before each sample; every
 * sample is live). No broker, no clock: a patient-day takes well under a second.
 */
import { createRulesEngine } from '../stream-rules/engine/engine.js';
import type { AlertEvent } from '../core/alerts-model.js';
import { deviceLimits, normaliseVitalsPayload, type PayloadLimits, type RejectReason } from '../core/payload.js';
import type { CanonicalSample } from '../core/vitals.js';
import { CONFIG_DEFAULTS } from '../platform/config.js';
import { parseRuleSetText, readDefaultRulesText } from '../stream-rules/rules-loader.js';
import { buildCohort, cohortTruth, drainArtefacts, eventTruth, type CohortSpec, type SimDevice, type TruthLine } from './cohort.js';
import type { Condition, Rule } from '../core/rules-config.js';
import { news2Of } from './ground-truth.js';
import { observe, payloadOf, physiology, type Baseline, type PatientSim } from './patient-model.js';
import { scoreAlerts, type AlertLine, type QualityReport } from './score.js';

export const SIM_LIMITS: PayloadLimits = deviceLimits(CONFIG_DEFAULTS);

/** Network and ingest delay between the device's stamp and the broker's receive time. */
const RECEIVE_DELAY_MS = 200;

export interface OfflineRun {
  truth: TruthLine[];
  alerts: AlertLine[];
  messages: number;
  samples: number;
  rejected: Partial<Record<RejectReason, number>>;
  /** Wall time of the run, ms. */
  elapsedMs: number;
}

export interface OfflineOptions {
  /** Rule set text (YAML/JSON); default: the shipped default rules. */
  rulesText?: string;
  /** Called with each accepted canonical sample in replay order (to record a replayable JSONL). */
  onSample?: (s: CanonicalSample) => void;
  /** Ids are prefixed (so two cohorts can be scored together without clashing). */
  idPrefix?: string;
}

function meets(v: number, c: Condition): boolean {
  return c.op === '<' ? v < c.value : c.op === '<=' ? v <= c.value : c.op === '>' ? v > c.value : v >= c.value;
}

/**
 * Whether a clinical rule's condition holds on the physiological state (news2: an urgent trigger,
 * aggregate >= 5 or a red 3; threshold: its condition; shock-index: HR / SBP at or above its limit); undefined for rules this cannot judge (trends).
 */
export function physiologyMeets(rule: Rule | undefined, v: Baseline): boolean | undefined {
  if (rule?.type === 'news2') return news2Of(v).urgent;
  if (rule?.type === 'shock-index') return v.hr / v.sbp >= rule.above;
  if (rule?.type === 'threshold' && rule.condition.metric in v) return meets(v[rule.condition.metric as keyof Baseline], rule.condition);
  return undefined;
}

/** Generate, validate and replay one cohort. */
export async function runOffline(spec: CohortSpec, opts: OfflineOptions = {}): Promise<OfflineRun> {
  const started = performance.now();
  const parsed = parseRuleSetText(opts.rulesText ?? (await readDefaultRulesText()));
  if (!parsed.ok) throw new Error(`rules: ${parsed.errors.join('; ')}`);
  const engine = createRulesEngine(parsed.ruleSet, { idSalt: '', idleEvictMs: null });
  const cohort = buildCohort(spec, opts.idPrefix ?? '');
  const t0 = spec.startMs;
  const seconds = Math.round(spec.hours * 3600);
  const alerts: AlertLine[] = [];
  const rejected: Partial<Record<RejectReason, number>> = {};
  let messages = 0;
  let samples = 0;
  let watermark = -Infinity;
  const rulesById = new Map(parsed.ruleSet.rules.map((r) => [r.id, r]));
  const push = (events: readonly AlertEvent[], p?: PatientSim, t?: number, epoch?: number): void => {
    for (const e of events) {
      const line: AlertLine = { type: 'alert', event: e.event, ts: e.ts, alert: { ...e.alert } };
      if (p && t !== undefined && epoch !== undefined && e.event === 'raised' && e.alert.kind === 'clinical') {
        const basis = physiologyMeets(rulesById.get(e.alert.ruleId), physiology(p, t, epoch));
        if (basis !== undefined) line.physiology = basis;
      }
      alerts.push(line);
    }
  };
  const ctx = cohort.devices.map((d: SimDevice) => ({ deviceId: d.deviceId, patientId: d.patientId, ward: d.ward, bed: d.bed }));
  const traceId = (): string => 'sim';
  for (let t = 0; t < seconds; t++) {
    const epoch = t0 + t * 1000;
    for (let i = 0; i < cohort.patients.length; i++) {
      const o = observe(cohort.patients[i] as PatientSim, t, epoch);
      if (o === null) continue;
      messages++;
      const r = normaliseVitalsPayload(payloadOf(o), ctx[i] as (typeof ctx)[number], epoch + RECEIVE_DELAY_MS, SIM_LIMITS, traceId);
      for (const x of r.rejected) rejected[x.reason] = (rejected[x.reason] ?? 0) + 1;
      for (const s of r.accepted) {
        samples++;
        opts.onSample?.(s);
        watermark = Math.max(watermark, s.ts);
        push(engine.onTick(watermark));
        push(engine.onSample(s, { live: true }).alerts, cohort.patients[i], t, epoch);
      }
    }
    // Yield now and then so a long run does not starve the event loop of its host.
    if (t % 3600 === 3599) await new Promise((r) => setImmediate(r));
  }
  if (Number.isFinite(watermark)) push(engine.onTick(watermark));
  const end = t0 + seconds * 1000;
  const truth: TruthLine[] = [cohortTruth(cohort, t0, end), ...eventTruth(cohort, t0), ...drainArtefacts(cohort, t0)];
  return { truth, alerts, messages, samples, rejected, elapsedMs: Math.round(performance.now() - started) };
}

/** Run cohorts, score them together, and keep each one's run figures. */
export async function qualityRun(specs: CohortSpec[], opts: OfflineOptions = {}): Promise<{ report: QualityReport; perCohort: Record<string, { report: QualityReport; run: Omit<OfflineRun, 'truth' | 'alerts'> }> }> {
  const perCohort: Record<string, { report: QualityReport; run: Omit<OfflineRun, 'truth' | 'alerts'> }> = {};
  const truth: TruthLine[] = [];
  const alerts: AlertLine[] = [];
  for (const [i, spec] of specs.entries()) {
    const run = await runOffline(spec, { ...opts, idPrefix: opts.idPrefix ?? (specs.length > 1 ? `${String.fromCharCode(65 + i)}` : '') });
    truth.push(...run.truth);
    alerts.push(...run.alerts);
    const { truth: tr, alerts: al, ...figures } = run;
    perCohort[spec.name] = { report: scoreAlerts(tr, al), run: figures };
  }
  return { report: scoreAlerts(truth, alerts), perCohort };
}
