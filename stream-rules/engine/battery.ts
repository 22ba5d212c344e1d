/** Battery rules: device charge below a level, cleared above another. */
import { step, type Episode, type EpisodeTiming } from '../../core/alert-lifecycle.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import { ruleMessage } from '../../core/rule-messages.js';
import type { BatteryRule } from '../../core/rules-config.js';
import { rank, type PatientState } from './state.js';
import type { AlertOps } from './transitions.js';

/** Evaluate battery rule `ri` on a new charge reading `b` (0..1). */
export function evalBattery(ops: AlertOps, ps: PatientState, ri: number, ts: number, b: number, live: boolean, traceId: string): AlertEvent | null {
  const rule = ps.compiled.rules[ri] as BatteryRule;
  const ep = ps.eps[ri] as Episode;
  if (!rule.enabled && ep.alert === null) return null;
  const level = rule.enabled && b < rule.below ? rank(rule.priority) : 0;
  const tr = step(ep, ts, level, b >= rule.clearAbove, ps.compiled.timing[ri] as EpisodeTiming, live);
  return ops.apply(ps, ri, tr, ts, level, b, () => ruleMessage(rule, false), traceId);
}
