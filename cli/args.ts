/**
 * Flag parsing on node's util.parseArgs, collecting every problem at once
 * (unknown flags, missing values) instead of failing on the first.
 */
import { parseArgs } from 'node:util';

export interface FlagSpec {
  [name: string]: { type: 'string' | 'boolean'; multiple?: boolean; short?: string; help: string };
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  errors: string[];
}

/**
 * @param explainUnknown - a better message for a flag this command does not take (e.g. another role's)
 */
export function parseFlags(argv: string[], spec: FlagSpec, explainUnknown?: (name: string) => string | undefined): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [k, v] of Object.entries(spec)) options[k] = { type: v.type, ...(v.multiple ? { multiple: true } : {}), ...(v.short ? { short: v.short } : {}) };
  const { values, positionals, tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const errors: string[] = [];
  for (const t of tokens ?? []) {
    if (t.kind !== 'option') continue;
    const s = spec[t.name];
    if (!s) errors.push(explainUnknown?.(t.name) ?? `unknown flag ${t.rawName}`);
    else if (s.type === 'string' && t.value === undefined) errors.push(`flag ${t.rawName} needs a value`);
    else if (s.type === 'boolean' && t.value !== undefined) errors.push(`flag ${t.rawName} takes no value`);
  }
  return { values: values as Parsed['values'], positionals, errors };
}

export function flagHelp(spec: FlagSpec): string {
  const rows = Object.entries(spec).map(([k, v]) => [`--${k}${v.type === 'string' ? ' VALUE' : ''}${v.multiple ? ' (repeatable)' : ''}`, v.help] as const);
  const w = Math.max(...rows.map((r) => r[0].length), 10);
  return rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`).join('\n');
}
