/** What commands need from the outside world, so tests can run them in-process. */
import { CONFIG_FIELDS } from '../platform/config.js';
import type { FlagSpec } from './args.js';

export interface CommandIO {
  env: Record<string, string | undefined>;
  out(s: string): void;
  err(s: string): void;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  configHelp(): string;
  /** Repository root (for .cache/ and infra/). */
  root: string;
}

export function configFlagSpec(): FlagSpec {
  const spec: FlagSpec = { help: { type: 'boolean', short: 'h', help: 'show this help' } };
  for (const f of CONFIG_FIELDS) spec[f.flag] = { type: 'string', help: `${f.help} [${f.env}]` };
  spec.patients = { type: 'string', help: 'alias of --sim-patients' };
  return spec;
}

/** Flag values keyed by config flag name (aliases folded in). */
export function configFlagValues(values: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const f of CONFIG_FIELDS) if (typeof values[f.flag] === 'string') out[f.flag] = values[f.flag] as string;
  if (typeof values.patients === 'string') out['sim-patients'] = values.patients;
  return out;
}
