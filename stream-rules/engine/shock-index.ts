/**
 * Shock-index rules: heart rate / cuff systolic pressure with the systolic fall over the rule's
 * window. Evaluated on every HR or cuff reading; the heart rate is NEWS2's (the minute's median
 * with news2.summary).
 */
import { step, type Episode, type EpisodeTiming } from '../../core/alert-lifecycle.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import { ruleMessage } from '../../core/rule-messages.js';
import type { ShockIndexRule } from '../../core/rules-config.js';
import { N2, rank, type PatientState } from './state.js';
import type { AlertOps } from './transitions.js';

/** Keep a new cuff reading, and the readings of the longest shock-index window before it. */
export function recordCuff(ps: PatientState, ts: number, sbp: number): void {
  const c = ps.compiled;
  const h = ps.sbpHist;
  let keep = 0;
  for (const ri of c.shock) keep = Math.max(keep, (c.rules[ri] as ShockIndexRule).windowMs);
  h.push(ts, sbp);
  while (h.length > 2 && (h[0] as number) < ts - keep) h.splice(0, 2);
}

/**
 * Evaluate shock-index rule `ri` at `now`.
 * @param hrMaxAgeMs - news2.maxAge for heart rate: an older HR gives no index
 */
export function evalShock(ops: AlertOps, hrMaxAgeMs: number, ps: PatientState, ri: number, now: number, live: boolean, traceId: string): AlertEvent | null {
  const rule = ps.compiled.rules[ri] as ShockIndexRule;
  const ep = ps.eps[ri] as Episode;
  if (!rule.enabled && ep.alert === null) return null;
  const h = ps.sbpHist;
  const n = h.length;
  const hrTs = ps.n2t[N2.hr] as number;
  const sbpTs = n >= 2 ? (h[n - 2] as number) : -Infinity;
  let level = 0;
  let cleared = ep.alert === null;
  let si: number | null = null;
  if (now - sbpTs <= rule.sbpMaxAgeMs && now - hrTs <= hrMaxAgeMs) {
    const sbp = h[n - 1] as number;
    si = Math.round(((ps.n2v[N2.hr] as number) / sbp) * 100) / 100;
    let peak = sbp;
    for (let i = 0; i < n; i += 2) if ((h[i] as number) >= sbpTs - rule.windowMs) peak = Math.max(peak, h[i + 1] as number);
    const fell = peak - sbp >= rule.fall;
    // The fall is needed to raise; once raised, the index alone keeps the alert open.
    if (rule.enabled && si >= rule.above && (fell || ep.alert !== null)) level = rank(rule.priority);
    cleared = si < rule.above - rule.hysteresis || (ep.alert === null && !fell);
  }
  const tr = step(ep, now, level, cleared, ps.compiled.timing[ri] as EpisodeTiming, live);
  return ops.apply(ps, ri, tr, now, level, si, () => ruleMessage(rule, false), traceId);
}
