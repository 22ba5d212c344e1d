import { describe, expect, it } from 'vitest';
import { stagedInsertSql } from './duckdb-append.js';

describe('stagedInsertSql', () => {
  it('turns one row of parameters into a SELECT over the staging table, repeated parameters included', () => {
    const sql = stagedInsertSql({ table: 'audit', values: '($1, epoch_ms($2::BIGINT), $2, $3)', types: ['VARCHAR', 'BIGINT', 'VARCHAR'] });
    expect(sql.create).toBe('CREATE TEMP TABLE IF NOT EXISTS audit_stage (p1 VARCHAR, p2 BIGINT, p3 VARCHAR)');
    expect(sql.insert).toBe('INSERT OR IGNORE INTO audit SELECT p1, epoch_ms(p2::BIGINT), p2, p3 FROM audit_stage');
    expect(sql.clear).toBe('DELETE FROM audit_stage');
    expect(sql.stage).toBe('audit_stage');
  });

  it('refuses a parameter without a type', () => {
    expect(() => stagedInsertSql({ table: 't', values: '($1, $2)', types: ['VARCHAR'] })).toThrow(/\$2 has no type/);
  });
});
