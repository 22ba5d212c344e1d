import { describe, expect, it } from 'vitest';
import { effectiveRules, parseCondition, parseDuration, parseRuleSet, ruleKind, type RuleSet } from './rules-config.js';

const base = {
  version: 'test-1',
  rules: [
    { id: 'spo2-low', type: 'threshold', condition: 'spo2 < 90', for: '60s', hysteresis: 2, clearFor: '60s', priority: 'medium' },
    { id: 'hr-rising', type: 'rate', metric: 'hr', window: '10m', change: 25, priority: 'low' },
    { id: 'news2', type: 'news2', bands: { medium: 'medium', high: 'high' } },
    { id: 'hr-missing', type: 'missing', metric: 'hr', after: '2m', priority: 'low' },
    { id: 'battery-low', type: 'battery', below: 0.15, clearAbove: 0.25, priority: 'low' },
  ],
};

function ok(raw: unknown): RuleSet {
  const r = parseRuleSet(raw);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.ruleSet;
}

function errs(raw: unknown): string[] {
  const r = parseRuleSet(raw);
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

describe('primitives', () => {
  it.each([
    ['500ms', 500],
    ['60s', 60_000],
    ['2m', 120_000],
    ['1.5h', 5_400_000],
    ['1d', 86_400_000],
    ['0', 0],
    [0, 0],
  ])('duration %s', (s, ms) => expect(parseDuration(s)).toBe(ms));
  it.each([['60'], [60], ['2 minutes'], ['-1s'], [null]])('not a duration: %s', (s) => expect(parseDuration(s)).toBeNull());
  it('conditions', () => {
    expect(parseCondition('spo2 < 90')).toEqual({ metric: 'spo2', op: '<', value: 90 });
    expect(parseCondition(' temp>=39.1 ')).toEqual({ metric: 'temp', op: '>=', value: 39.1 });
    expect(parseCondition('pulse < 40')).toBeNull();
    expect(parseCondition('spo2 = 90')).toBeNull();
  });
});

describe('parseRuleSet', () => {
  it('news2.summary: a duration up to 5m, else a clear error', () => {
    expect(ok({ ...base, news2: { summary: '60s' } }).news2.summaryMs).toBe(60_000);
    expect(errs({ ...base, news2: { summary: 'a minute' } })).toContain('news2.summary: expected a duration like 30s, 2m or 1h, got "a minute"');
    expect(errs({ ...base, news2: { summary: '10m' } }).join('\n')).toMatch(/news2\.summary: at most 5m/);
  });

  it('news2.confirmSpotRed: lone or below-medium; confirmLoneSpotRed: true is the older spelling of lone', () => {
    expect(ok(base).news2.confirmSpotRed).toBeNull();
    expect(ok({ ...base, news2: { confirmLoneSpotRed: true } }).news2.confirmSpotRed).toBe('lone');
    expect(ok({ ...base, news2: { confirmSpotRed: 'below-medium' } }).news2).toMatchObject({ confirmSpotRed: 'below-medium', confirmLoneSpotRed: false });
    expect(errs({ ...base, news2: { confirmSpotRed: 'always' } })).toContain('news2.confirmSpotRed: expected lone or below-medium');
    expect(errs({ ...base, news2: { confirmSpotRed: 'lone', confirmLoneSpotRed: true } }).join('\n')).toMatch(/not both/);
    expect(ok({ ...base, news2: { lowMediumDefers: true } }).news2.lowMediumDefers).toBe(true);
    expect(errs({ ...base, news2: { lowMediumDefers: 'yes' } })).toContain('news2.lowMediumDefers: expected true or false');
  });

  it('shock-index: above required, window at most 1h, defaults filled', () => {
    const si = { id: 'shock-index', type: 'shock-index', above: 0.9, fall: 20, priority: 'medium' };
    expect(ok({ ...base, rules: [si] }).rules[0]).toMatchObject({ type: 'shock-index', above: 0.9, fall: 20, windowMs: 1_800_000, sbpMaxAgeMs: 960_000, hysteresis: 0 });
    expect(ruleKind({ type: 'shock-index' })).toBe('clinical');
    const e = errs({ ...base, rules: [{ ...si, above: undefined, window: '2h', bands: {} }] }).join('\n');
    expect(e).toMatch(/rules\[0\]\.above: required/);
    expect(e).toMatch(/rules\[0\]\.window: longer than 0, at most 1h/);
    expect(e).toMatch(/rules\[0\]\.bands: unknown field/);
  });

  it('parses and fills defaults', () => {
    const rs = ok(base);
    expect(rs.version).toBe('test-1');
    expect(rs.defaults).toEqual({ minQuality: 0.5, maxGapMs: 30_000, latenessMs: 120_000, maxEscalations: 3 });
    expect(rs.news2.scoreIntervalMs).toBe(60_000);
    expect(rs.news2.summaryMs).toBe(0);
    expect(rs.rules[0]).toMatchObject({ type: 'threshold', forMs: 60_000, clearForMs: 60_000, hysteresis: 2, enabled: true, escalate: null, escalateAfterMs: null });
    expect(rs.rules[1]).toMatchObject({ type: 'rate', windowMs: 600_000, minSamples: 5, minSpanMs: 300_000 });
    expect(rs.rules.map(ruleKind)).toEqual(['clinical', 'clinical', 'clinical', 'technical', 'technical']);
  });

  it('reports every error at once, each with its path, and returns no rule set', () => {
    const e = errs({
      version: '',
      defaults: { minQuality: 2, maxGap: 'soon' },
      news2: { maxAge: { hr: '5 minutes', bp: '1h' } },
      rules: [
        { id: 'Bad Id', type: 'threshold', condition: 'spo2 < ninety', priority: 'urgent', clearfor: '1m' },
        { id: 'r2', type: 'rate', metric: 'pulse', window: '2h', change: 0 },
        { id: 'r3', type: 'teleport' },
        { id: 'n', type: 'news2', bands: { amber: 'low' }, priority: 'high' },
        { id: 'm', type: 'missing', metric: 'hr' },
        { id: 'b', type: 'battery', below: 1.5 },
        { id: 'r2', type: 'missing', metric: 'hr', after: '1m', priority: 'low', escalateAfter: '0' },
      ],
    });
    const text = e.join('\n');
    for (const want of [
      'version: required',
      'defaults.minQuality: 2 is outside',
      'defaults.maxGap: expected a duration',
      'news2.maxAge.bp: unknown field',
      'news2.maxAge.hr: expected a duration',
      'rules[0].id: expected lower-case',
      'rules[0].condition: expected',
      'rules[0].priority: expected low, medium or high',
      'rules[0].clearfor: unknown field',
      'rules[1].metric: expected a metric',
      'rules[1].window: at most 1h',
      'rules[1].change: required',
      'rules[2].type: expected one of',
      'rules[3].bands.amber: unknown band',
      'rules[3].priority: a news2 rule takes its priority from bands',
      'rules[4].after: required',
      'rules[5].below: 1.5 is outside',
      'rules[6].id: duplicate id r2',
      'rules[6].escalateAfter: must be longer than 0',
    ]) {
      expect(text).toContain(want);
    }
  });

  it('rejects a non-object, an empty rule list and unknown top-level fields', () => {
    expect(errs('rules: []')).toEqual(['(root): expected a mapping with version and rules']);
    expect(errs({ version: 1, rules: [] })).toContain('rules: required, a non-empty list');
    expect(errs({ ...base, rulez: [] })[0]).toMatch(/^\(root\)\.rulez: unknown field/);
  });

  it('checks the escalation level is the same metric, same direction, worse, and a higher priority', () => {
    const rule = (escalate: unknown) => ({ version: 1, rules: [{ id: 'a', type: 'threshold', condition: 'spo2 < 90', priority: 'medium', escalate }] });
    expect(ok(rule({ condition: 'spo2 < 85', for: '15s', priority: 'high' })).rules[0]).toMatchObject({ escalate: { forMs: 15_000, priority: 'high' } });
    expect(errs(rule({ condition: 'hr < 85', priority: 'high' })).join()).toMatch(/same metric/);
    expect(errs(rule({ condition: 'spo2 > 95', priority: 'high' })).join()).toMatch(/same way/);
    expect(errs(rule({ condition: 'spo2 < 92', priority: 'high' })).join()).toMatch(/at or beyond/);
    expect(errs(rule({ condition: 'spo2 < 85', priority: 'medium' })).join()).toMatch(/higher than the rule priority/);
  });

  it('rate hysteresis must be smaller than the change; only one news2 rule', () => {
    expect(errs({ version: 1, rules: [{ id: 'a', type: 'rate', metric: 'hr', window: '10m', change: -10, hysteresis: 10, priority: 'low' }] }).join()).toMatch(/smaller than \|change\|/);
    expect(errs({ version: 1, rules: [base.rules[2], { ...base.rules[2], id: 'n2' }] }).join()).toMatch(/at most one news2 rule/);
  });
});

describe('overrides', () => {
  const withOverrides = {
    ...base,
    wards: {
      icu: { rules: { 'spo2-low': { condition: 'spo2 < 88', priority: 'high' }, 'hr-rising': { enabled: false } } },
    },
    patients: {
      'P-1': { scale: 2, until: '2026-01-02T00:00:00Z', rules: { 'spo2-low': { condition: 'spo2 < 85' } } },
      'P-2': { rules: { 'battery-low': { below: 0.3, clearAbove: 0.4 } } },
    },
  };

  it('merges base ← ward ← patient', () => {
    const rs = ok(withOverrides);
    const general = effectiveRules(rs, 'general', 'P-9', 0);
    expect(general.rules).toBe(rs.rules);
    expect(general.scale).toBe(1);
    const icu = effectiveRules(rs, 'icu', 'P-9', 0);
    expect(icu.rules[0]).toMatchObject({ condition: { value: 88 }, priority: 'high', forMs: 60_000 });
    expect(icu.rules[1]?.enabled).toBe(false);
    const p1 = effectiveRules(rs, 'icu', 'P-1', Date.parse('2026-01-01T00:00:00Z'));
    expect(p1.rules[0]).toMatchObject({ condition: { value: 85 }, priority: 'high' });
    expect(p1.scale).toBe(2);
    expect(p1.validUntil).toBe(Date.parse('2026-01-02T00:00:00Z'));
  });

  it('an expired patient override no longer applies', () => {
    const rs = ok(withOverrides);
    const p1 = effectiveRules(rs, null, 'P-1', Date.parse('2026-01-03T00:00:00Z'));
    expect(p1.rules[0]).toMatchObject({ condition: { value: 90 } });
    expect(p1.scale).toBe(1);
  });

  it('validates overrides: unknown rule, fixed fields, bad values, changed metric; never prints patient ids', () => {
    const e = errs({
      ...base,
      wards: { icu: { rules: { nope: { enabled: false }, 'spo2-low': { id: 'x', condition: 'hr < 40', hysteresis: -1 } } } },
      patients: { 'SECRET-MRN-123': { scale: 3, until: 'next tuesday', rules: { 'battery-low': { clearAbove: 0.1 } } } },
    });
    const text = e.join('\n');
    expect(text).toContain('wards.icu.rules.nope: no rule with this id');
    expect(text).toContain('wards.icu.rules.spo2-low.id: cannot be overridden');
    expect(text).toContain('wards.icu.rules.spo2-low.hysteresis: -1 is outside');
    expect(text).toContain('wards.icu.rules.spo2-low.condition: must keep the metric spo2');
    expect(text).toContain('patients[0].scale: expected 1 or 2');
    expect(text).toContain('patients[0].until: expected an ISO date-time');
    expect(text).toContain('patients[0].rules.battery-low.clearAbove: must be at least below');
    expect(text).not.toContain('SECRET-MRN-123');
  });

  it('does not repeat a base rule error under every ward', () => {
    const e = errs({
      version: 1,
      rules: [{ id: 'a', type: 'threshold', condition: 'spo2 < x', priority: 'medium' }],
      wards: { w1: { rules: { a: { priority: 'high' } } }, w2: { rules: { a: { for: 'soon' } } } },
    });
    expect(e).toEqual(['rules[0].condition: expected "<metric> <op> <number>" like "spo2 < 90", got "spo2 < x"', 'wards.w2.rules.a.for: expected a duration like 30s, 2m or 1h, got "soon"']);
  });
});
