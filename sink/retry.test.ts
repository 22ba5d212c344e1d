import { describe, expect, it } from 'vitest';
import { VitalsError } from '../core/errors.js';
import { isTransientStoreError } from './retry.js';

const wrapped = (serverText: string): VitalsError =>
  new VitalsError('VTL_ERR_INTERNAL', 'clickhouse insertSamples failed', { cause: new Error(serverText) });

describe('sink retry policy', () => {
  it('retries a store that says it is unavailable', () => {
    expect(isTransientStoreError(new VitalsError('VTL_ERR_STORE_UNAVAILABLE', 'clickhouse insertSamples failed (ECONNREFUSED)'))).toBe(true);
  });
  it.each(['Code: 159, e.displayText() = DB::Exception: Timeout exceeded', 'Code: 252, DB::Exception: Too many parts', 'Code: 241, Memory limit (total) exceeded'])('retries ClickHouse server error %s', (m) => {
    expect(isTransientStoreError(wrapped(m))).toBe(true);
  });
  it.each(['Code: 27, e.displayText() = DB::Exception: Cannot parse input', 'Code: 53, Type mismatch', 'Conversion Error: Could not convert string'])('does not retry %s', (m) => {
    expect(isTransientStoreError(wrapped(m))).toBe(false);
  });
  it('does not guess from the text of an error no adapter classified', () => {
    expect(isTransientStoreError(new Error('socket hang up'))).toBe(false);
  });
});
