/**
 * Versioned schema files: `schema/<engine>/NNN-name.sql`, one statement each.
 * ClickHouse rejects multi-statement requests, so rather than split SQL (and get string
 * literals or comments wrong) a file with a second statement is refused at load time.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { VitalsError } from '../../core/errors.js';
import type { Store } from '../../core/ports.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE_RE = /^(\d{3})-([a-z0-9-]+)\.sql$/;

/**
 * Where the schema files of an engine live. Next to this module when run from source (vitest,
 * tsx); from a `dist/` build tsc does not copy .sql files, so fall back to the source tree.
 * @param engine - schema folder name
 * @returns an absolute directory path
 */
export function schemaDir(engine: 'clickhouse' | 'duckdb'): string {
  const here = fileURLToPath(new URL(`./schema/${engine}/`, import.meta.url));
  if (existsSync(here)) return here;
  // dist/adapters/store/ -> <root>/adapters/store/schema/<engine>
  return fileURLToPath(new URL(`../../../adapters/store/schema/${engine}/`, import.meta.url));
}

/**
 * Remove `--` line comments (whole-line or trailing outside quotes is not attempted: schema
 * files only use whole-line comments) and a single trailing semicolon.
 * @param text - file contents
 * @param file - file name for errors
 * @returns exactly one statement
 */
export function singleStatement(text: string, file: string): string {
  const body = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .trim()
    .replace(/;\s*$/, '')
    .trim();
  if (body === '') throw new VitalsError('VTL_ERR_CONFIG', `migration ${file} is empty`);
  if (body.includes(';')) throw new VitalsError('VTL_ERR_CONFIG', `migration ${file} holds more than one statement`);
  return body;
}

/**
 * Load and order the migrations of a directory.
 * @param dir - directory with NNN-name.sql files
 * @returns migrations by ascending version
 */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const out: Migration[] = [];
  for (const file of files) {
    const m = FILE_RE.exec(file);
    if (!m) throw new VitalsError('VTL_ERR_CONFIG', `migration file name ${file} is not NNN-name.sql`);
    const version = Number(m[1]);
    if (out.some((x) => x.version === version)) throw new VitalsError('VTL_ERR_CONFIG', `duplicate migration version ${version}`);
    out.push({ version, name: file.replace(/\.sql$/, ''), sql: singleStatement(await readFile(join(dir, file), 'utf8'), file) });
  }
  return out;
}

/** A row of the `schema_migrations` ledger. */
export interface AppliedMigration {
  version: number;
  name: string;
}

/**
 * The Store port plus introspection both adapters offer (used by the contract suite and ops
 * tooling). Kept local until the port needs it.
 */
export interface IntrospectableStore extends Store {
  /** Migrations recorded in `schema_migrations`, by ascending version. */
  appliedMigrations(): Promise<AppliedMigration[]>;
}
