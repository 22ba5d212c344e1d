/**
 * The gateway never logs requests (URLs carry patient ids), and says so without the deprecated
 * top-level fastify option: no FSTDEP023 warning at start.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../test/support/gateway-harness.js';

describe('gateway request logging', () => {
  let h: Harness | undefined;
  afterAll(async () => h?.close());

  it('starts without a deprecation warning and logs no request line or patient id, even at debug level', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => void warnings.push(`${w.code ?? w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      h = await startHarness();
      const gw = await h.gateway();
      const token = await h.token({ sub: 'n1', role: 'nurse', wards: ['4B'] });
      const r = await gw.app.inject({ url: '/api/patients/MRN-LOGCHECK-7/news2', headers: { authorization: `Bearer ${token}` } });
      expect(r.statusCode).toBeLessThan(500);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => /FSTDEP|Deprecat/i.test(w))).toEqual([]);
    expect(h.logLines.length).toBeGreaterThan(0); // the logger is live at debug level
    expect(h.logLines.filter((l) => /incoming request|request completed|MRN-LOGCHECK-7/.test(l))).toEqual([]);
  });
});
