/** The `threshold` rule's schema: a condition on one metric, with hysteresis and an escalation level. */
import type { AlertPriority } from '../alerts-model.js';
import { PRIORITIES, isObject, parseCondition, type ComparisonOp, type Condition, type Reader, type RuleBase } from './reader.js';

export interface ThresholdRule extends RuleBase {
  type: 'threshold';
  condition: Condition;
  /** Distance past the threshold (on the normal side) a value must reach to count as cleared. */
  hysteresis: number;
  /** A worse level of the same condition that raises the priority of the open alert. */
  escalate: { condition: Condition; forMs: number; priority: AlertPriority } | null;
  /**
   * Longest silence between samples that still counts as continuous; null: defaults.maxGap.
   * Spot measurements (a cuff BP every 5 min) need a longer one for `for` to mean
   * "confirmed by the next reading".
   */
  maxGapMs: number | null;
}

export const THRESHOLD_KEYS: readonly string[] = ['condition', 'hysteresis', 'escalate', 'maxGap'];

export function readThreshold(raw: Record<string, unknown>, path: string, base: RuleBase, r: Reader): ThresholdRule {
  const condition = r.condition(raw['condition'], `${path}.condition`);
  const hysteresis = r.number(raw['hysteresis'], `${path}.hysteresis`, 0, 0);
  let escalate: ThresholdRule['escalate'] = null;
  const e = raw['escalate'];
  if (e !== undefined) {
    if (!isObject(e)) r.errors.push(`${path}.escalate: expected { condition, for, priority }`);
    else {
      r.unknownKeys(e, ['condition', 'for', 'priority'], `${path}.escalate`);
      const ec = r.condition(e['condition'], `${path}.escalate.condition`);
      escalate = { condition: ec, forMs: r.duration(e['for'], `${path}.escalate.for`, base.forMs), priority: r.priority(e['priority'], `${path}.escalate.priority`, null) };
      if (parseCondition(e['condition']) && parseCondition(raw['condition'])) checkEscalation(condition, escalate, base.priority, `${path}.escalate`, r);
    }
  }
  const maxGapMs = raw['maxGap'] === undefined ? null : r.duration(raw['maxGap'], `${path}.maxGap`, 0);
  if (maxGapMs !== null && maxGapMs <= 0) r.errors.push(`${path}.maxGap: longer than 0`);
  return { ...base, type: 'threshold', condition, hysteresis, escalate, maxGapMs };
}

/** The escalation level must be the same metric, the same direction, and worse. */
function checkEscalation(c: Condition, e: NonNullable<ThresholdRule['escalate']>, prio: AlertPriority, path: string, r: Reader): void {
  const lower = (op: ComparisonOp): boolean => op === '<' || op === '<=';
  if (e.condition.metric !== c.metric) r.errors.push(`${path}.condition: must use the same metric as the rule (${c.metric})`);
  else if (lower(e.condition.op) !== lower(c.op)) r.errors.push(`${path}.condition: must point the same way as the rule condition`);
  else if (lower(c.op) ? e.condition.value > c.value : e.condition.value < c.value) {
    r.errors.push(`${path}.condition: must be at or beyond the rule threshold (${c.value})`);
  }
  if (PRIORITIES.indexOf(e.priority) <= PRIORITIES.indexOf(prio)) r.errors.push(`${path}.priority: must be higher than the rule priority (${prio})`);
}
