/**
 * The rule-set schema: validate an already-parsed object (YAML or JSON; parsing text
 * is the edge's job, see stream-rules/rules-loader.ts) into a typed, fully-defaulted RuleSet.
 * Validation collects EVERY error with its path and returns no rule set at all when
 * there is one: a half-loaded rule set would silently drop alarms.
 * The language is documented for clinical users in docs/rules.md. Each rule type's fields are
 * read in its own module under rules-config/, as the engine evaluates each in stream-rules/engine/.
 */
import { DEFAULT_MAX_AGE_MS, NEWS2_PARAMS, type News2Param } from './news2.js';
import { checkMerged, mergeRaw, readOverrides, type RuleOverrides } from './rules-config/overrides.js';
import { isObject, Reader } from './rules-config/reader.js';
import { readRule, type Rule } from './rules-config/rule.js';

export type { BatteryRule } from './rules-config/battery.js';
export type { MissingRule } from './rules-config/missing.js';
export type { News2AlertBand, News2Rule } from './rules-config/news2.js';
export type { RuleOverrides } from './rules-config/overrides.js';
export type { RateRule } from './rules-config/rate.js';
export { parseCondition, parseDuration, type ComparisonOp, type Condition } from './rules-config/reader.js';
export { ruleKind, type Rule, type RuleType } from './rules-config/rule.js';
export type { ShockIndexRule } from './rules-config/shock-index.js';
export type { ThresholdRule } from './rules-config/threshold.js';

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
