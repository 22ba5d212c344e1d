/**
 * Every FHIR resource and error the gateway emits, validated by HL7's own validator (HAPI
 * FHIR 8.8.1 instance validator, R4 core and vital-signs profiles, no terminology server):
 * 0 errors. Beside the Medplum suite (fhir.test.ts); HAPI checks invariants and profile
 * slicing that Medplum does not. Needs Java 17 and Maven (test/fhir-validator/hapi.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildValidator, validateWithHapi, type Issue } from '../test/fhir-validator/hapi.js';
import { emittedResources, seedFhir, type Get } from '../test/support/fhir-fixture.js';
import type { GatewayService } from './gateway.js';
import { startHarness, type Harness } from '../test/support/gateway-harness.js';

describe('FHIR R4 against the HL7 (HAPI) validator', () => {
  let h: Harness;
  let gw: GatewayService;
  const t0 = Date.now() - 10 * 60_000;
  const get: Get = (token, url) => gw.app.inject({ url, headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    // First run: Maven fetches HAPI into .cache/m2 (minutes); later runs are offline.
    await buildValidator();
    h = await startHarness();
    gw = await h.gateway();
    await seedFhir(h, gw, t0);
  }, 900_000);
  afterAll(async () => h?.close());

  it('validates every emitted resource with 0 errors', async () => {
    const nurse = await h.token({ sub: 'n', role: 'nurse', wards: ['4B'] });
    const otherWard = await h.token({ sub: 'n5a', role: 'nurse', wards: ['5A'] });
    const resources = await emittedResources(get, { nurse, otherWard }, t0);
    // A resource with a deliberate error must be caught: the validator really runs and reports.
    resources['control: broken Observation'] = { resourceType: 'Observation', status: 'not-a-status', code: { text: 'x' }, valueQuantity: { value: 'NaN' } };
    const issues = await validateWithHapi(resources);
    const errors = (name: string): Issue[] => (issues[name] ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    expect(errors('control: broken Observation').length).toBeGreaterThan(0);
    delete issues['control: broken Observation'];
    // Every remaining issue (warnings) for review: test-results/fhir-hapi-issues.json.
    await mkdir('test-results', { recursive: true });
    await writeFile('test-results/fhir-hapi-issues.json', JSON.stringify(issues, null, 1));
    const failing = Object.fromEntries(Object.keys(issues).map((n) => [n, errors(n).map((i) => `${i.location}: ${i.message}`)]).filter(([, e]) => (e ?? []).length > 0));
    expect(failing).toEqual({});
    // Each Observation read, both bundles, Patient, Device, metadata and 6 OperationOutcomes were checked.
    expect(Object.keys(issues).length).toBeGreaterThanOrEqual(20);
  }, 600_000);
});
