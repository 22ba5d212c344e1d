/** Threshold rules: a value beyond a limit (with an optional worse limit), cleared past the hysteresis. */
import { step, type Episode, type EpisodeTiming } from '../../core/alert-lifecycle.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import { ruleMessage } from '../../core/rule-messages.js';
import type { Condition, ThresholdRule } from '../../core/rules-config.js';
import { rank, type PatientState } from './state.js';
import type { AlertOps } from './transitions.js';

function breach(v: number, c: Condition): boolean {
  switch (c.op) {
    case '<':
      return v < c.value;
    case '<=':
      return v <= c.value;
    case '>':
      return v > c.value;
    case '>=':
      return v >= c.value;
  }
}

/** On the normal side of the threshold by at least the hysteresis. */
function clearedBy(v: number, c: Condition, h: number): boolean {
  switch (c.op) {
    case '<':
      return v >= c.value + h;
    case '<=':
      return v > c.value + h;
    case '>':
      return v <= c.value - h;
    case '>=':
      return v < c.value - h;
  }
}

/** Evaluate threshold rule `ri` on a new good value of its metric. */
export function evalThreshold(ops: AlertOps, ps: PatientState, ri: number, ts: number, v: number, live: boolean, traceId: string): AlertEvent | null {
  const rule = ps.compiled.rules[ri] as ThresholdRule;
  const ep = ps.eps[ri] as Episode;
  if (!rule.enabled && ep.alert === null) return null;
  const base = breach(v, rule.condition);
  const worse = rule.escalate !== null && breach(v, rule.escalate.condition);
  const level = !rule.enabled ? 0 : worse ? rank((rule.escalate as NonNullable<typeof rule.escalate>).priority) : base ? rank(rule.priority) : 0;
  const cleared = !base && clearedBy(v, rule.condition, rule.hysteresis);
  const tr = step(ep, ts, level, cleared, ps.compiled.timing[ri] as EpisodeTiming, live);
  return ops.apply(ps, ri, tr, ts, level, v, (lvl) => ruleMessage(rule, lvl > rank(rule.priority)), traceId);
}
