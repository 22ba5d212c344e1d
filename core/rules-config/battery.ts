/** The `battery` rule's schema (technical): the device battery below a fraction. */
import type { Reader, RuleBase } from './reader.js';

export interface BatteryRule extends RuleBase {
  type: 'battery';
  below: number;
  clearAbove: number;
}

export const BATTERY_KEYS: readonly string[] = ['below', 'clearAbove'];

export function readBattery(raw: Record<string, unknown>, path: string, base: RuleBase, r: Reader): BatteryRule {
  const below = r.number(raw['below'], `${path}.below`, Number.NaN, 0, 1);
  if (raw['below'] === undefined) r.errors.push(`${path}.below: required (battery fraction 0..1)`);
  const clearAbove = r.number(raw['clearAbove'], `${path}.clearAbove`, below, 0, 1);
  if (clearAbove < below) r.errors.push(`${path}.clearAbove: must be at least below (${below})`);
  return { ...base, type: 'battery', below, clearAbove };
}
