/** The `rate` rule's schema: a fitted change of one metric over a window. */
import type { MetricName } from '../vitals.js';
import type { Reader, RuleBase } from './reader.js';

export interface RateRule extends RuleBase {
  type: 'rate';
  metric: MetricName;
  windowMs: number;
  /** Fitted change over the data in the window: positive = rise, negative = fall. */
  change: number;
  hysteresis: number;
  minSamples: number;
  minSpanMs: number;
}

export const RATE_KEYS: readonly string[] = ['metric', 'window', 'change', 'hysteresis', 'minSamples', 'minSpan'];

export function readRate(raw: Record<string, unknown>, path: string, base: RuleBase, r: Reader): RateRule {
  const windowMs = r.duration(raw['window'], `${path}.window`, 0);
  if (raw['window'] === undefined || windowMs <= 0) r.errors.push(`${path}.window: required, longer than 0`);
  if (windowMs > 3_600_000) r.errors.push(`${path}.window: at most 1h (per-patient state is bounded)`);
  const change = r.number(raw['change'], `${path}.change`, 0);
  if (raw['change'] === undefined || change === 0) r.errors.push(`${path}.change: required, not 0 (positive = rise, negative = fall)`);
  const hysteresis = r.number(raw['hysteresis'], `${path}.hysteresis`, 0, 0);
  if (hysteresis >= Math.abs(change) && change !== 0) r.errors.push(`${path}.hysteresis: must be smaller than |change|`);
  return {
    ...base,
    type: 'rate',
    metric: r.metric(raw['metric'], `${path}.metric`),
    windowMs,
    change,
    hysteresis,
    minSamples: Math.trunc(r.number(raw['minSamples'], `${path}.minSamples`, 5, 2, 10_000)),
    minSpanMs: r.duration(raw['minSpan'], `${path}.minSpan`, Math.round(windowMs / 2)),
  };
}
