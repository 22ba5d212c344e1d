/**
 * Acknowledgement round trip in one process with every role (runTarget('all') on the
 * embedded bus, as test/e2e/embedded.e2e.test.ts): samples raise alerts in the rules
 * engine; an ack over the socket and one over REST travel on alert.actions to the engine,
 * whose `acknowledged` events reach every subscribed dashboard. Chart orders share the
 * actions topic: the engine ignores them and the gateway serves them back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTarget, type Running } from '../cli/runtime.js';
import { TOPICS } from '../core/ports.js';
import { loadConfig } from '../platform/config.js';
import { loadSigningKey, signToken } from '../platform/jwt.js';
import { createLogger } from '../platform/log.js';
import type { GatewayService } from './gateway.js';
import { Client, until } from '../test/support/gateway-harness.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

describe('ack and chart orders through the rules engine', () => {
  let running: Running;
  let dataDir: string;
  let gw: GatewayService;
  const tok: Record<string, string> = {};

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vitals-ack-'));
    const cfg = loadConfig({ VITALS_DATA_DIR: dataDir, VITALS_MQTT_PORT: '0', VITALS_HTTP_PORT: '0', VITALS_SIM_PATIENTS: '0' });
    if (!cfg.ok) throw new Error(cfg.errors.join('; '));
    running = await runTarget('all', cfg.config, createLogger({ level: 'warn', destination: { write: () => undefined } }));
    gw = running.services.get('gateway') as GatewayService;
    const key = await loadSigningKey(dataDir);
    tok.nurse = await signToken(key, { sub: 'nurse-1', role: 'nurse', wards: ['4B'] }, 600);
    tok.viewer = await signToken(key, { sub: 'viewer-1', role: 'viewer', wards: ['4B'] }, 600);
    tok.clinician = await signToken(key, { sub: 'dr-1', role: 'clinician', wards: ['4B'] }, 600);
  });
  afterAll(async () => {
    await running?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Three minutes of emergency-level vitals (NEWS2 >= 7), as the embedded e2e sends them. */
  const deteriorate = async (patientId: string): Promise<void> => {
    const ts = Date.now();
    const records = Array.from({ length: 37 }, (_, i) => {
      const t = ts - (36 - i) * 5000;
      const s = { v: 1, deviceId: `wb-${patientId}`, patientId, ward: '4B', bed: '1', ts: t, recvTs: t, source: 'device', metrics: { hr: 125, spo2: 84, rr: 26, temp: 38.6, sbp: 95 }, traceId: `${patientId}-${i}` };
      return { key: patientId, value: JSON.stringify(s), timestamp: t };
    });
    await running.ctx!.bus.publish(TOPICS.samples, records);
  };

  it('an ack over the socket and one over REST reach the engine; every subscribed dashboard sees acknowledged', async () => {
    const a = await Client.subscribed(gw.url, tok.nurse!, { wards: ['4B'] });
    const b = await Client.subscribed(gw.url, tok.viewer!, { wards: ['4B'] });
    await deteriorate('P-ACK-1');
    await deteriorate('P-ACK-2');
    const raised1 = await a.waitFor('alert for P-ACK-1', (m) => m.type === 'alert' && m.event === 'raised' && m.alert.patientId === 'P-ACK-1', 20_000);
    const raised2 = await a.waitFor('alert for P-ACK-2', (m) => m.type === 'alert' && m.event === 'raised' && m.alert.patientId === 'P-ACK-2', 20_000);

    a.send({ op: 'ack', alertId: raised1.alert.id });
    for (const c of [a, b]) {
      const ev = await c.waitFor('acknowledged (socket ack)', (m) => m.type === 'alert' && m.event === 'acknowledged' && m.alert.id === raised1.alert.id, 20_000);
      expect(ev.alert).toMatchObject({ state: 'acknowledged', ackBy: 'nurse-1' });
      expect(ev.seq).toBeGreaterThan(raised1.seq);
    }
    const rest = await gw.app.inject({ method: 'POST', url: `/api/alerts/${raised2.alert.id}/ack`, headers: { authorization: `Bearer ${tok.nurse}` } });
    expect(rest.statusCode).toBe(202);
    for (const c of [a, b]) await c.waitFor('acknowledged (REST ack)', (m) => m.type === 'alert' && m.event === 'acknowledged' && m.alert.id === raised2.alert.id, 20_000);
    // Both dashboards saw the same events with the same seq numbers, in the same order.
    const line = (c: Client) => c.of('alert').map((m) => `${m.seq}:${m.event}:${m.alert.id}`);
    expect(line(b)).toEqual(line(a));
    a.close();
    b.close();
  });

  it('chart orders: clinicians only, served back with who/when/until, and the engine keeps running', async () => {
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const until1 = Date.now() + 3600_000;
    expect((await gw.app.inject({ method: 'PUT', url: '/api/patients/P-ACK-1/chart', headers: auth(tok.nurse!), payload: { spo2Scale: 2 } })).statusCode).toBe(403);
    const put = await gw.app.inject({ method: 'PUT', url: '/api/patients/P-ACK-1/chart', headers: auth(tok.clinician!), payload: { spo2Scale: 2, until: until1 } });
    expect(put.statusCode).toBe(202);
    expect(put.json().order).toMatchObject({ action: 'chart', spo2Scale: 2, orderedBy: 'dr-1', role: 'clinician', until: until1 });
    const view = await until('order in the view', async () => {
      const r = (await gw.app.inject({ url: '/api/patients/P-ACK-1/chart', headers: auth(tok.viewer!) })).json();
      return r.spo2Scale === 2 ? r : null;
    });
    expect(view).toMatchObject({ patientId: 'P-ACK-1', active: true, appliedByRules: true, order: { orderedBy: 'dr-1', until: until1 } });
    expect(typeof view.order.ts).toBe('number');
    // Past orders are refused; the rules role is still ready after reading the chart action.
    expect((await gw.app.inject({ method: 'PUT', url: '/api/patients/P-ACK-1/chart', headers: auth(tok.clinician!), payload: { spo2Scale: 1, until: 1 } })).statusCode).toBe(400);
    expect(await running.services.get('rules')!.ready!()).toEqual({ ok: true });
    const list = (await gw.app.inject({ url: '/api/patients', headers: auth(tok.viewer!) })).json();
    expect(list.patients.find((p: { patientId: string }) => p.patientId === 'P-ACK-1').chart.spo2Scale).toBe(2);
  });
});
