/**
 * The dashboard's client-side state, pure (no DOM): patients, open alerts and the
 * last alert sequence number, fed by WebSocket messages. The views read it and
 * render in animation frames; this module only says what changed.
 */

export type Metric = 'hr' | 'spo2' | 'rr' | 'temp' | 'sbp' | 'dbp';
export const METRICS: readonly Metric[] = ['hr', 'spo2', 'rr', 'temp', 'sbp', 'dbp'];

export type Risk = 'low' | 'low-medium' | 'medium' | 'high';
// The wire shapes are the server's own (core/ is pure: no Node APIs, safe to bundle).
import type { Alert, AlertPriority, AlertState } from '../../../core/alerts-model.js';
import { PRIORITY_RANK } from '../../../core/alerts-model.js';

export type { Alert, AlertState };
export type Priority = AlertPriority;
export { PRIORITY_RANK };
export type AlertEventType = 'raised' | 'escalated' | 'acknowledged' | 'resolved';

/** A NEWS2 result as the rules role publishes it (core/news2.ts, stream-rules/engine/engine.ts ScoreOutput). */
export interface Score {
  score: number;
  maxScore?: number;
  risk: Risk;
  complete: boolean;
  missing?: string[];
  stale?: string[];
  components?: Record<string, number>;
  ts?: number;
}

export interface Timed {
  value: number;
  ts: number;
}

export interface DeviceInfo {
  online: boolean;
  battery: number | null;
  ts: number;
}

export interface Patient {
  patientId: string;
  ward: string | null;
  bed: string | null;
  latest: Partial<Record<Metric, Timed>>;
  lastTs: number;
  score: Score | null;
  device: DeviceInfo | null;
}


/** An alert as shown: plus whether its last transition was an escalation. */
export interface AlertView extends Alert {
  escalated: boolean;
  /** Time of the last event about it (event time). */
  changedAt: number;
}

export const RISK_RANK: Record<Risk, number> = { high: 4, medium: 3, 'low-medium': 2, low: 1 };

/** What an alert message changed, for the views (banner, sound). */
export interface AlertChange {
  alert: AlertView;
  event: AlertEventType;
  /** First time this client hears of it being open (raised, or unknown until now). */
  fresh: boolean;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

function parseScore(x: unknown): Score | null {
  if (!isObj(x)) return null;
  const score = num(x.score);
  const risk = str(x.risk);
  if (score === null || (risk !== 'low' && risk !== 'low-medium' && risk !== 'medium' && risk !== 'high')) return null;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  const out: Score = { score, risk, complete: x.complete !== false, missing: strings(x.missing), stale: strings(x.stale) };
  const maxScore = num(x.maxScore);
  if (maxScore !== null) out.maxScore = maxScore;
  const ts = num(x.ts);
  if (ts !== null) out.ts = ts;
  if (isObj(x.components)) {
    const c: Record<string, number> = {};
    for (const [k, v] of Object.entries(x.components)) if (typeof v === 'number') c[k] = v;
    out.components = c;
  }
  return out;
}

function parseAlert(x: unknown): Alert | null {
  if (!isObj(x)) return null;
  const id = str(x.id);
  const patientId = str(x.patientId);
  const priority = str(x.priority);
  const state = str(x.state);
  if (!id || !patientId || (priority !== 'high' && priority !== 'medium' && priority !== 'low')) return null;
  if (state !== 'open' && state !== 'acknowledged' && state !== 'resolved') return null;
  return {
    id,
    patientId,
    ward: str(x.ward) ?? '',
    ruleId: str(x.ruleId) ?? '',
    kind: x.kind === 'technical' ? 'technical' : 'clinical',
    priority,
    state,
    openedAt: num(x.openedAt) ?? 0,
    message: str(x.message) ?? '',
    value: num(x.value),
    ackBy: str(x.ackBy),
    ackAt: num(x.ackAt),
    resolvedAt: num(x.resolvedAt),
  };
}

export class Model {
  readonly patients = new Map<string, Patient>();
  readonly alerts = new Map<string, AlertView>();
  /** Highest alert seq applied (snapshot or event): the `resume` point. */
  seq = 0;
  /** Wall-clock ms of the last message from the server. */
  lastMessageAt = 0;

