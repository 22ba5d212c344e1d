import { describe, expect, it } from 'vitest';
import { isVitalsError } from '../../core/errors.js';
import {
  assertSqlString,
  formatUtcDateTime,
  MAX_TIMESTAMP_MS,
  sqlDateTime,
  sqlIdent,
  sqlInt,
  sqlList,
  sqlNumber,
  sqlString,
} from './sql.js';

/** Parse a ClickHouse string literal back, the way the server's lexer does, to prove the round trip. */
function unquoteClickHouse(lit: string): string {
  expect(lit.startsWith("'") && lit.endsWith("'")).toBe(true);
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === "'") throw new Error(`unescaped quote at ${i}`);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[++i];
    const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', '\\': '\\', "'": "'" };
    if (n === 'x') {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (n !== undefined && simple[n] !== undefined) {
      out += simple[n];
    } else {
      throw new Error(`bad escape at ${i}`);
    }
  }
  return out;
}

function unquoteDuckDb(lit: string): string {
  expect(lit.startsWith("'") && lit.endsWith("'")).toBe(true);
  const body = lit.slice(1, -1);
  // Every quote inside must be doubled.
  expect(body.replace(/''/g, '')).not.toContain("'");
  return body.replace(/''/g, "'");
}

const HOSTILE = [
  "O'Brien",
  "'); DROP TABLE samples; --",
  "\\'; DROP TABLE samples; --",
  'back\\slash\\',
  '\\',
  "'",
  "''",
  '"double" `back`',
  'line\nbreak\r\ttab',
  '\x01\x1f\x7f',
  'ünïcødé — 患者 🫀',
  '$1 ? :x {p:String}',
  '',
];

function expectBadRequest(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(isVitalsError(e) && e.code === 'VTL_ERR_BAD_REQUEST').toBe(true);
    return;
  }
  throw new Error('expected a VTL_ERR_BAD_REQUEST');
}

describe('sqlString', () => {
  it.each(HOSTILE)('round-trips %j on ClickHouse', (s) => {
    const lit = sqlString(s, 'clickhouse');
    expect(unquoteClickHouse(lit)).toBe(s);
    // No raw control characters survive in the literal.
    // eslint-disable-next-line no-control-regex
    expect(/[\x00-\x1f\x7f]/.test(lit)).toBe(false);
  });

  it.each(HOSTILE)('round-trips %j on DuckDB', (s) => {
    expect(unquoteDuckDb(sqlString(s, 'duckdb'))).toBe(s);
  });

  it('escapes backslash before quote on ClickHouse (no \\\\\' break-out)', () => {
    expect(sqlString("\\'", 'clickhouse')).toBe("'\\\\\\''");
    expect(sqlString("\\'", 'duckdb')).toBe("'\\'''");
  });

  it('rejects NUL, lone surrogates and non-strings', () => {
    for (const bad of ['a\0b', '\uD800', 'x\uDC00y', '\uDBFFa']) {
      expectBadRequest(() => sqlString(bad, 'clickhouse'));
      expectBadRequest(() => sqlString(bad, 'duckdb'));
    }
    for (const bad of [1, null, undefined, {}, ['a'], Symbol('s')]) expectBadRequest(() => sqlString(bad, 'clickhouse'));
  });

  it('accepts surrogate pairs', () => {
    expect(() => assertSqlString('🫀')).not.toThrow();
  });

  it('does not echo the rejected value in the error', () => {
    try {
      sqlString('secret-patient\0', 'clickhouse');
    } catch (e) {
      expect((e as Error).message).not.toContain('secret');
    }
  });
});

describe('sqlNumber / sqlInt', () => {
  it('renders finite numbers', () => {
    expect(sqlNumber(42)).toBe('42');
    expect(sqlNumber(36.6)).toBe('36.6');
    expect(sqlNumber(-5)).toBe('(-5)');
    expect(sqlNumber(-0)).toBe('0');
    expect(sqlNumber(1e21)).toBe('1e+21');
    expect(sqlNumber(5e-7)).toBe('5e-7');
    expect(sqlInt(1_700_000_000_123)).toBe('1700000000123');
  });

  it('rejects non-finite and non-numbers', () => {
    for (const bad of [NaN, Infinity, -Infinity, '1', '1; DROP', null, undefined, 10n, {}]) expectBadRequest(() => sqlNumber(bad));
    for (const bad of [1.5, 2 ** 53, NaN, '3']) expectBadRequest(() => sqlInt(bad));
  });
});

describe('sqlIdent', () => {
  it('quotes valid identifiers per dialect', () => {
    expect(sqlIdent('vitals_test_1', 'clickhouse')).toBe('`vitals_test_1`');
    expect(sqlIdent('samples', 'duckdb')).toBe('"samples"');
  });

  it('rejects anything outside the allow-list', () => {
    for (const bad of ['', '1abc', 'a-b', 'a b', 'a`b', 'a"b', "a'b", 'db; DROP DATABASE x', 'ü', 'a'.repeat(64), 7, null]) {
      expectBadRequest(() => sqlIdent(bad, 'clickhouse'));
      expectBadRequest(() => sqlIdent(bad, 'duckdb'));
    }
  });
});

describe('sqlDateTime / formatUtcDateTime', () => {
  it('renders absolute times', () => {
    expect(sqlDateTime(1_700_000_000_999, 'clickhouse')).toBe('toDateTime(1700000000)');
    expect(sqlDateTime(1_700_000_000_999, 'duckdb')).toBe('epoch_ms(1700000000999)');
    expect(formatUtcDateTime(1_700_000_000_999)).toBe('2023-11-14 22:13:20');
    expect(formatUtcDateTime(0)).toBe('1970-01-01 00:00:00');
  });

  it('rejects out-of-range and non-integer times', () => {
    for (const bad of [-1, MAX_TIMESTAMP_MS + 1, 1.5, NaN, '2023-01-01', null]) {
      expectBadRequest(() => sqlDateTime(bad, 'clickhouse'));
      expectBadRequest(() => sqlDateTime(bad, 'duckdb'));
    }
  });
});

describe('sqlList', () => {
  it('joins rendered items and rejects empty lists', () => {
    expect(sqlList(["a'", 'b'], (s) => sqlString(s, 'clickhouse'))).toBe("('a\\'', 'b')");
    expectBadRequest(() => sqlList([], sqlNumber));
  });
});
