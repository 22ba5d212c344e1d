/**
 * Alert quality against ground truth (pure): sensitivity, false alerts per patient-day,
 * time from onset to alert. Inputs are the ground-truth lines (cohort.ts) and alert events in
 * the WebSocket / `vitals rules replay` shape (`{"type":"alert","event":"raised",…,"alert":{…}}`).
 *
 * Attribution (docs/sim.md):
 * - a clinical alert raised at or after a clinical event's start, for that patient, belongs to
 *   the event (deteriorations are held to the end of the run); any other clinical alert is false;
 * - a technical alert belongs to a technical event (start .. end + 10 min) or to a logged
 *   device-off / probe-off episode (start .. end + 10 min) of the patient; otherwise unexplained;
 * - an event is detected by its first alert whose rule is in its `expect` list; time-to-alert
 *   is that alert's openedAt minus the event's onset (negative: alerted before the onset);
 * - stable exposure is each patient's time before its first clinical event (all of it without one).
 */
import type { Alert } from '../core/alerts-model.js';
import type { TruthArtefact, TruthCohort, TruthEvent, TruthLine } from './cohort.js';

const GRACE_MS = 10 * 60_000;
const DAY_MS = 86_400_000;

export interface AlertLine {
  type?: string;
  event: string;
  ts: number;
  alert: Alert;
  /**
   * Offline runs only, on raised clinical alerts: whether the simulated physiology (the patient's
   * state without measurement noise or device artefacts) met the rule's condition at that moment.
   */
  physiology?: boolean;
}

export interface EventScore {
  patientId: string;
  scenario: string;
  kind: TruthEvent['kind'];
  detected: boolean;
  /** Rule that detected it. */
  ruleId: string | null;
  /** Minutes from onset to the first expected alert. */
  minutesToAlert: number | null;
  /** Alerts attributed to this event (any rule). */
  alerts: number;
}

export interface ScenarioSummary {
  events: number;
  detected: number;
  sensitivity: number;
  medianMinutes: number | null;
  p90Minutes: number | null;
  maxMinutes: number | null;
  /** Count of detections per rule id. */
  byRule: Record<string, number>;
}

