/**
 * The access rules as one table, tested as one: every route of the OpenAPI document × every role
 * × a target in scope and one out of scope. A route missing from the table fails the suite, so a
 * new route cannot ship without a policy. Roles are all scoped to ward 4B, the admin included.
 *
 * Expected answers: allow (2xx), forbid (403: the caller may see the target but not do this),
 * hidden (404: the same answer as for a target that does not exist: no existence oracle).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../core/access.js';
import { TOPICS } from '../core/ports.js';
import type { GatewayService } from './gateway.js';
import { publishAlert, publishSample, startHarness, until, type Harness } from '../test/support/gateway-harness.js';

type Outcome = 'allow' | 'forbid' | 'hidden';
type RoleName = 'admin' | 'clinician' | 'nurse' | 'viewer' | 'patient';
const ROLE_NAMES: RoleName[] = ['admin', 'clinician', 'nurse', 'viewer', 'patient'];
type Scope = 'in' | 'out';

const PRINCIPALS: Record<RoleName, Principal> = {
  admin: { sub: 'admin-4b', role: 'admin', wards: ['4B'] },
  clinician: { sub: 'clin-4b', role: 'clinician', wards: ['4B'] },
  nurse: { sub: 'nurse-4b', role: 'nurse', wards: ['4B'] },
  viewer: { sub: 'viewer-4b', role: 'viewer', wards: ['4B'] },
  patient: { sub: 'pat-4b', role: 'patient', wards: [], patientId: 'P-4B-1' },
};

/** The target of each scope: a patient, their ward, an open alert, a device. */
const TARGET = {
  in: { patient: 'P-4B-1', ward: '4B', alert: 'a-4b' },
  out: { patient: 'P-5A-1', ward: '5A', alert: 'a-5a' },
} as const;

/** A stored heart-rate reading of each target patient: what an Observation read finds. */
const STORED_TS = Date.now() - 60_000;
/** Their Observation ids, as a search returns them (filled before the table runs). */
const STORED_IDS: Record<Scope, string> = { in: '', out: '' };

const staff = (r: RoleName): boolean => r !== 'patient';
const read = (r: RoleName, s: Scope): Outcome => (s === 'in' ? 'allow' : 'hidden');
const act = (r: RoleName, s: Scope): Outcome => (s === 'out' ? 'hidden' : r === 'viewer' || r === 'patient' ? 'forbid' : 'allow');
const order = (r: RoleName, s: Scope): Outcome => (s === 'out' ? 'hidden' : r === 'clinician' ? 'allow' : 'forbid');
const adminOnly = (r: RoleName): Outcome => (r === 'admin' ? 'allow' : 'forbid');
const adminOfWard = (r: RoleName, s: Scope): Outcome => (r === 'admin' && s === 'in' ? 'allow' : 'forbid');

interface Case {
  expect(role: RoleName, scope: Scope): Outcome;
  /** URL (path params and query filled) and body for a target. */
  request(scope: Scope, n: number): { url: string; body?: unknown };
}

/** The table: one row per `METHOD path` of the OpenAPI document. Public routes need no token. */
const TABLE: Record<string, Case | 'public'> = {
  'GET /api/patients': { expect: () => 'allow', request: () => ({ url: '/api/patients' }) },
  'GET /api/patients/{id}/vitals': { expect: read, request: (s) => ({ url: `/api/patients/${TARGET[s].patient}/vitals?metric=hr` }) },
  'POST /api/patients/{id}/observations': { expect: act, request: (s) => ({ url: `/api/patients/${TARGET[s].patient}/observations`, body: { hr: 70 } }) },
  'GET /api/patients/{id}/chart': { expect: read, request: (s) => ({ url: `/api/patients/${TARGET[s].patient}/chart` }) },
  'PUT /api/patients/{id}/chart': { expect: order, request: (s) => ({ url: `/api/patients/${TARGET[s].patient}/chart`, body: { spo2Scale: 2 } }) },
  'GET /api/patients/{id}/news2': { expect: read, request: (s) => ({ url: `/api/patients/${TARGET[s].patient}/news2` }) },
  // Before the erasure below, which removes what it reads.
  'GET /fhir/Observation/{id}': { expect: read, request: (s) => ({ url: `/fhir/Observation/${STORED_IDS[s]}` }) },
  'DELETE /api/patients/{id}': { expect: (r, s) => (r !== 'admin' ? 'forbid' : s === 'out' ? 'hidden' : 'allow'), request: (s) => ({ url: `/api/patients/${TARGET[s].patient}` }) },
  'GET /api/alerts': { expect: (r, s) => (staff(r) && s === 'in' ? 'allow' : 'forbid'), request: (s) => ({ url: `/api/alerts?ward=${TARGET[s].ward}` }) },
  'POST /api/alerts/{id}/ack': { expect: (r, s) => (r === 'patient' ? 'hidden' : act(r, s)), request: (s) => ({ url: `/api/alerts/${TARGET[s].alert}/ack` }) },
  'GET /api/audit': { expect: adminOnly, request: () => ({ url: '/api/audit' }) },
  'GET /api/devices': { expect: adminOnly, request: () => ({ url: '/api/devices' }) },
  'POST /api/devices': { expect: adminOfWard, request: (s, n) => ({ url: '/api/devices', body: { deviceId: `new-${s}-${n}`, patientId: TARGET[s].patient, ward: TARGET[s].ward } }) },
  'PUT /api/devices/{id}/assignment': { expect: adminOfWard, request: (s) => ({ url: `/api/devices/dev-${TARGET[s].ward}/assignment`, body: { patientId: TARGET[s].patient, ward: TARGET[s].ward } }) },
  'DELETE /api/devices/{id}': { expect: adminOfWard, request: (s, n) => ({ url: `/api/devices/del-${TARGET[s].ward}-${n}` }) },
  'GET /fhir/Observation': { expect: read, request: (s) => ({ url: `/fhir/Observation?patient=${TARGET[s].patient}` }) },
  'GET /fhir/Patient/{id}': { expect: read, request: (s) => ({ url: `/fhir/Patient/${TARGET[s].patient}` }) },
  'GET /fhir/Device/{id}': { expect: read, request: (s) => ({ url: `/fhir/Device/dev-${TARGET[s].ward}` }) },
  'GET /fhir/Device': { expect: read, request: (s) => ({ url: `/fhir/Device?patient=${TARGET[s].patient}` }) },
  'GET /fhir/metadata': 'public',
  'GET /': 'public',
  'GET /assets/{file}': 'public',
};

