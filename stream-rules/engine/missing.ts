/** Missing-data rules: no good reading of a metric for `after`; data clears the alert and re-arms the deadline. */
import { step, type Episode, type EpisodeTiming } from '../../core/alert-lifecycle.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import { ruleMessage } from '../../core/rule-messages.js';
import type { MissingRule, Rule } from '../../core/rules-config.js';
import { rank, type PatientState, type Timer } from './state.js';
import type { AlertOps } from './transitions.js';

/** A good reading of the rule's metric arrived at `ts`. */
export function evalMissingOnData(ops: AlertOps, ps: PatientState, ri: number, ts: number, live: boolean, traceId: string): AlertEvent | null {
  const rule = ps.compiled.rules[ri] as MissingRule;
  const ep = ps.eps[ri] as Episode;
  let e: AlertEvent | null = null;
  if (ep.alert !== null) {
    const tr = step(ep, ts, 0, true, ps.compiled.timing[ri] as EpisodeTiming, live);
    e = ops.apply(ps, ri, tr, ts, 0, null, () => '', traceId);
  }
  if (ep.alert === null && !ep.armed && rule.enabled) {
    ep.armed = true;
    ops.schedule(ts + rule.afterMs, { kind: 'missing', ps, ri });
  }
  return e;
}

/** The rule's deadline timer fired at `now`: raise if data is still overdue, else re-arm for the new deadline. */
export function onMissingTimer(ops: AlertOps, ps: PatientState, ri: number, now: number, timer: Timer): AlertEvent | null {
  const ep = ps.eps[ri] as Episode;
  const rule = ps.compiled.rules[ri] as Rule;
  ep.armed = false;
  if (rule.type !== 'missing' || !rule.enabled || ep.alert !== null) return null;
  const due = (ps.lastGood[ps.compiled.metricIndex[ri] as number] as number) + rule.afterMs;
  if (due > now) {
    ep.armed = true;
    ops.schedule(due, timer);
    return null;
  }
  // Stamped at the moment data became overdue, not at tick time: tick cadence
  // does not change the event, so replays agree with live runs.
  const e = ops.raise(ps, ri, due, rank(rule.priority), null, ruleMessage(rule, false));
  ep.lastEvidenceTs = due;
  return e;
}