export interface QualityReport {
  cohorts: string[];
  patients: number;
  /** Patient-days of stable time (no clinical event in progress). */
  stablePatientDays: number;
  clinical: ScenarioSummary;
  technical: ScenarioSummary;
  /** Robustness events (bad payloads): passed when no alert was attributed. */
  robustness: { events: number; passed: number };
  byScenario: Record<string, ScenarioSummary>;
  falseClinical: {
    count: number;
    perPatientDay: number;
    byRule: Record<string, number>;
    byPriority: Record<string, number>;
    /** Of `count`, raised while the simulated physiology itself met the rule's condition (offline runs). */
    physiological: number;
    /**
     * `count` minus `physiological`, per stable patient-day: the alerts that only measurement noise
     * or device artefacts made (the ground-truth-adjusted figure; see docs/sim.md).
     */
    unwarrantedPerPatientDay: number;
  };
  technicalAlerts: { explained: number; unexplained: number; unexplainedPerPatientDay: number; byRule: Record<string, number> };
  events: EventScore[];
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return Math.round(((sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (i - lo)) * 100) / 100;
}

function summarise(scores: EventScore[]): ScenarioSummary {
  const t = scores.filter((s) => s.minutesToAlert !== null).map((s) => s.minutesToAlert as number).sort((a, b) => a - b);
  const byRule: Record<string, number> = {};
  for (const s of scores) if (s.ruleId) byRule[s.ruleId] = (byRule[s.ruleId] ?? 0) + 1;
  const detected = scores.filter((s) => s.detected).length;
  return {
    events: scores.length,
    detected,
    sensitivity: scores.length ? Math.round((detected / scores.length) * 1000) / 1000 : 1,
    medianMinutes: quantile(t, 0.5),
    p90Minutes: quantile(t, 0.9),
    maxMinutes: t.length ? (t[t.length - 1] as number) : null,
    byRule,
  };
}

const inc = (m: Record<string, number>, k: string): void => void (m[k] = (m[k] ?? 0) + 1);

/** Score raised alerts against ground truth. */
export function scoreAlerts(truth: readonly TruthLine[], alertLines: readonly AlertLine[]): QualityReport {
  const cohorts = truth.filter((t): t is TruthCohort => t.type === 'cohort');
  const events = truth.filter((t): t is TruthEvent => t.type === 'event');
  const artefacts = truth.filter((t): t is TruthArtefact => t.type === 'artefact');
  const eventsOf = new Map<string, TruthEvent[]>();
  for (const e of events) eventsOf.set(e.patientId, [...(eventsOf.get(e.patientId) ?? []), e]);
  const artefactsOf = new Map<string, TruthArtefact[]>();
  for (const a of artefacts) artefactsOf.set(a.patientId, [...(artefactsOf.get(a.patientId) ?? []), a]);

  const raisedLines = alertLines.filter((l) => l.event === 'raised').sort((a, b) => a.alert.openedAt - b.alert.openedAt);
  const perEvent = new Map<TruthEvent, Alert[]>();
  const falseClinical = { count: 0, byRule: {} as Record<string, number>, byPriority: {} as Record<string, number>, physiological: 0 };
  const tech = { explained: 0, unexplained: 0, byRule: {} as Record<string, number> };

  for (const line of raisedLines) {
    const a = line.alert;
    const evs = eventsOf.get(a.patientId) ?? [];
    const t = a.openedAt;
    let owner: TruthEvent | undefined;
    if (a.kind === 'clinical') owner = evs.find((e) => e.kind === 'clinical' && t >= e.startTs);
    else owner = evs.find((e) => e.kind === 'technical' && t >= e.startTs && t <= (e.endTs ?? Infinity) + GRACE_MS);
    // A robustness event expects silence: anything in its window is attributed to it (and fails it).
    const robust = evs.find((e) => e.kind === 'robustness' && t >= e.startTs && t <= (e.endTs ?? Infinity) + GRACE_MS);
    if (owner) perEvent.set(owner, [...(perEvent.get(owner) ?? []), a]);
    if (robust) perEvent.set(robust, [...(perEvent.get(robust) ?? []), a]);
    if (a.kind === 'clinical') {
      if (!owner) {
        falseClinical.count++;
        inc(falseClinical.byRule, a.ruleId);
        inc(falseClinical.byPriority, a.priority);
        if (line.physiology === true) falseClinical.physiological++;
      }
    } else {
      inc(tech.byRule, a.ruleId);
      const art = (artefactsOf.get(a.patientId) ?? []).some((x) => t >= x.startTs && t <= x.endTs + GRACE_MS);
      if (owner || art) tech.explained++;
      else tech.unexplained++;
    }
  }

  const scores: EventScore[] = events.map((e) => {
    const list = perEvent.get(e) ?? [];
    if (e.kind === 'robustness') return { patientId: e.patientId, scenario: e.scenario, kind: e.kind, detected: list.length === 0, ruleId: null, minutesToAlert: null, alerts: list.length };
    const hit = list.find((a) => e.expect.includes(a.ruleId));
    return {
      patientId: e.patientId,
      scenario: e.scenario,
      kind: e.kind,
      detected: hit !== undefined,
      ruleId: hit?.ruleId ?? null,
      minutesToAlert: hit && e.onsetTs !== null ? Math.round(((hit.openedAt - e.onsetTs) / 60_000) * 100) / 100 : null,
      alerts: list.length,
    };
  });

  let stableMs = 0;
  let patients = 0;
  for (const c of cohorts) {
    for (const p of c.patients) {
      patients++;
      const firstClinical = Math.min(...(eventsOf.get(p.patientId) ?? []).filter((e) => e.kind === 'clinical').map((e) => e.startTs), c.toTs);
      stableMs += Math.max(0, firstClinical - c.fromTs);
    }
  }
  const days = stableMs / DAY_MS;
  const byScenario: Record<string, ScenarioSummary> = {};
  for (const name of new Set(scores.map((s) => s.scenario))) byScenario[name] = summarise(scores.filter((s) => s.scenario === name));
  const robust = scores.filter((s) => s.kind === 'robustness');
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    cohorts: cohorts.map((c) => c.name),
    patients,
    stablePatientDays: round(days),
    clinical: summarise(scores.filter((s) => s.kind === 'clinical')),
    technical: summarise(scores.filter((s) => s.kind === 'technical')),
    robustness: { events: robust.length, passed: robust.filter((s) => s.detected).length },
    byScenario,
    falseClinical: { ...falseClinical, perPatientDay: days > 0 ? round(falseClinical.count / days) : 0, unwarrantedPerPatientDay: days > 0 ? round((falseClinical.count - falseClinical.physiological) / days) : 0 },
    technicalAlerts: { ...tech, unexplainedPerPatientDay: days > 0 ? round(tech.unexplained / days) : 0 },
    events: scores,
  };
}

/** A short plain-text table of a report, for terminals and BENCHMARKS.md. */
export function formatReport(r: QualityReport): string {
  const fmt = (x: number | null): string => (x === null ? '-' : String(x));
  const lines = [
    `cohorts: ${r.cohorts.join(', ')}; patients ${r.patients}; stable patient-days ${r.stablePatientDays}`,
    `clinical: ${r.clinical.detected}/${r.clinical.events} detected (sensitivity ${r.clinical.sensitivity}); time to alert median ${fmt(r.clinical.medianMinutes)} min, p90 ${fmt(r.clinical.p90Minutes)}, max ${fmt(r.clinical.maxMinutes)}`,
    `technical: ${r.technical.detected}/${r.technical.events} detected; median ${fmt(r.technical.medianMinutes)} min`,
    `robustness: ${r.robustness.passed}/${r.robustness.events} without alerts`,
    `false clinical alerts: ${r.falseClinical.count} (${r.falseClinical.perPatientDay} per patient-day) by rule ${JSON.stringify(r.falseClinical.byRule)}; ${r.falseClinical.physiological} while the simulated physiology met the condition, ${r.falseClinical.count - r.falseClinical.physiological} without (${r.falseClinical.unwarrantedPerPatientDay} per patient-day)`,
    `technical alerts: ${r.technicalAlerts.explained} explained, ${r.technicalAlerts.unexplained} unexplained`,
  ];
  for (const [name, s] of Object.entries(r.byScenario)) {
    lines.push(`  ${name.padEnd(16)} ${s.detected}/${s.events}  median ${fmt(s.medianMinutes)} min  p90 ${fmt(s.p90Minutes)}  by ${JSON.stringify(s.byRule)}`);
  }
  return lines.join('\n');
}
