/** The `shock-index` rule's schema: heart rate / systolic with a fallen systolic. */
import type { Reader, RuleBase } from './reader.js';

/**
 * Shock index (heart rate / systolic pressure) at or above `above`, with the systolic pressure
 * fallen by at least `fall` from the highest cuff reading of `windowMs`: the compensated-shock
 * picture of a bleed or sepsis (a falling pressure, a rising heart rate) before either reaches its
 * own NEWS2 band. The heart rate is the one NEWS2 scores (the minute's median with news2.summary).
 */
export interface ShockIndexRule extends RuleBase {
  type: 'shock-index';
  above: number;
  fall: number;
  windowMs: number;
  /** A cuff reading older than this is not used. */
  sbpMaxAgeMs: number;
  /** Cleared when the index is below above - hysteresis. */
  hysteresis: number;
}

export const SHOCK_INDEX_KEYS: readonly string[] = ['above', 'fall', 'window', 'sbpMaxAge', 'hysteresis'];

export function readShockIndex(raw: Record<string, unknown>, path: string, base: RuleBase, r: Reader): ShockIndexRule {
  const above = r.number(raw['above'], `${path}.above`, Number.NaN, 0.3, 3);
  if (raw['above'] === undefined) r.errors.push(`${path}.above: required (heart rate / systolic, e.g. 0.9)`);
  const windowMs = r.duration(raw['window'], `${path}.window`, 30 * 60_000);
  if (windowMs <= 0 || windowMs > 3_600_000) r.errors.push(`${path}.window: longer than 0, at most 1h`);
  const hysteresis = r.number(raw['hysteresis'], `${path}.hysteresis`, 0, 0);
  if (hysteresis >= above) r.errors.push(`${path}.hysteresis: must be smaller than above`);
  return {
    ...base,
    type: 'shock-index',
    above,
    fall: r.number(raw['fall'], `${path}.fall`, 0, 0, 100),
    windowMs,
    sbpMaxAgeMs: r.duration(raw['sbpMaxAge'], `${path}.sbpMaxAge`, 16 * 60_000),
    hysteresis,
  };
}
