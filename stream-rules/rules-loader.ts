/**
 * Rule-set text → validated RuleSet. The text parsing (YAML, which also accepts JSON)
 * lives here at the edge so core/ stays free of parsers; validation is core's parseRuleSet.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { parseRuleSet, type ParseResult } from '../core/rules-config.js';

/**
 * Parse and validate rule-set text. YAML syntax errors and schema errors are all reported
 * together; no rule set is returned while any error remains.
 * @param text - YAML or JSON
 * @returns the rule set, or every error (YAML errors carry line:column)
 */
export function parseRuleSetText(text: string): ParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return `line ${pos.line}:${pos.col}: ${e.message.split('\n')[0] ?? e.code}`;
      }),
    };
  }
  return parseRuleSet(doc.toJS({ maxAliasCount: 100 }));
}

/** Candidate locations of the shipped default rules: beside this module, then the source tree (from dist/). */
const DEFAULT_RULES_URLS = [
  new URL('./default-rules.yaml', import.meta.url),
  new URL('../../stream-rules/default-rules.yaml', import.meta.url),
];

/** Read the shipped default rule set (stream-rules/default-rules.yaml) as text. */
export async function readDefaultRulesText(): Promise<string> {
  let lastErr: unknown;
  for (const u of DEFAULT_RULES_URLS) {
    try {
      return await readFile(u, 'utf8');
    } catch (e) {
      lastErr = e;
    }
  }
  throw lastErr;
}
