/**
 * SQL literal layer for the store adapters.
 *
 * ClickHouse 18.16 has no query parameters (`query_params` fails with "Unknown setting param_x"),
 * so every value that reaches a ClickHouse statement is rendered here. The rule is: validate first,
 * then quote; anything that is not a finite number or a well-formed string is rejected, never
 * "cleaned". DuckDB binds parameters natively and uses this module only for numbers, identifiers
 * and timestamps.
 */
import { VitalsError } from '../../core/errors.js';

export type SqlDialect = 'clickhouse' | 'duckdb';

/** DateTime on ClickHouse is UInt32 seconds: the largest event time both engines can store. */
export const MAX_TIMESTAMP_MS = 4_294_967_295_000;

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Any surrogate: a plain class scan, much cheaper than the lookarounds above on the usual string
// that has none.
const SURROGATE_RE = /[\uD800-\uDFFF]/;

/** Throw a bad-request error naming the field and what is wrong with it. */
export function reject(what: string, why: string): never {
  // The message names the field, never the value: values may be patient data.
  throw new VitalsError('VTL_ERR_BAD_REQUEST', `${what}: ${why}`);
}

/**
 * Throw unless `s` is a string both engines store byte-exactly: well-formed UTF-16 (so it encodes
 * to valid UTF-8) and free of NUL (DuckDB's C API and ClickHouse tooling treat NUL as a terminator).
 * @param s - the value to check
 * @param what - a field name for the error message
 */
export function assertSqlString(s: unknown, what = 'string'): asserts s is string {
  if (typeof s !== 'string') reject(what, 'not a string');
  if (s.includes('\0')) reject(what, 'contains NUL');
  if (SURROGATE_RE.test(s) && LONE_SURROGATE_RE.test(s)) reject(what, 'not well-formed unicode');
}

/** assertSqlString as a test, for hot paths that build the error's field name only on failure. */
export function isSqlString(s: unknown): s is string {
  return typeof s === 'string' && !s.includes('\0') && !(SURROGATE_RE.test(s) && LONE_SURROGATE_RE.test(s));
}

/** A storable string (assertSqlString) that is not empty. */
export function nonEmptyString(s: unknown, what: string): string {
  assertSqlString(s, what);
  if (s === '') reject(what, 'empty');
  return s;
}

/** A storable string, or '' for null and undefined. */
export function optionalString(s: unknown, what: string): string {
  if (s === null || s === undefined) return '';
  assertSqlString(s, what);
  return s;
}

/**
 * Throw unless `n` is a finite number.
 * @param n - the value to check
 * @param what - a field name for the error message
 */
export function assertFiniteNumber(n: unknown, what = 'number'): asserts n is number {
  if (typeof n !== 'number' || !Number.isFinite(n)) reject(what, 'not a finite number');
}

/**
 * Throw unless `n` is a safe integer (exactly representable, so it survives JSON and SQL as-is).
 * @param n - the value to check
 * @param what - a field name for the error message
 */
export function assertSafeInteger(n: unknown, what = 'integer'): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) reject(what, 'not a safe integer');
}

/** An epoch-millisecond time both engines can store (1970 .. 2106). */
export function isTimestampMs(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_TIMESTAMP_MS;
}

/**
 * Throw unless `ms` is an epoch-millisecond time both engines can store (isTimestampMs).
 * @param ms - the value to check
 * @param what - a field name for the error message
 */
export function assertTimestampMs(ms: unknown, what = 'timestamp'): asserts ms is number {
  assertSafeInteger(ms, what);
  if (ms < 0 || ms > MAX_TIMESTAMP_MS) reject(what, 'out of range');
}

// ClickHouse string literals use backslash escapes; escape every control character so the
// literal stays on one line and no byte can end the quoted string early.
const CH_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

function escapeClickHouse(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\\'\x00-\x1f\x7f]/g, (c) => CH_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * A quoted string literal.
 * ClickHouse: backslash escapes (`\\`, `\'`, `\n`, `\xHH`). DuckDB: standard SQL, where a
 * backslash is an ordinary character and a quote is doubled.
 * @param s - the string (validated with {@link assertSqlString})
 * @param dialect - target engine
 * @returns the literal, quotes included
 */
export function sqlString(s: unknown, dialect: SqlDialect): string {
  assertSqlString(s);
  return dialect === 'clickhouse' ? `'${escapeClickHouse(s)}'` : `'${s.replace(/'/g, "''")}'`;
}

/**
 * A numeric literal for a finite number (negative values parenthesised so `a-${x}` cannot become `a--1`).
 * @param n - the number
 * @returns the literal
 */
export function sqlNumber(n: unknown): string {
  assertFiniteNumber(n);
  // String() never yields exponent forms the engines cannot parse ("1e+21", "5e-7" are both accepted).
  const text = String(Object.is(n, -0) ? 0 : n);
  return n < 0 ? `(${text})` : text;
}

/**
 * An integer literal.
 * @param n - a safe integer
 * @returns the literal
 */
export function sqlInt(n: unknown): string {
  assertSafeInteger(n);
  return sqlNumber(n);
}

/**
 * A quoted identifier (database, table, column). Only `[A-Za-z_][A-Za-z0-9_]*` up to 63
 * characters is accepted: identifiers come from configuration, and a strict allow-list is
 * simpler to trust than identifier escaping rules that differ between engines and versions.
 * @param name - the identifier
 * @param dialect - target engine
 * @returns the quoted identifier
 */
export function sqlIdent(name: unknown, dialect: SqlDialect): string {
  if (typeof name !== 'string' || !IDENT_RE.test(name)) reject('identifier', 'must match [A-Za-z_][A-Za-z0-9_]*, at most 63 characters');
  return dialect === 'clickhouse' ? `\`${name}\`` : `"${name}"`;
}

/**
 * A DateTime/TIMESTAMP expression for an epoch-millisecond time.
 * ClickHouse: `toDateTime(<unix seconds>)`, seconds precision (DateTime64 does not exist on 18.16);
 * a number, not a string, so the result does not depend on the server's time zone.
 * DuckDB: `epoch_ms(<ms>)`.
 * @param ms - epoch milliseconds
 * @param dialect - target engine
 * @returns the expression
 */
export function sqlDateTime(ms: unknown, dialect: SqlDialect): string {
  assertTimestampMs(ms);
  return dialect === 'clickhouse' ? `toDateTime(${Math.floor(ms / 1000)})` : `epoch_ms(${ms})`;
}

/**
 * A parenthesised, comma-separated list for `IN (...)`; empty lists are rejected because
 * `IN ()` is a syntax error on ClickHouse 18.16 and an always-false filter is better expressed by the caller.
 * @param values - the items
 * @param render - renders one item as a literal
 * @returns `(a, b, c)`
 */
export function sqlList<T>(values: readonly T[], render: (v: T) => string): string {
  if (values.length === 0) reject('list', 'empty');
  return `(${values.map(render).join(', ')})`;
}

/** `'YYYY-MM-DD hh:mm:ss'` in UTC, the DateTime text format both ClickHouse versions accept. */
export function formatUtcDateTime(ms: number): string {
  assertTimestampMs(ms);
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19).replace('T', ' ');
}
