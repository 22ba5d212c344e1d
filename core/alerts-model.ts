/** Alert shapes shared by rules, the gateway, the sink and the dashboard. */

/** IEC 60601-1-8 alarm priorities. */
export type AlertPriority = 'high' | 'medium' | 'low';
export const PRIORITY_RANK: Record<AlertPriority, number> = { low: 1, medium: 2, high: 3 };

export type AlertKind = 'clinical' | 'technical';
export type AlertState = 'open' | 'acknowledged' | 'resolved';
export type AlertEventType = 'raised' | 'escalated' | 'acknowledged' | 'resolved';

export interface Alert {
  /** Deterministic: the same input always yields the same id (replay-safe). */
  id: string;
  patientId: string;
  ward: string;
  ruleId: string;
  kind: AlertKind;
  priority: AlertPriority;
  state: AlertState;
  /** Event time the alert opened, epoch ms. */
  openedAt: number;
  message: string;
  /** The value that triggered (or last escalated) the alert, when there is one. */
  value?: number | null;
  ackBy?: string | null;
  ackAt?: number | null;
  resolvedAt?: number | null;
}

/** One entry on the `alerts` topic: the alert log is the source of truth. */
export interface AlertEvent {
  v: 1;
  /** Deterministic id of this event: `${alert.id}:${event}:${n}`. */
  eventId: string;
  event: AlertEventType;
  /** Event time of the transition, epoch ms. */
  ts: number;
  alert: Alert;
  traceId?: string;
}

/**
 * A clinician's SpO2-scale order on the `alert.actions` topic [NEWS2 chart 1: Scale 2 only for
 * confirmed hypercapnic respiratory failure, on a clinician's decision].
 */
export interface ChartAction {
  v: 1;
  action: 'chart';
  patientId: string;
  spo2Scale: 1 | 2;
  orderedBy: string;
  role: string;
  /** When the order was given, epoch ms. */
  ts: number;
  /** Expiry, epoch ms; null: until changed. */
  until: number | null;
}

/** What travels on `alert.actions`. */
export type ClinicianAction = AlertAction | ChartAction;

/** A clinician's acknowledgement on the `alert.actions` topic. */
export interface AlertAction {
  v: 1;
  action: 'ack';
  alertId: string;
  patientId: string;
  userId: string;
  role: string;
  ts: number;
}
