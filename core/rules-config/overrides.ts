/** Ward and patient overrides: fields of existing rules changed by rule id, checked after merging. */
import { isObject, Reader } from './reader.js';
import { readRule, type Rule } from './rule.js';

/** Parameter overrides of existing rules, by rule id. */
export type RuleOverrides = Record<string, Record<string, unknown>>;

/** Rule fields an override may change; id, type and the measured metric are fixed. */
const OVERRIDABLE = new Set<string>([
  'enabled', 'priority', 'for', 'clearFor', 'escalateAfter', 'message', 'condition', 'hysteresis', 'escalate',
  'window', 'change', 'minSamples', 'minSpan', 'bands', 'after', 'below', 'clearAbove',
]);

/**
 * Apply overrides (by rule id) to raw rules. Used both to validate and, at runtime, to
 * build the effective rules of a ward or patient.
 */
export function mergeRaw(baseRaw: readonly Record<string, unknown>[], overrides: RuleOverrides): Record<string, unknown>[] {
  return baseRaw.map((b) => {
    const o = overrides[String(b['id'])];
    return o ? { ...b, ...o } : b;
  });
}

export function readOverrides(raw: unknown, path: string, ruleIds: ReadonlySet<string>, r: Reader): RuleOverrides {
  const out: RuleOverrides = {};
  if (raw === undefined) return out;
  if (!isObject(raw)) {
    r.errors.push(`${path}: expected a map of rule id → fields to change`);
    return out;
  }
  for (const [id, o] of Object.entries(raw)) {
    if (!ruleIds.has(id)) r.errors.push(`${path}.${id}: no rule with this id`);
    if (!isObject(o)) {
      r.errors.push(`${path}.${id}: expected fields to change`);
      continue;
    }
    for (const k of Object.keys(o)) {
      if (!OVERRIDABLE.has(k)) r.errors.push(`${path}.${id}.${k}: cannot be overridden`);
    }
    out[id] = o;
  }
  return out;
}

/**
 * Validate each overridden rule after merging. When the base rule is itself valid every
 * problem is the override's; otherwise only problems in overridden fields are reported,
 * so one bad base rule is not reported again under every ward.
 */
export function checkMerged(
  base: readonly Rule[],
  baseValid: readonly boolean[],
  baseRaw: readonly Record<string, unknown>[],
  overrides: RuleOverrides,
  path: string,
  r: Reader,
): void {
  baseRaw.forEach((b, i) => {
    const id = String(b['id']);
    const o = overrides[id];
    if (!o) return;
    const tmp = new Reader([]);
    const rule = readRule({ ...b, ...o }, `${path}.${id}`, tmp);
    const keys = Object.keys(o);
    for (const e of tmp.errors) {
      const field = e.slice(`${path}.${id}.`.length).split(/[.:[]/)[0] ?? '';
      if (baseValid[i] || keys.includes(field)) r.errors.push(e);
    }
    const br = base[i];
    if (br && rule && br.type === 'threshold' && rule.type === 'threshold' && rule.condition.metric !== br.condition.metric) {
      r.errors.push(`${path}.${id}.condition: must keep the metric ${br.condition.metric}`);
    }
  });
}