  private patient(id: string, ward: string | null, bed: string | null): Patient {
    let p = this.patients.get(id);
    if (!p) {
      p = { patientId: id, ward, bed, latest: {}, lastTs: 0, score: null, device: null };
      this.patients.set(id, p);
    }
    if (ward !== null) p.ward = ward;
    if (bed !== null) p.bed = bed;
    return p;
  }

  clear(): void {
    this.patients.clear();
    this.alerts.clear();
    this.seq = 0;
  }

  /** Replace everything with a snapshot; returns the alerts that this client did not know as open. */
  applySnapshot(m: Record<string, unknown>): AlertChange[] {
    const known = new Map(this.alerts);
    this.patients.clear();
    this.alerts.clear();
    for (const raw of Array.isArray(m.patients) ? m.patients : []) {
      if (!isObj(raw)) continue;
      const id = str(raw.patientId);
      if (!id) continue;
      const p = this.patient(id, str(raw.ward), str(raw.bed));
      if (isObj(raw.latest)) {
        for (const [k, v] of Object.entries(raw.latest)) {
          if ((METRICS as readonly string[]).includes(k) && isObj(v) && num(v.value) !== null && num(v.ts) !== null) p.latest[k as Metric] = { value: v.value as number, ts: v.ts as number };
        }
      }
      p.lastTs = num(raw.lastTs) ?? 0;
      p.score = parseScore(raw.score);
      if (isObj(raw.device)) p.device = { online: raw.device.online === true, battery: num(raw.device.battery), ts: num(raw.device.ts) ?? 0 };
    }
    const changes: AlertChange[] = [];
    for (const raw of Array.isArray(m.alerts) ? m.alerts : []) {
      const a = parseAlert(raw);
      if (!isObj(raw)) continue;
      if (!a || a.state === 'resolved') continue;
      const before = known.get(a.id);
      // The server says whether it was escalated (a reconnecting page must not lose that); older servers do not.
      const escalated = typeof raw.escalated === 'boolean' ? raw.escalated : (before?.escalated ?? false);
      const view: AlertView = { ...a, escalated, changedAt: num(raw.changedAt) ?? before?.changedAt ?? a.openedAt };
      this.alerts.set(a.id, view);
      this.patient(a.patientId, a.ward || null, null);
      if (!before) changes.push({ alert: view, event: 'raised', fresh: a.state === 'open' });
    }
    const seq = num(m.seq);
    if (seq !== null) this.seq = seq;
    return changes;
  }

  /** Apply a vitals message; false when it carried nothing new. */
  applyVitals(m: Record<string, unknown>): Patient | null {
    const id = str(m.patientId);
    const ts = num(m.ts);
    if (!id || ts === null || !isObj(m.metrics)) return null;
    const p = this.patient(id, str(m.ward), str(m.bed));
    for (const [k, v] of Object.entries(m.metrics)) {
      if (!(METRICS as readonly string[]).includes(k) || typeof v !== 'number') continue;
      const cur = p.latest[k as Metric];
      // A late (backfilled) value must not replace a newer one.
      if (!cur || cur.ts <= ts) p.latest[k as Metric] = { value: v, ts };
    }
    if (ts > p.lastTs) p.lastTs = ts;
    return p;
  }

  applyScore(m: Record<string, unknown>): Patient | null {
    const id = str(m.patientId);
    const sc = parseScore(m);
    if (!id || !sc) return null;
    const p = this.patient(id, str(m.ward), null);
    // Scores arrive in event-time order per patient; never go back to an older one.
    if (p.score?.ts !== undefined && sc.ts !== undefined && sc.ts < p.score.ts) return null;
    p.score = sc;
    return p;
  }

  applyDevice(m: Record<string, unknown>): Patient | null {
    const id = str(m.patientId);
    if (!id) return null;
    const p = this.patient(id, str(m.ward), null);
    const battery = num(m.battery);
    p.device = { online: m.online === true, battery: battery ?? p.device?.battery ?? null, ts: num(m.ts) ?? 0 };
    return p;
  }