const statusOf = (o: Outcome): string => (o === 'allow' ? '2xx' : o === 'forbid' ? '403' : '404');
const classOf = (code: number): string => (code >= 200 && code < 300 ? '2xx' : String(code));

describe('access table: OpenAPI routes × roles × scope', () => {
  let h: Harness;
  let gw: GatewayService;
  const tokens = {} as Record<RoleName, string>;
  let n = 0;

  /** A device straight on the registry topic, seen by the gateway before the call. */
  const device = async (id: string, ward: string, patientId: string): Promise<void> => {
    const now = Date.now();
    await h.bus.publish(TOPICS.registry, [{ key: id, value: JSON.stringify({ v: 1, deviceId: id, tokenHash: 'scrypt$1$1$1$AA==$AA==', patientId, ward, bed: null, createdAt: now, updatedAt: now }) }]);
    await until(`device ${id}`, () => h.registry.get(id) !== undefined && gw.hub.state.patients.size >= 2);
  };

  beforeAll(async () => {
    h = await startHarness();
    gw = await h.gateway();
    for (const r of ROLE_NAMES) tokens[r] = await h.token(PRINCIPALS[r]);
    await publishSample(h.bus, 'P-4B-1', '4B', { hr: 80 });
    await publishSample(h.bus, 'P-5A-1', '5A', { hr: 90 });
    for (const p of [TARGET.in, TARGET.out]) {
      await h.store.insertSamples([{ v: 1, deviceId: `dev-${p.ward}`, patientId: p.patient, ward: p.ward, bed: '1', ts: STORED_TS, recvTs: STORED_TS, source: 'device', metrics: { hr: 75 }, traceId: 't' }]);
    }
    const admin = await h.token({ sub: 'admin-all', role: 'admin', wards: ['*'] });
    for (const sc of ['in', 'out'] as const) {
      const r = await gw.app.inject({ url: `/fhir/Observation?patient=${TARGET[sc].patient}&code=8867-4`, headers: { authorization: `Bearer ${admin}` } });
      STORED_IDS[sc] = (r.json() as { entry?: Array<{ resource: { id: string } }> }).entry?.[0]?.resource.id ?? 'none';
    }
    await device('dev-4B', '4B', 'P-4B-1');
    await device('dev-5A', '5A', 'P-5A-1');
    await until('live view', () => gw.hub.state.patients.size === 2);
  });
  afterAll(async () => h?.close());

  it('every route of the OpenAPI document has a row in the table, and every row a route', () => {
    const doc = gw.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(routes.filter((r) => !(r in TABLE)), 'routes without an access policy').toEqual([]);
    expect(Object.keys(TABLE).filter((r) => !routes.includes(r)), 'table rows without a route').toEqual([]);
  });

  it('every route answers each role in and out of scope as the table says', async () => {
    const mismatches: string[] = [];
    for (const [route, policy] of Object.entries(TABLE)) {
      if (policy === 'public') continue;
      const method = route.split(' ')[0] as 'GET' | 'POST' | 'PUT' | 'DELETE';
      for (const role of ROLE_NAMES) {
        for (const scope of ['in', 'out'] as const) {
          // Fresh state for the writes that consume their target.
          n++;
          if (route === 'DELETE /api/devices/{id}') await device(`del-${TARGET[scope].ward}-${n}`, TARGET[scope].ward, TARGET[scope].patient);
          if (route === 'POST /api/alerts/{id}/ack') {
            await publishAlert(h.bus, { id: TARGET[scope].alert, patientId: TARGET[scope].patient, ward: TARGET[scope].ward });
            await until('alert open', () => gw.hub.state.openAlerts.has(TARGET[scope].alert));
          }
          const { url, body } = policy.request(scope, n);
          const res = await gw.app.inject({ method, url, headers: { authorization: `Bearer ${tokens[role]}` }, ...(body !== undefined ? { payload: body as object } : {}) });
          const want = statusOf(policy.expect(role, scope));
          if (classOf(res.statusCode) !== want) mismatches.push(`${route} as ${role} (${scope} of scope): ${res.statusCode}, table says ${want}`);
          if (route === 'DELETE /api/patients/{id}' && res.statusCode === 200) await publishSample(h.bus, TARGET[scope].patient, TARGET[scope].ward, { hr: 80 });
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('hidden means indistinguishable: out of scope and unknown get the same body', async () => {
    for (const role of ROLE_NAMES) {
      const get = async (id: string) => (await gw.app.inject({ method: 'GET', url: `/api/patients/${id}/news2`, headers: { authorization: `Bearer ${tokens[role]}` } })).json();
      expect(await get('P-5A-1'), role).toEqual(await get('P-NOT-A-PATIENT'));
    }
  });
});
