/**
 * Alert transitions shared by every rule type: raise, escalate and resolve an episode's alert,
 * and arm its unacknowledged-escalation timer. The engine creates one set per instance (salt,
 * alert index, timer heap); evaluators turn `step`'s verdict into an event with `apply`.
 */
import { closeEpisode, emit, levelFor, RANK_PRIORITY, alertId as makeAlertId, type Episode, type EpisodeTiming, type Transition } from '../../core/alert-lifecycle.js';
import { PRIORITY_RANK, type Alert, type AlertEvent } from '../../core/alerts-model.js';
import { ruleKind, type Rule } from '../../core/rules-config.js';
import type { TimerHeap } from '../../core/timer-heap.js';
import { UNKNOWN_WARD, type PatientState, type Timer } from './state.js';

export interface AlertOps {
  raise(ps: PatientState, ri: number, ts: number, level: number, value: number | null, message: string, traceId?: string): AlertEvent;
  escalate(ps: PatientState, ri: number, ts: number, level: number, value: number | null, message: string | null, traceId?: string): AlertEvent;
  armUnacked(ps: PatientState, ri: number): void;
  /** Apply a transition from `step`; returns the event or null. */
  apply(ps: PatientState, ri: number, tr: Transition, ts: number, level: number, value: number | null, msg: (lvl: number) => string, traceId: string): AlertEvent | null;
  /** Schedule a timer (missing-data deadlines). */
  schedule(due: number, t: Timer): void;
}

export interface AlertOpsDeps {
  salt: string;
  maxEscalations: number;
  /** Open and acknowledged alerts by id. */
  alertIndex: Map<string, { ps: PatientState; ri: number }>;
  timers: TimerHeap<Timer>;
}

export function createAlertOps({ salt, maxEscalations, alertIndex, timers }: AlertOpsDeps): AlertOps {
  function raise(ps: PatientState, ri: number, ts: number, level: number, value: number | null, message: string, traceId?: string): AlertEvent {
    const rule = ps.compiled.rules[ri] as Rule;
    const ep = ps.eps[ri] as Episode;
    const id = makeAlertId(ps.id, rule.id, ts, salt);
    ep.alert = {
      id,
      patientId: ps.id,
      ward: ps.ward ?? UNKNOWN_WARD,
      ruleId: rule.id,
      kind: ruleKind(rule),
      priority: RANK_PRIORITY[level] ?? 'high',
      state: 'open',
      openedAt: ts,
      message,
      value,
      ackBy: null,
      ackAt: null,
      resolvedAt: null,
    };
    ep.events = 0;
    ep.pendingSince = Number.NaN;
    ep.timerEscalations = 0;
    ep.unackedSince = ts;
    alertIndex.set(id, { ps, ri });
    armUnacked(ps, ri);
    return emit(ep, 'raised', ts, traceId);
  }

  function escalate(ps: PatientState, ri: number, ts: number, level: number, value: number | null, message: string | null, traceId?: string): AlertEvent {
    const ep = ps.eps[ri] as Episode;
    const a = ep.alert as Alert;
    a.priority = RANK_PRIORITY[Math.min(3, level)] ?? 'high';
    a.ward = ps.ward ?? UNKNOWN_WARD;
    if (value !== null) a.value = value;
    if (message !== null) a.message = message;
    if (a.state === 'acknowledged') {
      // A worse condition re-alarms: the earlier acknowledgement was for a lesser alarm.
      a.state = 'open';
      a.ackBy = null;
      a.ackAt = null;
    }
    ep.unackedSince = ts;
    armUnacked(ps, ri);
    return emit(ep, 'escalated', ts, traceId);
  }

  function resolve(ps: PatientState, ri: number, ts: number, value: number | null, traceId?: string): AlertEvent {
    const ep = ps.eps[ri] as Episode;
    const a = ep.alert as Alert;
    a.state = 'resolved';
    a.resolvedAt = ts;
    a.ward = ps.ward ?? UNKNOWN_WARD;
    if (value !== null) a.value = value;
    const e = emit(ep, 'resolved', ts, traceId);
    alertIndex.delete(a.id);
    closeEpisode(ep);
    return e;
  }

  function armUnacked(ps: PatientState, ri: number): void {
    const rule = ps.compiled.rules[ri] as Rule;
    const ep = ps.eps[ri] as Episode;
    if (rule.escalateAfterMs === null || ep.alert === null || ep.timerEscalations >= maxEscalations) return;
    timers.push(ep.unackedSince + rule.escalateAfterMs, { kind: 'unacked', ps, ri, alertId: ep.alert.id });
  }

  function apply(
    ps: PatientState,
    ri: number,
    tr: Transition,
    ts: number,
    level: number,
    value: number | null,
    msg: (lvl: number) => string,
    traceId: string,
  ): AlertEvent | null {
    if (tr === 0) return null;
    const ep = ps.eps[ri] as Episode;
    const tm = ps.compiled.timing[ri] as EpisodeTiming;
    if (tr === 'resolve') return resolve(ps, ri, ts, value, traceId);
    const lvl = levelFor(ep, ts, level, tm);
    if (tr === 'raise') return raise(ps, ri, ts, lvl, value, msg(lvl), traceId);
    if (ep.alert !== null && lvl <= PRIORITY_RANK[ep.alert.priority]) return null;
    return escalate(ps, ri, ts, lvl, value, msg(lvl), traceId);
  }

  return { raise, escalate, armUnacked, apply, schedule: (due, t) => timers.push(due, t) };
}
