/** What commands need from the outside world, so tests can run them in-process. */
import { CONFIG_FIELDS, type RoleName } from '../platform/config.js';
import type { FlagSpec } from './args.js';

export interface CommandIO {
  env: Record<string, string | undefined>;
  out(s: string): void;
  err(s: string): void;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Repository root (for .cache/ and infra/). */
  root: string;
  /** The package version, for `vitals --version`. */
  version: string;
}

/** A role, or 'all' for `vitals start` (every role in one process). */
export type RoleTarget = RoleName | 'all';

const forTarget = (roles: readonly RoleName[], target: RoleTarget): boolean => target === 'all' || roles.includes(target);

/** The flags a target reads: its roles' config fields, `--patients` where the simulator runs, and --help. */
export function configFlagSpec(target: RoleTarget): FlagSpec {
  const spec: FlagSpec = { help: { type: 'boolean', short: 'h', help: 'show this help' } };
  for (const f of CONFIG_FIELDS) if (forTarget(f.roles, target)) spec[f.flag] = { type: 'string', help: `${f.help} [${f.env}]` };
  if (forTarget(['sim'], target)) spec.patients = { type: 'string', help: 'alias of --sim-patients' };
  return spec;
}

/** For a flag the target does not read: which roles do, so the error can say where it belongs. */
export function rolesOfFlag(flag: string): readonly RoleName[] {
  if (flag === 'patients') return ['sim'];
  return CONFIG_FIELDS.find((f) => f.flag === flag)?.roles ?? [];
}

/** Flag values keyed by config flag name (aliases folded in). */
export function configFlagValues(values: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const f of CONFIG_FIELDS) if (typeof values[f.flag] === 'string') out[f.flag] = values[f.flag] as string;
  if (typeof values.patients === 'string') out['sim-patients'] = values.patients;
  return out;
}
