import { describe, expect, it } from 'vitest';
import { ERRORS, VitalsError } from './errors.js';

describe('error table', () => {
  it('is pinned: adding or removing a code is a deliberate change (update docs/errors.md)', () => {
    expect(Object.keys(ERRORS)).toHaveLength(11);
  });
  it('every code starts with VTL_ERR_ and has an HTTP status', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^VTL_ERR_[A-Z_]+$/);
      expect(spec.statusCode).toBeGreaterThanOrEqual(400);
    }
  });
  it('a VitalsError carries code, status and retriable from the table', () => {
    const e = new VitalsError('VTL_ERR_BUS_UNAVAILABLE', 'kafka down');
    expect(e.code).toBe('VTL_ERR_BUS_UNAVAILABLE');
    expect(e.statusCode).toBe(503);
    expect(e.retriable).toBe(true);
    expect(e.message).toBe('Message bus unavailable: kafka down');
  });
});
