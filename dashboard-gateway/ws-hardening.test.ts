/**
 * The dashboard socket under misuse, with real `ws` clients on a listening gateway: a resume
 * from beyond the log, a socket that never reads while asking for snapshots, sessions past their
 * token's exp, and the WebSocket ack audited like REST. Plus strict REST observations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '../core/ports.js';
import type { GatewayService } from './gateway.js';
import { Client, publishAlert, publishSample, startHarness, until, type Harness } from '../test/support/gateway-harness.js';

const socketOf = (c: Client): { pause(): void; resume(): void } => (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;

describe('dashboard WebSocket hardening', () => {
  let h: Harness;
  let gw: GatewayService;
  let nurse: string;
  beforeAll(async () => {
    h = await startHarness();
    gw = await h.gateway();
    nurse = await h.token({ sub: 'n-hard', role: 'nurse', wards: ['4B'] });
  });
  afterAll(async () => h?.close());

  it('a resume from beyond the log (the log was reset) gets a fresh snapshot, and later alerts still arrive', async () => {
    await publishAlert(h.bus, { id: 'rs-1', patientId: 'P-RS', ward: '4B' });
    await until('alert in view', () => gw.hub.state.openAlerts.has('rs-1'));
    const c = await Client.subscribed(gw.url, nurse, { wards: ['4B'] });
    const latest = gw.hub.state.latestSeq();
    c.send({ op: 'resume', since: latest + 1000 });
    const resumed = await c.waitFor('resumed', (m) => m.type === 'resumed');
    expect(resumed.seq).toBe(latest);
    expect(c.of('resync')).toHaveLength(1);
    expect(c.of('snapshot').length).toBe(2);
    await publishAlert(h.bus, { id: 'rs-2', patientId: 'P-RS', ward: '4B' });
    await c.waitFor('the next alert', (m) => m.type === 'alert' && m.alert.id === 'rs-2');
    c.close();
  });

  it('snapshots honour the slow-client limit, and ops are rate limited per socket', async () => {
    const slow = await h.gateway({}, { ws: { hardLimit: 256 * 1024, opsPerSec: 1000 } });
    for (let i = 0; i < 200; i++) await publishSample(h.bus, `P-SNAP-${i}`, '4B', { hr: 70, spo2: 97, rr: 16, temp: 37, sbp: 120, dbp: 80 });
    await until('patients in view', () => slow.hub.state.patients.size >= 200);
    const c = await Client.subscribed(slow.url, nurse, { wards: ['4B'] });
    socketOf(c).pause();
    const rss0 = process.memoryUsage().rss;
    for (let i = 0; i < 2000; i++) c.send({ op: 'subscribe', wards: ['4B'] });
    // The server stops sending at the hard limit; reading again, the client finds the close frame.
    await new Promise((r) => setTimeout(r, 1500));
    const grown = process.memoryUsage().rss - rss0;
    socketOf(c).resume();
    const closed = await c.waitClosed();
    expect(closed.code).toBe(4008);
    expect(c.of('snapshot').length).toBeLessThan(2000);
    console.log(`ws snapshot flood: ${c.of('snapshot').length} snapshots of 2000 sent before the close; rss +${Math.round(grown / 1048576)} MB (client and server in one process)`);

    const limited = await h.gateway({}, { ws: { opsPerSec: 2 } });
    const d = await Client.subscribed(limited.url, nurse, { wards: ['4B'] });
    for (let i = 0; i < 100; i++) d.send({ op: 'subscribe', wards: ['4B'] });
    await d.waitFor('rate limited', (m) => m.type === 'error' && m.code === 'RATE_LIMITED');
    expect(d.of('snapshot').length).toBeLessThanOrEqual(9);
    expect((await d.waitClosed()).code).toBe(4029);
  });

  it('a session ends when its token does: closed at exp, and an auth op with a fresh token renews it', async () => {
    const short = await h.token({ sub: 'n-short', role: 'nurse', wards: ['4B'] }, 2);
    const c = await Client.subscribed(gw.url, short, { wards: ['4B'] });
    const renewed = await Client.subscribed(gw.url, short, { wards: ['4B'] });
    renewed.send({ op: 'auth', token: await h.token({ sub: 'n-short', role: 'nurse', wards: ['4B'] }, 60) });
    const closed = await c.waitClosed(5000);
    expect(closed.code).toBe(4401);
    expect(c.of('error').some((m) => m.code === 'UNAUTHORIZED')).toBe(true);
    expect(renewed.closed).toBeNull();
    renewed.close();
  });

  it('an acknowledgement over the socket is audited with the client address, like REST', async () => {
    await publishAlert(h.bus, { id: 'ws-ack-1', patientId: 'P-ACK', ward: '4B' });
    await until('alert open', () => gw.hub.state.openAlerts.has('ws-ack-1'));
    const c = await Client.subscribed(gw.url, nurse, { wards: ['4B'] });
    c.send({ op: 'ack', alertId: 'ws-ack-1' });
    const audited: any[] = [];
    const sub = await h.bus.tail({ topics: [TOPICS.audit], from: 'earliest', handler: async (rs) => void audited.push(...rs.map((r) => JSON.parse(r.value ?? 'null'))) });
    const ev = await until('ack audited', () => audited.find((a) => a.action === 'alert.ack' && a.resource === 'alert:ws-ack-1'));
    expect(ev).toMatchObject({ userId: 'n-hard', patientId: 'P-ACK', outcome: 'ok', address: '127.0.0.1' });
    await sub.stop();
    c.close();
  });

  it('REST observations are validated like MQTT payloads: no coercion of "70" or [70], no impossible pairs', async () => {
    const admin = await h.token({ sub: 'obs-nurse', role: 'nurse', wards: ['4B'] });
    await publishSample(h.bus, 'P-OBS', '4B', { hr: 70 });
    await until('patient in view', () => gw.hub.state.patients.has('P-OBS'));
    const post = (body: unknown) => gw.app.inject({ method: 'POST', url: '/api/patients/P-OBS/observations', headers: { authorization: `Bearer ${admin}` }, payload: body as object });
    for (const body of [{ hr: '70' }, { hr: [70] }, { sbp: 40, dbp: 200 }, { hr: 70, battery: 0.5 }, { hr: 70, note: 'x' }, {}]) {
      const r = await post(body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(r.json())).not.toContain('70');
    }
    expect((await post({ hr: 70, units: { temp: 'degF' }, temp: 98.6 })).statusCode).toBe(202);
  });

  it('FHIR links use the configured public URL, never the Host header', async () => {
    await publishSample(h.bus, 'P-FHIR', '4B', { hr: 70 });
    await until('patient in view', () => gw.hub.state.patients.has('P-FHIR'));
    const evil = { host: 'evil.example', 'x-forwarded-host': 'evil.example' };
    const meta = await gw.app.inject({ url: '/fhir/metadata', headers: evil });
    const search = await gw.app.inject({ url: '/fhir/Observation?patient=P-FHIR', headers: { ...evil, authorization: `Bearer ${nurse}` } });
    expect(search.statusCode).toBe(200);
    for (const body of [meta.body, search.body]) expect(body).not.toContain('evil.example');
    const configured = await h.gateway({ VITALS_PUBLIC_URL: 'https://vitals.hospital.example/' });
    await until('patient in view', () => configured.hub.state.patients.has('P-FHIR'));
    const links = (await configured.app.inject({ url: '/fhir/Observation?patient=P-FHIR', headers: { ...evil, authorization: `Bearer ${nurse}` } })).json();
    expect(links.link[0].url).toMatch(/^https:\/\/vitals\.hospital\.example\/fhir\/Observation\?/);
    expect((await configured.app.inject({ url: '/fhir/metadata', headers: evil })).body).toContain('https://vitals.hospital.example/fhir');
  });

  it('a manual observation at the same metric and millisecond as a device sample is refused with 409, not dropped after a 202', async () => {
    const tok = await h.token({ sub: 'dup-nurse', role: 'nurse', wards: ['4B'] });
    const t = Date.now() - 60_000;
    const live = await publishSample(h.bus, 'P-DUP', '4B', { hr: 80 }, t);
    await until('patient in view', () => gw.hub.state.patients.get('P-DUP')?.latest.hr?.ts === t);
    // An older device sample that only the store still has (the live view moved on).
    await h.store.insertSamples([{ ...live, ts: t - 5000, traceId: 'dup-old' }]);
    const post = (body: unknown) => gw.app.inject({ method: 'POST', url: '/api/patients/P-DUP/observations', headers: { authorization: `Bearer ${tok}` }, payload: body as object });
    expect((await post({ ts: t, hr: 81 })).statusCode).toBe(409);
    expect((await post({ ts: t - 5000, hr: 81 })).statusCode).toBe(409);
    expect((await post({ ts: t, rr: 18 })).statusCode).toBe(202);
    expect((await post({ ts: t + 1, hr: 81 })).statusCode).toBe(202);
  });
});
