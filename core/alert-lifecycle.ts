/**
 * The alert lifecycle of one (patient, rule) pair: idle → pending → raised → escalated →
 * acknowledged → resolved, with delay (`for`), hysteresis (`clearFor` plus a value band)
 * and deterministic ids. Pure and allocation-free unless a transition happens.
 *
 * Time is event time throughout; see docs/decisions/0003-news2-and-alerting.md.
 */
import { PRIORITY_RANK, type Alert, type AlertEvent, type AlertEventType, type AlertPriority } from './alerts-model.js';

/** Priority by rank: 1 low, 2 medium, 3 high (IEC 60601-1-8). */
export const RANK_PRIORITY: readonly AlertPriority[] = ['low', 'low', 'medium', 'high'];

/** Mutable state of one (patient, rule) pair. NaN means "not running" for the timers. */
export interface Episode {
  alert: Alert | null;
  /** Events emitted for the current alert: the `n` of the next event id is events + 1. */
  events: number;
  /** Start of the current breach (raise delay); NaN when not pending. */
  pendingSince: number;
  /** Since when the level has been above the alert's priority (escalation delay). */
  higherSince: number;
  /** Since when the condition has been cleared (resolve delay). */
  clearSince: number;
  /** Time of the last evidence, to detect gaps that restart the timers. */
  lastEvidenceTs: number;
  /** Start of the unacknowledged period counted by escalateAfter. */
  unackedSince: number;
  /** Unacknowledged-time escalations in this episode. */
  timerEscalations: number;
  /** True while a timer-heap entry for this episode is armed. */
  armed: boolean;
  /** Acknowledgements already applied (`userId|ackAt`), so a re-delivered action is not applied twice. */
  acks: string[];
}

/** A fresh, idle episode. */
export function newEpisode(): Episode {
  return {
    alert: null,
    events: 0,
    pendingSince: Number.NaN,
    higherSince: Number.NaN,
    clearSince: Number.NaN,
    lastEvidenceTs: -Infinity,
    unackedSince: Number.NaN,
    timerEscalations: 0,
    armed: false,
    acks: [],
  };
}

/** Timing of one rule as the lifecycle sees it. */
export interface EpisodeTiming {
  forMs: number;
  clearForMs: number;
  /** Delay before a worse level escalates an open alert (or raises above the base level). */
  escalateForMs: number;
  /** The level a raise starts at unless the worse level has held for escalateForMs. */
  baseLevel: number;
  maxGapMs: number;
  /**
   * Raise at the level the evidence calls for once `forMs` has held at any alerting level
   * (NEWS2: the alert's priority is the band the score is in when it is raised). Otherwise a
   * raise starts at baseLevel until the worse level has held for escalateForMs.
   */
  raiseAtEvidence: boolean;
}

export type Transition = 0 | 'raise' | 'escalate' | 'resolve';

/**
 * Feed one piece of evidence into an episode and say which transition is due.
 * `level` is the priority rank the evidence calls for (0 = no breach); `cleared` says the
 * value is on the normal side of the hysteresis band. In the band (level 0, not cleared)
 * neither a pending breach nor a clearing timer restarts: a value hovering at the
 * threshold raises once and does not resolve until it really clears.
 * When `live` is false the timers advance but no transition is returned; a transition
 * that is due then happens on the next live evidence.
 * @returns the transition to apply; the level to raise or escalate to is `levelFor(ep, ...)`
 */