  /** Apply an alert event; null when it is a duplicate (seq already applied) or unreadable. */
  applyAlert(m: Record<string, unknown>): AlertChange | null {
    const seq = num(m.seq);
    const event = str(m.event) as AlertEventType | null;
    const a = parseAlert(m.alert);
    if (seq === null || !a || !event) return null;
    if (seq <= this.seq) return null;
    this.seq = seq;
    const before = this.alerts.get(a.id);
    const ts = num(m.ts) ?? a.openedAt;
    const view: AlertView = { ...a, escalated: event === 'escalated' || (event !== 'raised' && (before?.escalated ?? false)), changedAt: ts };
    if (event === 'resolved' || a.state === 'resolved') this.alerts.delete(a.id);
    else this.alerts.set(a.id, view);
    this.patient(a.patientId, a.ward || null, null);
    const fresh = a.state === 'open' && (event === 'raised' || event === 'escalated' || !before);
    return { alert: view, event, fresh };
  }

  /** Open (unresolved) alerts per patient. */
  alertsByPatient(): Map<string, AlertView[]> {
    const out = new Map<string, AlertView[]>();
    for (const a of this.alerts.values()) {
      let l = out.get(a.patientId);
      if (!l) out.set(a.patientId, (l = []));
      l.push(a);
    }
    return out;
  }
}

/** The most urgent alert facts of one patient. */
export interface AlertSummary {
  /** Highest priority among unresolved alerts (0 none, 1 low .. 3 high). */
  top: number;
  /** Highest priority among alerts nobody has acknowledged yet. */
  unacked: number;
  count: number;
  /** Unresolved alerts per priority: a tile says "High alert + 1 medium", never "High ×2" for one high. */
  byPriority: Record<Priority, number>;
  /** Alerts nobody has acknowledged yet. */
  open: number;
}

export function summarise(alerts: readonly AlertView[] | undefined): AlertSummary {
  let top = 0;
  let unacked = 0;
  let open = 0;
  const byPriority: Record<Priority, number> = { high: 0, medium: 0, low: 0 };
  for (const a of alerts ?? []) {
    const r = PRIORITY_RANK[a.priority];
    byPriority[a.priority]++;
    if (r > top) top = r;
    if (a.state === 'open') {
      open++;
      if (r > unacked) unacked = r;
    }
  }
  return { top, unacked, count: alerts?.length ?? 0, byPriority, open };
}

/** Natural order for bed labels: "2" before "10", "A3" before "B1". */
export function compareNatural(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
}

export function compareBed(a: Patient, b: Patient): number {
  return compareNatural(a.ward ?? '\uffff', b.ward ?? '\uffff') || compareNatural(a.bed ?? '\uffff', b.bed ?? '\uffff') || compareNatural(a.patientId, b.patientId);
}

/**
 * Clinical urgency, most urgent first: the highest open alert priority (high, then
 * medium, then low), unacknowledged before acknowledged at the same priority, then
 * NEWS2 risk band, then NEWS2 score; bed order breaks ties so tiles do not jump.
 */
export function compareUrgency(a: Patient, b: Patient, alerts: Map<string, AlertView[]>): number {
  const sa = summarise(alerts.get(a.patientId));
  const sb = summarise(alerts.get(b.patientId));
  return (
    sb.top - sa.top ||
    sb.unacked - sa.unacked ||
    (b.score ? RISK_RANK[b.score.risk] : 0) - (a.score ? RISK_RANK[a.score.risk] : 0) ||
    (b.score?.score ?? -1) - (a.score?.score ?? -1) ||
    compareBed(a, b)
  );
}

/** Alert list order: priority, then unacknowledged before acknowledged, then oldest first (longest waiting). */
export function compareAlerts(a: AlertView, b: AlertView): number {
  const ua = a.state === 'open' ? 1 : 0;
  const ub = b.state === 'open' ? 1 : 0;
  return PRIORITY_RANK[b.priority] - PRIORITY_RANK[a.priority] || ub - ua || a.openedAt - b.openedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
