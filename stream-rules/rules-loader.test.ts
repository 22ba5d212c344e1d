import { describe, expect, it } from 'vitest';
import { parseRuleSetText, readDefaultRulesText } from './rules-loader.js';

describe('rules loader', () => {
  it('loads the shipped default rule set without errors', async () => {
    const r = parseRuleSetText(await readDefaultRulesText());
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.ruleSet.version).toBe('general-ward-2026.4');
    expect(r.ruleSet.rules.map((x) => x.id)).toContain('news2');
    const spo2 = r.ruleSet.rules.find((x) => x.id === 'spo2-low');
    expect(spo2).toMatchObject({ type: 'threshold', forMs: 60_000, condition: { metric: 'spo2', op: '<', value: 90 } });
  });
  it('reports YAML syntax errors with line and column, and returns no rule set', () => {
    const r = parseRuleSetText('version: 1\nrules:\n  - id: a\n    id: b\n  - [unclosed\n');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.length).toBeGreaterThanOrEqual(2);
      expect(r.errors.join('\n')).toMatch(/line \d+:\d+/);
    }
  });
  it('accepts JSON text', () => {
    const r = parseRuleSetText(JSON.stringify({ version: 'j1', rules: [{ id: 'x', type: 'missing', metric: 'hr', after: '2m', priority: 'low' }] }));
    expect(r.ok).toBe(true);
  });
  it('reports schema errors all at once', () => {
    const r = parseRuleSetText(`
version: v
rules:
  - id: a
    type: threshold
    condition: spo2 << 90
    priority: urgent
  - id: b
    type: rate
    metric: hr
    window: ten minutes
`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.length).toBeGreaterThanOrEqual(4);
  });
});
