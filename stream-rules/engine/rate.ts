/** Rate (trend) rules: the fitted change of a metric over a sliding window of good readings. */
import { step, type Episode, type EpisodeTiming } from '../../core/alert-lifecycle.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import { ruleMessage } from '../../core/rule-messages.js';
import type { RateRule } from '../../core/rules-config.js';
import { TrendWindow } from '../../core/windows.js';
import { rank, type PatientState } from './state.js';
import type { AlertOps } from './transitions.js';

/** A late reading within the allowed lateness: the window takes it, no evaluation (state never runs backwards). */
export function addLateRate(ps: PatientState, ri: number, ts: number, v: number): void {
  ps.windows[ri]?.add(ts, v);
}

/** Evaluate rate rule `ri` on a new good value of its metric. */
export function evalRate(ops: AlertOps, ps: PatientState, ri: number, ts: number, v: number, live: boolean, traceId: string): AlertEvent | null {
  const rule = ps.compiled.rules[ri] as RateRule;
  const ep = ps.eps[ri] as Episode;
  let w = ps.windows[ri];
  if (!w || w.windowMs !== rule.windowMs) ps.windows[ri] = w = new TrendWindow(rule.windowMs);
  w.add(ts, v);
  if (!rule.enabled && ep.alert === null) return null;
  const f = w.fit();
  let level = 0;
  let cleared = false;
  let change: number | null = null;
  if (f.n >= rule.minSamples && f.spanMs >= rule.minSpanMs && !Number.isNaN(f.slopePerMin)) {
    // Fitted change over the data actually in the window (slope × span), signed like rule.change.
    change = Math.round(f.slopePerMin * (f.spanMs / 60_000) * 10) / 10;
    const dir = rule.change > 0 ? change : -change;
    const need = Math.abs(rule.change);
    if (rule.enabled && dir >= need) level = rank(rule.priority);
    else cleared = dir < need - rule.hysteresis;
  }
  const tr = step(ep, ts, level, cleared, ps.compiled.timing[ri] as EpisodeTiming, live);
  return ops.apply(ps, ri, tr, ts, level, change, () => ruleMessage(rule, false), traceId);
}
