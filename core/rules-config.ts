/**
 * The rule-set schema: validate an already-parsed object (YAML or JSON; parsing text
 * is the edge's job, see stream-rules/rules-loader.ts) into a typed, fully-defaulted RuleSet.
 * Validation collects EVERY error with its path and returns no rule set at all when
 * there is one: a half-loaded rule set would silently drop alarms.
 * The language is documented for clinical users in docs/rules.md.
 */
import type { AlertKind, AlertPriority } from './alerts-model.js';
import { DEFAULT_MAX_AGE_MS, NEWS2_PARAMS, type News2Param } from './news2.js';
import { isMetricName, type MetricName } from './vitals.js';

export type ComparisonOp = '<' | '<=' | '>' | '>=';
export type RuleType = 'threshold' | 'rate' | 'news2' | 'missing' | 'battery' | 'shock-index';
/** NEWS2 risks that can raise an alert (low never does: it is routine monitoring). */
export type News2AlertBand = 'low-medium' | 'medium' | 'high';

interface RuleBase {
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

export interface News2Rule extends RuleBase {
  type: 'news2';
  /** Risk band → alert priority; a band that is absent raises nothing. */
  bands: Partial<Record<News2AlertBand, AlertPriority>>;
}

export interface MissingRule extends RuleBase {
  type: 'missing';
  metric: MetricName;
  afterMs: number;
}

export interface BatteryRule extends RuleBase {
  type: 'battery';
  below: number;
  clearAbove: number;
}

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

export type Rule = ThresholdRule | RateRule | News2Rule | MissingRule | BatteryRule | ShockIndexRule;

export interface RuleSetDefaults {
  /** Samples whose quality for a metric is below this do not count for clinical rules. */
  minQuality: number;
  /** A gap longer than this between samples of a metric restarts duration timers. */
  maxGapMs: number;
  /** Out-of-order samples up to this much older than the newest join trend windows. */
  latenessMs: number;
  /** Upper bound on unacknowledged-time escalations per alert episode. */
  maxEscalations: number;
}

export interface News2Settings {
  maxAgeMs: Record<News2Param, number>;
  /**
   * Each numeric parameter is scored on the median of its good readings of this long (0: the
   * newest reading alone). A spot observation is one reading, so it is scored as entered.
   */
  summaryMs: number;
  /** An unchanged score is re-emitted at most this often (a changed one immediately). */
  scoreIntervalMs: number;
  /**
   * Spot observations (cuff SBP, temperature) count as held from the reading that moved the score
   * into an alerting band: the reading stands until the next one, so waiting `for` only delays.
   */
  spotHeld: boolean;
  /**
   * A red 3 from one spot reading with every other parameter at 0 (a lone red) does not alert
   * until the next reading of that parameter confirms it (also red), as a nurse repeats a surprising BP.
   */
  confirmLoneSpotRed: boolean;
  /**
   * How far confirmation of a spot red reaches: `lone` (every other parameter 0, as
   * confirmLoneSpotRed) or `below-medium` (any aggregate below 5: the red is the only reason the
   * score alerts). null: no confirmation. A systolic fall of 20 mmHg or more still counts at once.
   */
  confirmSpotRed: 'lone' | 'below-medium' | null;
  /**
   * A low-medium NEWS2 alert (a red 3 in one parameter, aggregate below 5) is not raised while that
   * parameter's own threshold rule has an alert open: the ward already has one alert for that finding.
   */
  lowMediumDefers: boolean;
}

/** Parameter overrides of existing rules, by rule id. */
export type RuleOverrides = Record<string, Record<string, unknown>>;

export interface WardOverride {
  rules: RuleOverrides;
}

export interface PatientOverride {
  rules: RuleOverrides;
  /** NEWS2 SpO2 scale on a clinician's order; absent = inherit (Scale 1 by default). */
  scale: 1 | 2 | null;
  /** Event time (epoch ms) the override expires; null = no expiry. */
  until: number | null;
}

export interface RuleSet {
  /** Rule-set revision, recorded wherever alerts are explained. */
  version: string;
  defaults: RuleSetDefaults;
  news2: News2Settings;
  rules: Rule[];
  wards: Record<string, WardOverride>;
  patients: Record<string, PatientOverride>;
  /** The rules as written: overrides merge onto these field by field, then re-validate. */
  rawRules: readonly Record<string, unknown>[];
}

export type ParseResult = { ok: true; ruleSet: RuleSet } | { ok: false; errors: string[] };

/** Clinical rules look at the patient; technical ones at the monitoring chain. */
export function ruleKind(rule: Pick<Rule, 'type'>): AlertKind {
  return rule.type === 'missing' || rule.type === 'battery' ? 'technical' : 'clinical';
}

// ------------------------------------------------------------------ primitives

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const CONDITION_RE = /^\s*([a-z0-9]+)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;
const RULE_ID_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const PRIORITIES: readonly string[] = ['low', 'medium', 'high'];
const BANDS: readonly string[] = ['low-medium', 'medium', 'high'];

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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects errors under a path; every getter records a problem and returns a fallback. */
class Reader {
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

// ------------------------------------------------------------------ rules

const COMMON_KEYS = ['id', 'type', 'enabled', 'priority', 'for', 'clearFor', 'escalateAfter', 'message'] as const;
const TYPE_KEYS: Record<RuleType, readonly string[]> = {
  threshold: ['condition', 'hysteresis', 'escalate', 'maxGap'],
  rate: ['metric', 'window', 'change', 'hysteresis', 'minSamples', 'minSpan'],
  news2: ['bands'],
  missing: ['metric', 'after'],
  battery: ['below', 'clearAbove'],
  'shock-index': ['above', 'fall', 'window', 'sbpMaxAge', 'hysteresis'],
};
const RULE_TYPES = Object.keys(TYPE_KEYS) as RuleType[];

function readRule(raw: unknown, path: string, r: Reader): Rule | null {
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
    case 'threshold': {
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
      return { ...base, type: t, condition, hysteresis, escalate, maxGapMs };
    }
    case 'rate': {
      const windowMs = r.duration(raw['window'], `${path}.window`, 0);
      if (raw['window'] === undefined || windowMs <= 0) r.errors.push(`${path}.window: required, longer than 0`);
      if (windowMs > 3_600_000) r.errors.push(`${path}.window: at most 1h (per-patient state is bounded)`);
      const change = r.number(raw['change'], `${path}.change`, 0);
      if (raw['change'] === undefined || change === 0) r.errors.push(`${path}.change: required, not 0 (positive = rise, negative = fall)`);
      const hysteresis = r.number(raw['hysteresis'], `${path}.hysteresis`, 0, 0);
      if (hysteresis >= Math.abs(change) && change !== 0) r.errors.push(`${path}.hysteresis: must be smaller than |change|`);
      return {
        ...base,
        type: t,
        metric: r.metric(raw['metric'], `${path}.metric`),
        windowMs,
        change,
        hysteresis,
        minSamples: Math.trunc(r.number(raw['minSamples'], `${path}.minSamples`, 5, 2, 10_000)),
        minSpanMs: r.duration(raw['minSpan'], `${path}.minSpan`, Math.round(windowMs / 2)),
      };
    }
    case 'news2': {
      const bands: News2Rule['bands'] = {};
      const b = raw['bands'];
      if (!isObject(b) || Object.keys(b).length === 0) r.errors.push(`${path}.bands: expected e.g. { medium: medium, high: high }`);
      else {
        for (const [k, v] of Object.entries(b)) {
          if (!BANDS.includes(k)) r.errors.push(`${path}.bands.${k}: unknown band (allowed: ${BANDS.join(', ')})`);
          else bands[k as News2AlertBand] = r.priority(v, `${path}.bands.${k}`, null);
        }
      }
      return { ...base, type: t, bands };
    }
    case 'missing': {
      const afterMs = r.duration(raw['after'], `${path}.after`, 0);
      if (raw['after'] === undefined || afterMs <= 0) r.errors.push(`${path}.after: required, longer than 0`);
      if (raw['for'] !== undefined) r.errors.push(`${path}.for: a missing-data rule uses after`);
      return { ...base, type: t, metric: r.metric(raw['metric'], `${path}.metric`), afterMs };
    }
    case 'battery': {
      const below = r.number(raw['below'], `${path}.below`, Number.NaN, 0, 1);
      if (raw['below'] === undefined) r.errors.push(`${path}.below: required (battery fraction 0..1)`);
      const clearAbove = r.number(raw['clearAbove'], `${path}.clearAbove`, below, 0, 1);
      if (clearAbove < below) r.errors.push(`${path}.clearAbove: must be at least below (${below})`);
      return { ...base, type: t, below, clearAbove };
    }
    case 'shock-index': {
      const above = r.number(raw['above'], `${path}.above`, Number.NaN, 0.3, 3);
      if (raw['above'] === undefined) r.errors.push(`${path}.above: required (heart rate / systolic, e.g. 0.9)`);
      const windowMs = r.duration(raw['window'], `${path}.window`, 30 * 60_000);
      if (windowMs <= 0 || windowMs > 3_600_000) r.errors.push(`${path}.window: longer than 0, at most 1h`);
      const hysteresis = r.number(raw['hysteresis'], `${path}.hysteresis`, 0, 0);
      if (hysteresis >= above) r.errors.push(`${path}.hysteresis: must be smaller than above`);
      return {
        ...base,
        type: t,
        above,
        fall: r.number(raw['fall'], `${path}.fall`, 0, 0, 100),
        windowMs,
        sbpMaxAgeMs: r.duration(raw['sbpMaxAge'], `${path}.sbpMaxAge`, 16 * 60_000),
        hysteresis,
      };
    }
  }
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

/** Rule fields an override may change; id, type and the measured metric are fixed. */
const OVERRIDABLE = new Set<string>([
  'enabled', 'priority', 'for', 'clearFor', 'escalateAfter', 'message', 'condition', 'hysteresis', 'escalate',
  'window', 'change', 'minSamples', 'minSpan', 'bands', 'after', 'below', 'clearAbove',
]);

/**
 * Apply overrides (by rule id) to raw rules. Used both to validate and, at runtime, to
 * build the effective rules of a ward or patient.
 */
function mergeRaw(baseRaw: readonly Record<string, unknown>[], overrides: RuleOverrides): Record<string, unknown>[] {
  return baseRaw.map((b) => {
    const o = overrides[String(b['id'])];
    return o ? { ...b, ...o } : b;
  });
}

function readOverrides(raw: unknown, path: string, ruleIds: ReadonlySet<string>, r: Reader): RuleOverrides {
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
function checkMerged(
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

// ------------------------------------------------------------------ rule set

/**
 * Validate a parsed rule-set object.
 * @param raw - the object parsed from YAML or JSON
 * @returns the typed rule set, or every error found (each with its path); never a partial set
 */
export function parseRuleSet(raw: unknown): ParseResult {
  const errors: string[] = [];
  const r = new Reader(errors);
  if (!isObject(raw)) return { ok: false, errors: ['(root): expected a mapping with version and rules'] };
  r.unknownKeys(raw, ['version', 'defaults', 'news2', 'rules', 'wards', 'patients'], '(root)');

  const v = raw['version'];
  let version = '';
  if ((typeof v === 'string' && v.trim() !== '') || (typeof v === 'number' && Number.isFinite(v))) version = String(v);
  else errors.push('version: required (the rule-set revision, e.g. "general-ward-2026.1")');

  const d = isObject(raw['defaults']) ? raw['defaults'] : {};
  if (raw['defaults'] !== undefined && !isObject(raw['defaults'])) errors.push('defaults: expected a mapping');
  r.unknownKeys(d, ['minQuality', 'maxGap', 'lateness', 'maxEscalations'], 'defaults');
  const defaults: RuleSetDefaults = {
    minQuality: r.number(d['minQuality'], 'defaults.minQuality', 0.5, 0, 1),
    maxGapMs: r.duration(d['maxGap'], 'defaults.maxGap', 30_000),
    latenessMs: r.duration(d['lateness'], 'defaults.lateness', 120_000),
    maxEscalations: Math.trunc(r.number(d['maxEscalations'], 'defaults.maxEscalations', 3, 0, 20)),
  };

  const n = isObject(raw['news2']) ? raw['news2'] : {};
  if (raw['news2'] !== undefined && !isObject(raw['news2'])) errors.push('news2: expected a mapping');
  r.unknownKeys(n, ['maxAge', 'scoreInterval', 'summary', 'spotHeld', 'confirmLoneSpotRed', 'confirmSpotRed', 'lowMediumDefers'], 'news2');
  const maxAgeMs = { ...DEFAULT_MAX_AGE_MS };
  const ma = n['maxAge'];
  if (ma !== undefined) {
    if (!isObject(ma)) errors.push('news2.maxAge: expected a mapping of parameter → duration');
    else {
      r.unknownKeys(ma, NEWS2_PARAMS, 'news2.maxAge');
      for (const p of NEWS2_PARAMS) maxAgeMs[p] = r.duration(ma[p], `news2.maxAge.${p}`, maxAgeMs[p]);
    }
  }
  const summaryMs = r.duration(n['summary'], 'news2.summary', 0);
  // The summary must stay shorter than the freshness limit of the continuous parameters.
  if (summaryMs > 5 * 60_000) errors.push('news2.summary: at most 5m (a summary longer than a parameter may be used is not a summary of now)');
  const flag = (k: string): boolean => {
    const v = n[k];
    if (v !== undefined && typeof v !== 'boolean') errors.push(`news2.${k}: expected true or false`);
    return v === true;
  };
  const news2: News2Settings = {
    maxAgeMs,
    scoreIntervalMs: r.duration(n['scoreInterval'], 'news2.scoreInterval', 60_000),
    summaryMs,
    spotHeld: flag('spotHeld'),
    confirmLoneSpotRed: flag('confirmLoneSpotRed'),
    confirmSpotRed: null,
    lowMediumDefers: flag('lowMediumDefers'),
  };
  const csr = n['confirmSpotRed'];
  if (csr !== undefined && csr !== 'lone' && csr !== 'below-medium') errors.push('news2.confirmSpotRed: expected lone or below-medium');
  else if (csr !== undefined && n['confirmLoneSpotRed'] !== undefined) errors.push('news2.confirmSpotRed: give it or confirmLoneSpotRed, not both');
  // confirmLoneSpotRed: true is the older spelling of confirmSpotRed: lone.
  news2.confirmSpotRed = csr === 'lone' || csr === 'below-medium' ? csr : news2.confirmLoneSpotRed ? 'lone' : null;
  news2.confirmLoneSpotRed = news2.confirmSpotRed === 'lone';

  const rulesRaw = raw['rules'];
  const rules: Rule[] = [];
  const baseRaw: Record<string, unknown>[] = [];
  const baseValid: boolean[] = [];
  if (!Array.isArray(rulesRaw) || rulesRaw.length === 0) errors.push('rules: required, a non-empty list');
  else {
    const seen = new Set<string>();
    rulesRaw.forEach((x, i) => {
      const before = errors.length;
      const rule = readRule(x, `rules[${i}]`, r);
      if (!rule) return;
      baseValid.push(errors.length === before);
      if (seen.has(rule.id)) errors.push(`rules[${i}].id: duplicate id ${rule.id}`);
      seen.add(rule.id);
      rules.push(rule);
      baseRaw.push(x as Record<string, unknown>);
    });
    if (rules.filter((x) => x.type === 'news2').length > 1) errors.push('rules: at most one news2 rule');
  }
  const ids = new Set(rules.map((x) => x.id));

  const wards: Record<string, WardOverride> = {};
  const wr = raw['wards'];
  if (wr !== undefined && !isObject(wr)) errors.push('wards: expected a mapping of ward → overrides');
  for (const [ward, w] of Object.entries(isObject(wr) ? wr : {})) {
    if (!isObject(w)) {
      errors.push(`wards.${ward}: expected { rules: ... }`);
      continue;
    }
    r.unknownKeys(w, ['rules'], `wards.${ward}`);
    const o = readOverrides(w['rules'], `wards.${ward}.rules`, ids, r);
    checkMerged(rules, baseValid, baseRaw, o, `wards.${ward}.rules`, r);
    wards[ward] = { rules: o };
  }

  const patients: Record<string, PatientOverride> = {};
  const pr = raw['patients'];
  if (pr !== undefined && !isObject(pr)) errors.push('patients: expected a mapping of patient id → overrides');
  for (const [pid, p] of Object.entries(isObject(pr) ? pr : {})) {
    // Paths say "patients[n]" rather than the id: error text ends up in logs, ids are PHI.
    const path = `patients[${Object.keys(patients).length}]`;
    if (!isObject(p)) {
      errors.push(`${path}: expected { rules, scale, until }`);
      continue;
    }
    r.unknownKeys(p, ['rules', 'scale', 'until'], path);
    const o = readOverrides(p['rules'], `${path}.rules`, ids, r);
    checkMerged(rules, baseValid, baseRaw, o, `${path}.rules`, r);
    // The same override must also hold on top of every ward's version of the rule.
    for (const w of Object.values(wards)) {
      const wardRaw = mergeRaw(baseRaw, w.rules);
      checkMerged(rules, baseValid, wardRaw, o, `${path}.rules`, r);
    }
    const s = p['scale'];
    if (s !== undefined && s !== 1 && s !== 2) errors.push(`${path}.scale: expected 1 or 2`);
    let until: number | null = null;
    const u = p['until'];
    if (u !== undefined) {
      until = typeof u === 'number' ? u : typeof u === 'string' ? Date.parse(u) : Number.NaN;
      if (!Number.isFinite(until)) errors.push(`${path}.until: expected an ISO date-time like 2026-12-31T00:00:00Z`);
    }
    patients[pid] = { rules: o, scale: s === 1 || s === 2 ? s : null, until };
  }

  if (errors.length > 0) return { ok: false, errors: [...new Set(errors)] };
  return { ok: true, ruleSet: { version, defaults, news2, rules, wards, patients, rawRules: baseRaw } };
}

/** The effective rules of one patient: same order and length as `ruleSet.rules`. */
export interface EffectiveRules {
  rules: readonly Rule[];
  scale: 1 | 2;
  /** Event time at which a patient override expires (recompute then), or Infinity. */
  validUntil: number;
}

/**
 * Resolve the rules in force for a patient: base ← ward override ← patient override.
 * A patient override that expired by `ts` is ignored.
 * @param ruleSet - a rule set returned by parseRuleSet
 * @param ward - the patient's ward, or null
 * @param patientId - the patient
 * @param ts - event time, for override expiry
 */
export function effectiveRules(ruleSet: RuleSet, ward: string | null, patientId: string, ts: number): EffectiveRules {
  const w = ward !== null && Object.prototype.hasOwnProperty.call(ruleSet.wards, ward) ? ruleSet.wards[ward] : undefined;
  const p = Object.prototype.hasOwnProperty.call(ruleSet.patients, patientId) ? ruleSet.patients[patientId] : undefined;
  const pActive = p !== undefined && (p.until === null || ts < p.until);
  const validUntil = pActive && p.until !== null ? p.until : Infinity;
  if (!w && !pActive) return { rules: ruleSet.rules, scale: 1, validUntil };
  let raw = ruleSet.rawRules;
  if (w) raw = mergeRaw(raw, w.rules);
  if (pActive) raw = mergeRaw(raw, p.rules);
  // Already validated by parseRuleSet; the reader only converts.
  const r = new Reader([]);
  const rules = raw.map((x, i) => readRule(x, `rules[${i}]`, r) ?? (ruleSet.rules[i] as Rule));
  return { rules, scale: pActive && p.scale !== null ? p.scale : 1, validUntil };
}
