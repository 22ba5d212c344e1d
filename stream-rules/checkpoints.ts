/**
 * The rules role's per-patient checkpoint (topic `rules.state`, compacted, keyed by patient,
 * docs/decisions/0018): the events of the patient's unresolved alerts and their latest SpO2-scale
 * order. A rules instance that gains a partition restores those patients from it instead of
 * reading the whole alert history; the recent samples are then replayed on top.
 * Pure: the role publishes what `record()` returns.
 */
import type { AlertEvent, ChartAction } from '../core/alerts-model.js';

/** The value on `rules.state` for one patient; null (a tombstone) once nothing is left to restore. */
export interface PatientCheckpoint {
  v: 1;
  /** Every event of the patient's unresolved alerts, in log order. */
  events: AlertEvent[];
  chart: ChartAction | null;
}

/** Key of the record saying the topic was seeded from the alert log (an upgrade from a version without it). */
export const SEEDED_KEY = '~seeded';

/** Parse a checkpoint value; null for a tombstone or anything unreadable (the caller counts those). */
export function parseCheckpoint(value: string | null): PatientCheckpoint | null {
  if (value === null) return null;
  try {
    const v = JSON.parse(value) as Partial<PatientCheckpoint>;
    if (v.v !== 1 || !Array.isArray(v.events)) return null;
    return { v: 1, events: v.events, chart: v.chart ?? null };
  } catch {
    return null;
  }
}

export class Checkpoints {
  private readonly byPatient = new Map<string, PatientCheckpoint>();

  get size(): number {
    return this.byPatient.size;
  }

  /** Take a restored checkpoint as this patient's current one. */
  load(patientId: string, cp: PatientCheckpoint): void {
    this.byPatient.set(patientId, { v: 1, events: [...cp.events], chart: cp.chart });
  }

  /**
   * Add alert events (a patient's own, in order); an event already held is ignored (a replay
   * computes it again). Returns the patients whose checkpoint changed.
   */
  applyEvents(events: readonly AlertEvent[]): Set<string> {
    const changed = new Set<string>();
    for (const e of events) {
      const id = e.alert.patientId;
      const cp = this.byPatient.get(id) ?? { v: 1 as const, events: [], chart: null };
      if (cp.events.some((x) => x.eventId === e.eventId)) continue;
      // A resolved alert has nothing left to restore: drop all of its events.
      cp.events = e.event === 'resolved' ? cp.events.filter((x) => x.alert.id !== e.alert.id) : [...cp.events, e];
      this.byPatient.set(id, cp);
      changed.add(id);
    }
    return changed;
  }

  /** Keep the patient's latest order (by order time); true if it changed. */
  applyChart(a: ChartAction): boolean {
    const cp = this.byPatient.get(a.patientId) ?? { v: 1 as const, events: [], chart: null };
    if (cp.chart && cp.chart.ts > a.ts) return false;
    if (cp.chart && cp.chart.ts === a.ts && JSON.stringify(cp.chart) === JSON.stringify(a)) return false;
    cp.chart = a;
    this.byPatient.set(a.patientId, cp);
    return true;
  }

  forget(patientId: string): void {
    this.byPatient.delete(patientId);
  }

  /** The record for a patient's checkpoint: null value (tombstone) when nothing is left to restore. */
  record(patientId: string): { key: string; value: string | null } {
    const cp = this.byPatient.get(patientId);
    if (!cp || (cp.events.length === 0 && cp.chart === null)) {
      this.byPatient.delete(patientId);
      return { key: patientId, value: null };
    }
    return { key: patientId, value: JSON.stringify(cp) };
  }

  patients(): IterableIterator<string> {
    return this.byPatient.keys();
  }
}
