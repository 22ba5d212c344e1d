/**
 * What one gateway instance knows from the bus: latest vitals, scores and device
 * status per patient, open alerts, and the recent alert log for resumes.
 * Built by tailing the bus; every gateway instance builds its own (no sticky state).
 */
import type { Alert, AlertEvent } from '../core/alerts-model.js';
import type { CanonicalSample, MetricName } from '../core/vitals.js';

export interface PatientLive {
  patientId: string;
  ward: string | null;
  bed: string | null;
  deviceId: string | null;
  /** Latest value and its event time per metric. */
  latest: Partial<Record<MetricName, { value: number; ts: number }>>;
  lastTs: number;
  score: unknown | null;
  device: { online: boolean; battery: number | null; ts: number } | null;
}

/** An alert event with its position in the alert log: the resume sequence number. */
export interface SequencedAlert {
  seq: number;
  event: AlertEvent;
}

/** An open alert as a snapshot shows it: whether its last transitions include an escalation, and when it last changed. */
export interface OpenAlertView extends Alert {
  escalated: boolean;
  changedAt: number;
}

export class LiveState {
  readonly patients = new Map<string, PatientLive>();
  readonly openAlerts = new Map<string, Alert>();
  /** Open alerts escalated since they were raised, with the event time of their last transition. */
  private readonly alertMeta = new Map<string, { escalated: boolean; changedAt: number }>();
  /** Recent alert events in log order; bounded. */
  private readonly log: SequencedAlert[] = [];
  private readonly eventIds = new Set<string>();

  constructor(private readonly maxLog = 100_000) {}

  private patient(id: string, ward: string | null, bed: string | null): PatientLive {
    let p = this.patients.get(id);
    if (!p) {
      p = { patientId: id, ward, bed, deviceId: null, latest: {}, lastTs: 0, score: null, device: null };
      this.patients.set(id, p);
    }
    if (ward !== null) p.ward = ward;
    if (bed !== null) p.bed = bed;
    return p;
  }

  applySample(s: CanonicalSample): PatientLive | null {
    if (s.patientId === null) return null;
    const p = this.patient(s.patientId, s.ward, s.bed ?? null);
    if (s.source === 'device') p.deviceId = s.deviceId;
    for (const [m, v] of Object.entries(s.metrics) as Array<[MetricName, number]>) {
      const cur = p.latest[m];
      // Late (backfilled) samples must not overwrite a newer value on the live view.
      if (!cur || cur.ts <= s.ts) p.latest[m] = { value: v, ts: s.ts };
    }
    if (s.ts > p.lastTs) p.lastTs = s.ts;
    return p;
  }

  /**
   * A device's battery reported inside a sample (not only on the status topic): true when
   * the tile's battery changed. A backfilled sample older than what is known changes nothing;
   * online stays what the status topic said (a device that sends is online when nothing was said).
   */
  applySampleBattery(s: CanonicalSample): boolean {
    if (s.patientId === null || s.source !== 'device' || s.battery === undefined) return false;
    const p = this.patient(s.patientId, s.ward, s.bed ?? null);
    const cur = p.device;
    if (cur && cur.ts > s.ts) return false;
    if (cur && cur.battery === s.battery) {
      cur.ts = s.ts;
      return false;
    }
    p.device = { online: cur?.online ?? true, battery: s.battery, ts: s.ts };
    return true;
  }

  applyScore(patientId: string, ward: string | null, score: unknown): void {
    this.patient(patientId, ward, null).score = score;
  }

  applyDeviceStatus(patientId: string | null, ward: string | null, online: boolean, battery: number | null, ts: number): void {
    if (patientId === null) return;
    this.patient(patientId, ward, null).device = { online, battery, ts };
  }

  /** Record an alert event at log position `seq`; returns false for a duplicate (replay after a crash). */
  applyAlert(seq: number, ev: AlertEvent): boolean {
    const last = this.log[this.log.length - 1];
    if (last && seq <= last.seq) return false;
    // At-least-once writers may log the same event twice (a retried publish): event ids are deterministic.
    if (this.eventIds.has(ev.eventId)) return false;
    this.eventIds.add(ev.eventId);
    this.log.push({ seq, event: ev });
    if (this.log.length > this.maxLog) for (const old of this.log.splice(0, this.log.length - this.maxLog)) this.eventIds.delete(old.event.eventId);
    if (ev.alert.state === 'resolved') {
      this.openAlerts.delete(ev.alert.id);
      this.alertMeta.delete(ev.alert.id);
    } else {
      this.openAlerts.set(ev.alert.id, ev.alert);
      // Same rule as the page (web/src/model.ts): escalated stays until the alert is raised anew or resolved.
      const escalated = ev.event === 'escalated' || (ev.event !== 'raised' && (this.alertMeta.get(ev.alert.id)?.escalated ?? false));
      this.alertMeta.set(ev.alert.id, { escalated, changedAt: ev.ts });
    }
    this.patient(ev.alert.patientId, ev.alert.ward, null);
    return true;
  }

  /** An open alert with its escalation state, as the WebSocket snapshot sends it. */
  alertView(a: Alert): OpenAlertView {
    const m = this.alertMeta.get(a.id);
    return { ...a, escalated: m?.escalated ?? false, changedAt: m?.changedAt ?? a.openedAt };
  }

  /** Up to `limit` alert events after `since`, in order, unfiltered (resumes page through the log). */
  eventsAfter(since: number, limit: number): SequencedAlert[] {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.log[mid] as SequencedAlert).seq <= since) lo = mid + 1;
      else hi = mid;
    }
    return this.log.slice(lo, lo + limit);
  }

  /** The oldest seq still held; a resume from before it cannot be served in full. */
  oldestSeq(): number | null {
    return this.log[0]?.seq ?? null;
  }

  latestSeq(): number {
    return this.log[this.log.length - 1]?.seq ?? 0;
  }
}
