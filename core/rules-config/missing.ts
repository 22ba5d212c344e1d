/** The `missing` rule's schema (technical): no data for a metric for a while. */
import type { MetricName } from '../vitals.js';
import type { Reader, RuleBase } from './reader.js';

export interface MissingRule extends RuleBase {
  type: 'missing';
  metric: MetricName;
  afterMs: number;
}

export const MISSING_KEYS: readonly string[] = ['metric', 'after'];

export function readMissing(raw: Record<string, unknown>, path: string, base: RuleBase, r: Reader): MissingRule {
  const afterMs = r.duration(raw['after'], `${path}.after`, 0);
  if (raw['after'] === undefined || afterMs <= 0) r.errors.push(`${path}.after: required, longer than 0`);
  if (raw['for'] !== undefined) r.errors.push(`${path}.for: a missing-data rule uses after`);
  return { ...base, type: 'missing', metric: r.metric(raw['metric'], `${path}.metric`), afterMs };
}
