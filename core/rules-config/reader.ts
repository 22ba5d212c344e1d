/**
 * Primitives of the rule-set schema: durations, conditions, the fields every rule has, and the
 * Reader that collects every error under its path (core/rules-config.ts explains why).
 */
import type { AlertPriority } from '../alerts-model.js';
import { isMetricName, type MetricName } from '../vitals.js';

export type ComparisonOp = '<' | '<=' | '>' | '>=';

export interface RuleBase {
  id: string;
  enabled: boolean;
  priority: AlertPriority;
  /** Condition must hold this long (event time) before the alert is raised. */
  forMs: number;
  /** Condition must stay cleared this long before the alert resolves. */
  clearForMs: number;
  /** Escalate one priority step when unacknowledged this long; null = never. */
  escalateAfterMs: number | null;
  message: string | null;
}

export interface Condition {
  metric: MetricName;
  op: ComparisonOp;
  value: number;
}

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const CONDITION_RE = /^\s*([a-z0-9]+)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;
export const PRIORITIES: readonly string[] = ['low', 'medium', 'high'];

/**
 * Parse a duration such as `500ms`, `60s`, `2m`, `1h`, `1d`, or `0`.
 * @returns milliseconds, or null when not a duration
 */
export function parseDuration(v: unknown): number | null {
  if (v === 0 || v === '0') return 0;
  if (typeof v !== 'string') return null;
  const m = DURATION_RE.exec(v.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN));
}

/**
 * Parse a condition such as `spo2 < 90`.
 * @returns the condition, or null when the text is not `<metric> <op> <number>` with a known metric
 */
export function parseCondition(v: unknown): Condition | null {
  if (typeof v !== 'string') return null;
  const m = CONDITION_RE.exec(v);
  if (!m || !isMetricName(m[1] ?? '')) return null;
  return { metric: m[1] as MetricName, op: m[2] as ComparisonOp, value: Number(m[3]) };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects errors under a path; every getter records a problem and returns a fallback. */
export class Reader {
  constructor(readonly errors: string[]) {}

  unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) this.errors.push(`${path}.${k}: unknown field (allowed: ${allowed.join(', ')})`);
    }
  }

  duration(v: unknown, path: string, dflt: number): number {
    if (v === undefined) return dflt;
    const d = parseDuration(v);
    if (d === null) this.errors.push(`${path}: expected a duration like 30s, 2m or 1h, got ${JSON.stringify(v)}`);
    return d ?? dflt;
  }

  number(v: unknown, path: string, dflt: number, min = -Infinity, max = Infinity): number {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.errors.push(`${path}: expected a number, got ${JSON.stringify(v)}`);
      return dflt;
    }
    if (v < min || v > max) this.errors.push(`${path}: ${v} is outside ${min}..${max}`);
    return v;
  }

  priority(v: unknown, path: string, dflt: AlertPriority | null): AlertPriority {
    if (v === undefined && dflt !== null) return dflt;
    if (typeof v !== 'string' || !PRIORITIES.includes(v)) {
      this.errors.push(`${path}: expected low, medium or high, got ${JSON.stringify(v)}`);
      return 'low';
    }
    return v as AlertPriority;
  }

  metric(v: unknown, path: string): MetricName {
    if (typeof v !== 'string' || !isMetricName(v)) {
      this.errors.push(`${path}: expected a metric (hr, spo2, rr, temp, sbp, dbp), got ${JSON.stringify(v)}`);
      return 'hr';
    }
    return v;
  }

  condition(v: unknown, path: string): Condition {
    const c = parseCondition(v);
    if (c === null) {
      this.errors.push(`${path}: expected "<metric> <op> <number>" like "spo2 < 90", got ${JSON.stringify(v)}`);
      return { metric: 'hr', op: '>', value: 0 };
    }
    return c;
  }
}