export function step(ep: Episode, ts: number, level: number, cleared: boolean, tm: EpisodeTiming, live: boolean): Transition {
  if (ts - ep.lastEvidenceTs > tm.maxGapMs) {
    // A gap in the data is not evidence that the condition held (or cleared) meanwhile.
    ep.pendingSince = Number.NaN;
    ep.higherSince = Number.NaN;
    ep.clearSince = Number.NaN;
  }
  ep.lastEvidenceTs = ts;
  const current = ep.alert === null ? tm.baseLevel - 1 : PRIORITY_RANK[ep.alert.priority];
  if (level > 0) {
    ep.clearSince = Number.NaN;
    if (level > Math.max(current, tm.baseLevel)) {
      if (Number.isNaN(ep.higherSince)) ep.higherSince = ts;
    } else ep.higherSince = Number.NaN;
    if (ep.alert === null) {
      if (Number.isNaN(ep.pendingSince)) ep.pendingSince = ts;
      return live && ts - ep.pendingSince >= tm.forMs ? 'raise' : 0;
    }
    if (level > current && live && (tm.escalateForMs === 0 || ts - ep.higherSince >= tm.escalateForMs)) return 'escalate';
    return 0;
  }
  ep.higherSince = Number.NaN;
  if (ep.alert === null) {
    if (cleared) ep.pendingSince = Number.NaN;
    return 0;
  }
  if (!cleared) {
    ep.clearSince = Number.NaN;
    return 0;
  }
  if (Number.isNaN(ep.clearSince)) ep.clearSince = ts;
  return live && ts - ep.clearSince >= tm.clearForMs ? 'resolve' : 0;
}

/**
 * The level a raise or escalation goes to: the evidence level once the worse level has
 * held for escalateForMs, otherwise the base level (a spike of a worse value at the
 * moment of raising does not skip the escalation delay).
 */
export function levelFor(ep: Episode, ts: number, level: number, tm: EpisodeTiming): number {
  if (level <= tm.baseLevel || (ep.alert === null && tm.raiseAtEvidence)) return level;
  if (tm.escalateForMs === 0 || (!Number.isNaN(ep.higherSince) && ts - ep.higherSince >= tm.escalateForMs)) return level;
  return ep.alert === null ? tm.baseLevel : PRIORITY_RANK[ep.alert.priority];
}

// ------------------------------------------------------------------ ids

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;
const encoder = new TextEncoder();

/**
 * FNV-1a 64-bit of a string's UTF-8 bytes, as 16 hex digits.
 * Deterministic and not readable, but not cryptographic: with a secret `salt` it stops
 * casual linking of ids to patients, not a determined dictionary attack on known ids.
 */
export function fnv1a64(s: string): string {
  let h = FNV_OFFSET;
  for (const b of encoder.encode(s)) {
    h ^= BigInt(b);
    h = (h * FNV_PRIME) & MASK64;
  }
  return h.toString(16).padStart(16, '0');
}

/**
 * Deterministic alert id: `al-` + FNV-1a 64 of salt, patient, rule and the event time the
 * episode opened. The patient id (PHI) never appears in the id, which shows up in URLs
 * and logs; the same input always gives the same id, so replays and restores agree.
 */
export function alertId(patientId: string, ruleId: string, openedAt: number, salt = ''): string {
  return `al-${fnv1a64(`${salt}\u0000${patientId}\u0000${ruleId}\u0000${openedAt}`)}`;
}

/** Deterministic event id: `${alertId}:${event}:${n}`, n counting the alert's events from 1. */
export function eventId(alertIdValue: string, event: AlertEventType, n: number): string {
  return `${alertIdValue}:${event}:${n}`;
}

/**
 * Emit an event for the episode's alert: counts it and snapshots the alert, so a later
 * transition never changes an event already handed out.
 */
export function emit(ep: Episode, event: AlertEventType, ts: number, traceId?: string): AlertEvent {
  const alert = ep.alert as Alert;
  ep.events++;
  const e: AlertEvent = { v: 1, eventId: eventId(alert.id, event, ep.events), event, ts, alert: { ...alert } };
  if (traceId !== undefined) e.traceId = traceId;
  return e;
}

/** Reset an episode after its alert resolved: the next breach is a new episode and a new id. */
export function closeEpisode(ep: Episode): void {
  ep.alert = null;
  ep.events = 0;
  ep.pendingSince = Number.NaN;
  ep.higherSince = Number.NaN;
  ep.clearSince = Number.NaN;
  ep.unackedSince = Number.NaN;
  ep.timerEscalations = 0;
  ep.acks = [];
}
