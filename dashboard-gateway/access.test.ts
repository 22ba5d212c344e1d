/**
 * Every access rule with the denial it produces: REST through app.inject(), the
 * WebSocket through real `ws` clients on a listening gateway fed from the bus.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayService } from './gateway.js';
import { Client, publishAlert, publishSample, startHarness, until, type Harness } from '../test/support/gateway-harness.js';

describe('gateway access rules', () => {
  let h: Harness;
  let gw: GatewayService;
  const tok: Record<string, string> = {};
  const inject = (token: string | null, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    gw.app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload !== undefined ? { payload: payload as object } : {}) });

  beforeAll(async () => {
    h = await startHarness();
    gw = await h.gateway();
    tok.nurse4B = await h.token({ sub: 'nurse-4b', role: 'nurse', wards: ['4B'] });
    tok.nurse5A = await h.token({ sub: 'nurse-5a', role: 'nurse', wards: ['5A'] });
    tok.viewer = await h.token({ sub: 'viewer-4b', role: 'viewer', wards: ['4B'] });
    tok.clinician = await h.token({ sub: 'clin-4b', role: 'clinician', wards: ['4B'] });
    tok.admin = await h.token({ sub: 'admin', role: 'admin', wards: ['*'] });
    tok.patient = await h.token({ sub: 'pat-1', role: 'patient', wards: ['*'], patientId: 'P-4B-1' });
    tok.expired = await h.token({ sub: 'nurse-4b', role: 'nurse', wards: ['4B'] }, 60, Date.now() - 3600_000);
    // One patient in each ward, with vitals and an open alert each.
    await publishSample(h.bus, 'P-4B-1', '4B', { hr: 80, spo2: 97 });
    await publishSample(h.bus, 'P-5A-1', '5A', { hr: 90, spo2: 95 });
    await publishAlert(h.bus, { id: 'a-4b', patientId: 'P-4B-1', ward: '4B' });
    await publishAlert(h.bus, { id: 'a-5a', patientId: 'P-5A-1', ward: '5A' });
    await until('live view', () => gw.hub.state.openAlerts.size === 2 && gw.hub.state.patients.size === 2);
  });
  afterAll(async () => h?.close());

  it('nurse of 4B: 403 for 5A ward alerts; a 5A patient and alert look unknown (404); 4B allowed', async () => {
    const alerts = await inject(tok.nurse4B!, 'GET', '/api/alerts?ward=5A');
    expect(alerts.statusCode).toBe(403);
    expect(alerts.json().error.code).toBe('VTL_ERR_FORBIDDEN');
    // Out of scope and unknown answer alike: no existence oracle.
    const hist = await inject(tok.nurse4B!, 'GET', '/api/patients/P-5A-1/vitals?metric=hr');
    const unknown = await inject(tok.nurse4B!, 'GET', '/api/patients/P-NOBODY/vitals?metric=hr');
    expect(hist.statusCode).toBe(404);
    expect(hist.json()).toEqual(unknown.json());
    expect((await inject(tok.nurse4B!, 'GET', '/api/alerts?ward=4B')).statusCode).toBe(200);
    expect((await inject(tok.nurse4B!, 'GET', '/api/patients/P-4B-1/vitals?metric=hr')).statusCode).toBe(200);
    const list = (await inject(tok.nurse4B!, 'GET', '/api/patients')).json();
    expect(list.patients.map((p: { patientId: string }) => p.patientId)).toEqual(['P-4B-1']);
    // Acknowledging another ward's alert is refused too, as if it did not exist.
    const ack = await inject(tok.nurse4B!, 'POST', '/api/alerts/a-5a/ack');
    expect(ack.statusCode).toBe(404);
    expect(ack.json()).toEqual((await inject(tok.nurse4B!, 'POST', '/api/alerts/a-none/ack')).json());
  });

  it('nurse of 4B never sees a 5A alert or 5A vitals on the socket while both wards publish', async () => {
    const c4 = await Client.subscribed(gw.url, tok.nurse4B!, { wards: ['4B'], patients: ['P-5A-1'] });
    const c5 = await Client.subscribed(gw.url, tok.nurse5A!, { wards: ['5A'] });
    const snap = c4.of('snapshot')[0];
    expect(snap.patients.map((p: { patientId: string }) => p.patientId)).toEqual(['P-4B-1']);
    expect(snap.alerts.map((a: { id: string }) => a.id)).toEqual(['a-4b']);
    // 4B tries to subscribe to 5A: refused.
    c4.send({ op: 'subscribe', wards: ['5A'] });
    expect((await c4.waitFor('forbidden', (m) => m.type === 'error')).code).toBe('FORBIDDEN');
    for (let i = 0; i < 5; i++) {
      await publishSample(h.bus, 'P-4B-1', '4B', { hr: 100 + i });
      await publishSample(h.bus, 'P-5A-1', '5A', { hr: 110 + i });
      await publishAlert(h.bus, { id: `a-4b-${i}`, patientId: 'P-4B-1', ward: '4B' });
      await publishAlert(h.bus, { id: `a-5a-${i}`, patientId: 'P-5A-1', ward: '5A' });
    }
    await c5.waitFor('last 5A alert', (m) => m.type === 'alert' && m.alert.id === 'a-5a-4');
    await c4.waitFor('last 4B alert', (m) => m.type === 'alert' && m.alert.id === 'a-4b-4');
    await c5.waitFor('5A vitals', (m) => m.type === 'vitals' && m.metrics.hr === 114, 3000);
    await new Promise((r) => setTimeout(r, 400)); // past the coalescing interval
    const leaked = c4.messages.filter((m) => JSON.stringify(m).includes('5A'));
    // The 'subscribed' echo repeats what the client itself asked for; nothing else may name 5A.
    expect(leaked.filter((m) => m.type !== 'error' && m.type !== 'subscribed')).toEqual([]);
    expect(c4.of('alert').map((m) => m.alert.id)).toEqual(['a-4b-0', 'a-4b-1', 'a-4b-2', 'a-4b-3', 'a-4b-4']);
    expect(c4.of('vitals').length).toBeGreaterThan(0);
    expect(c5.of('alert').every((m) => m.alert.ward === '5A')).toBe(true);
    c4.close();
    c5.close();
  });

  it('viewer cannot acknowledge (REST and socket) nor post observations', async () => {
    const ack = await inject(tok.viewer!, 'POST', '/api/alerts/a-4b/ack');
    expect(ack.statusCode).toBe(403);
    expect(ack.json().error.code).toBe('VTL_ERR_FORBIDDEN');
    const obs = await inject(tok.viewer!, 'POST', '/api/patients/P-4B-1/observations', { hr: 70 });
    expect(obs.statusCode).toBe(403);
    const c = await Client.subscribed(gw.url, tok.viewer!, { wards: ['4B'] });
    c.send({ op: 'ack', alertId: 'a-4b' });
    expect((await c.waitFor('forbidden', (m) => m.type === 'error')).code).toBe('FORBIDDEN');
    c.close();
    // The nurse of the ward may.
    expect((await inject(tok.nurse4B!, 'POST', '/api/patients/P-4B-1/observations', { hr: 70 })).statusCode).toBe(202);
  });

  it('non-admins cannot use the devices API', async () => {
    for (const who of ['nurse4B', 'viewer', 'clinician', 'patient']) {
      const list = await inject(tok[who]!, 'GET', '/api/devices');
      expect(list.statusCode, who).toBe(403);
      const create = await inject(tok[who]!, 'POST', '/api/devices', { deviceId: 'wb-x' });
      expect(create.statusCode, who).toBe(403);
      expect((await inject(tok[who]!, 'DELETE', '/api/devices/wb-x')).statusCode, who).toBe(403);
    }
    expect((await inject(tok.admin!, 'GET', '/api/devices')).statusCode).toBe(200);
  });

  it('the patient role sees only itself: own vitals and chart, never alerts or anyone else', async () => {
    expect((await inject(tok.patient!, 'GET', '/api/patients/P-4B-1/vitals?metric=hr')).statusCode).toBe(200);
    expect((await inject(tok.patient!, 'GET', '/api/patients/P-4B-1/chart')).statusCode).toBe(200);
    expect((await inject(tok.patient!, 'GET', '/api/patients/P-5A-1/vitals?metric=hr')).statusCode).toBe(404);
    expect((await inject(tok.patient!, 'GET', '/api/alerts')).statusCode).toBe(403);
    expect((await inject(tok.patient!, 'GET', '/api/alerts?ward=4B')).statusCode).toBe(403);
    expect((await inject(tok.patient!, 'POST', '/api/alerts/a-4b/ack')).statusCode).toBe(404);
    expect((await inject(tok.patient!, 'POST', '/api/patients/P-4B-1/observations', { hr: 70 })).statusCode).toBe(403);
    expect((await inject(tok.patient!, 'PUT', '/api/patients/P-4B-1/chart', { spo2Scale: 2 })).statusCode).toBe(403);
    const list = (await inject(tok.patient!, 'GET', '/api/patients')).json();
    expect(list.patients.map((p: { patientId: string }) => p.patientId)).toEqual(['P-4B-1']);

    const c = await Client.open(gw.url, tok.patient!);
    expect((await c.waitFor('ready', (m) => m.type === 'ready')).patientId).toBe('P-4B-1');
    c.send({ op: 'subscribe', wards: ['4B'] });
    expect((await c.waitFor('ward refused', (m) => m.type === 'error')).code).toBe('FORBIDDEN');
    c.send({ op: 'subscribe', patients: ['P-5A-1'] });
    await until('two refusals', () => c.of('error').length === 2);
    c.send({ op: 'subscribe', patients: ['P-4B-1'] });
    const snap = await c.waitFor('snapshot', (m) => m.type === 'snapshot');
    expect(snap.patients.map((p: { patientId: string }) => p.patientId)).toEqual(['P-4B-1']);
    expect(snap.alerts).toEqual([]);
    c.send({ op: 'resume', since: 0 });
    await c.waitFor('resumed', (m) => m.type === 'resumed');
    await publishSample(h.bus, 'P-4B-1', '4B', { hr: 77 });
    await publishSample(h.bus, 'P-5A-1', '5A', { hr: 78 });
    await publishAlert(h.bus, { id: 'a-4b-p', patientId: 'P-4B-1', ward: '4B' });
    await c.waitFor('own vitals', (m) => m.type === 'vitals' && m.metrics.hr === 77);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.of('alert')).toEqual([]);
    expect(c.messages.filter((m) => JSON.stringify(m).includes('P-5A-1') && m.type !== 'error')).toEqual([]);
    c.close();
  });

  it('expired token: 401 with its code on REST; UNAUTHORIZED and close 4401 on the socket (header and first message)', async () => {
    const r = await inject(tok.expired!, 'GET', '/api/patients');
    expect(r.statusCode).toBe(401);
    expect(r.json().error).toEqual({ code: 'VTL_ERR_UNAUTHORIZED', message: 'Missing, invalid or expired credentials: token expired' });
    expect((await inject(null, 'GET', '/api/patients')).json().error.code).toBe('VTL_ERR_UNAUTHORIZED');
    expect((await inject('garbage', 'GET', '/fhir/Observation?patient=P-4B-1')).statusCode).toBe(401);

    const c = await Client.open(gw.url, tok.expired!);
    const closed = await c.waitClosed();
    expect(closed.code).toBe(4401);
    expect(c.of('error')[0]).toMatchObject({ code: 'UNAUTHORIZED', message: 'token expired' });

    const b = await Client.open(gw.url, null);
    b.send({ op: 'auth', token: tok.expired });
    expect((await b.waitClosed()).code).toBe(4401);
    expect(b.of('error')[0].code).toBe('UNAUTHORIZED');
    // Anything but auth before auth is refused without closing.
    const d = await Client.open(gw.url, null);
    d.send({ op: 'subscribe', wards: ['4B'] });
    expect((await d.waitFor('unauth', (m) => m.type === 'error')).code).toBe('UNAUTHORIZED');
    d.close();
  });

  it('denials are audited; no patient identifier reaches the logs', async () => {
    const audit: Array<{ action: string; outcome: string; userId: string }> = [];
    const sub = await h.bus.tail({ topics: ['audit'], from: 'earliest', handler: async (rs) => void rs.forEach((r) => audit.push(JSON.parse(r.value!))) });
    await sub.caughtUp;
    await sub.stop();
    expect(audit.some((a) => a.userId === 'nurse-4b' && a.outcome === 'denied' && a.action === 'alert.list')).toBe(true);
    expect(audit.some((a) => a.userId === 'pat-1' && a.outcome === 'denied')).toBe(true);
    const logs = h.logLines.join('');
    expect(logs).not.toContain('P-4B-1');
    expect(logs).not.toContain('P-5A-1');
  });
});
