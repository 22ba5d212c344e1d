/** One rule of any type: the fields every rule has, then its type's own (one module per type). */
import type { AlertKind } from '../alerts-model.js';
import { BATTERY_KEYS, readBattery, type BatteryRule } from './battery.js';
import { MISSING_KEYS, readMissing, type MissingRule } from './missing.js';
import { NEWS2_KEYS, readNews2, type News2Rule } from './news2.js';
import { RATE_KEYS, readRate, type RateRule } from './rate.js';
import { isObject, type Reader, type RuleBase } from './reader.js';
import { SHOCK_INDEX_KEYS, readShockIndex, type ShockIndexRule } from './shock-index.js';
import { THRESHOLD_KEYS, readThreshold, type ThresholdRule } from './threshold.js';

export type RuleType = 'threshold' | 'rate' | 'news2' | 'missing' | 'battery' | 'shock-index';
export type Rule = ThresholdRule | RateRule | News2Rule | MissingRule | BatteryRule | ShockIndexRule;

/** Clinical rules look at the patient; technical ones at the monitoring chain. */
export function ruleKind(rule: Pick<Rule, 'type'>): AlertKind {
  return rule.type === 'missing' || rule.type === 'battery' ? 'technical' : 'clinical';
}

const RULE_ID_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const COMMON_KEYS = ['id', 'type', 'enabled', 'priority', 'for', 'clearFor', 'escalateAfter', 'message'] as const;
const TYPE_KEYS: Record<RuleType, readonly string[]> = {
  threshold: THRESHOLD_KEYS,
  rate: RATE_KEYS,
  news2: NEWS2_KEYS,
  missing: MISSING_KEYS,
  battery: BATTERY_KEYS,
  'shock-index': SHOCK_INDEX_KEYS,
};
const RULE_TYPES = Object.keys(TYPE_KEYS) as RuleType[];

export function readRule(raw: unknown, path: string, r: Reader): Rule | null {
  if (!isObject(raw)) {
    r.errors.push(`${path}: expected a rule object`);
    return null;
  }
  const type = raw['type'];
  if (typeof type !== 'string' || !RULE_TYPES.includes(type as RuleType)) {
    r.errors.push(`${path}.type: expected one of ${RULE_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
    return null;
  }
  const t = type as RuleType;
  r.unknownKeys(raw, [...COMMON_KEYS, ...TYPE_KEYS[t]], path);
  const id = raw['id'];
  if (typeof id !== 'string' || !RULE_ID_RE.test(id)) {
    r.errors.push(`${path}.id: expected lower-case letters, digits and dashes, got ${JSON.stringify(id)}`);
  }
  const enabled = raw['enabled'];
  if (enabled !== undefined && typeof enabled !== 'boolean') r.errors.push(`${path}.enabled: expected true or false`);
  const message = raw['message'];
  if (message !== undefined && typeof message !== 'string') r.errors.push(`${path}.message: expected text`);
  const esc = raw['escalateAfter'];
  const base: RuleBase = {
    id: typeof id === 'string' ? id : '?',
    enabled: enabled !== false,
    priority: t === 'news2' ? 'low' : r.priority(raw['priority'], `${path}.priority`, null),
    forMs: r.duration(raw['for'], `${path}.for`, 0),
    clearForMs: r.duration(raw['clearFor'], `${path}.clearFor`, 0),
    escalateAfterMs: esc === undefined || esc === 'never' ? null : r.duration(esc, `${path}.escalateAfter`, 0),
    message: typeof message === 'string' ? message : null,
  };
  if (t === 'news2' && raw['priority'] !== undefined) {
    r.errors.push(`${path}.priority: a news2 rule takes its priority from bands`);
  }
  if (base.escalateAfterMs === 0) r.errors.push(`${path}.escalateAfter: must be longer than 0 (or "never")`);
  switch (t) {
    case 'threshold': return readThreshold(raw, path, base, r);
    case 'rate': return readRate(raw, path, base, r);
    case 'news2': return readNews2(raw, path, base, r);
    case 'missing': return readMissing(raw, path, base, r);
    case 'battery': return readBattery(raw, path, base, r);
    case 'shock-index': return readShockIndex(raw, path, base, r);
  }
}
