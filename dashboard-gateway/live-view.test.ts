/**
 * What a (re)connecting dashboard is told, over a real socket on the embedded bus: an
 * alert's escalation state in the snapshot, and a battery level that came inside samples
 * (not only on the device status topic), live and in the snapshot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '../core/ports.js';
import type { CanonicalSample } from '../core/vitals.js';
import type { GatewayService } from './gateway.js';
import { Client, publishAlert, startHarness, until, type Harness } from '../test/support/gateway-harness.js';

describe('dashboard live view', () => {
  let h: Harness;
  let gw: GatewayService;
  let nurse: string;
  beforeAll(async () => {
    h = await startHarness();
    gw = await h.gateway();
    nurse = await h.token({ sub: 'n1', role: 'nurse', wards: ['4B'] });
  });
  afterAll(async () => h?.close());

  it('a snapshot says which open alerts were escalated, and when each last changed', async () => {
    const t = Date.now() - 60_000;
    await publishAlert(h.bus, { id: 'esc-1', patientId: 'P-E1', ward: '4B', priority: 'medium' }, 'raised', t);
    await publishAlert(h.bus, { id: 'esc-1', patientId: 'P-E1', ward: '4B', priority: 'high', openedAt: t }, 'escalated', t + 30_000);
    await publishAlert(h.bus, { id: 'calm-1', patientId: 'P-E2', ward: '4B', priority: 'low' }, 'raised', t + 1000);
    await until('alerts in the live view', () => gw.hub.state.openAlerts.size >= 2 && gw.hub.state.openAlerts.get('esc-1')?.priority === 'high');
    const c = await Client.subscribed(gw.url, nurse, { wards: ['4B'] });
    const snap = c.of('snapshot')[0];
    const byId = Object.fromEntries(snap.alerts.map((a: { id: string }) => [a.id, a]));
    expect(byId['esc-1']).toMatchObject({ priority: 'high', escalated: true, changedAt: t + 30_000 });
    expect(byId['calm-1']).toMatchObject({ escalated: false, changedAt: t + 1000 });
    c.close();
    // Acknowledging keeps it marked escalated (as the page does); resolving forgets it.
    await publishAlert(h.bus, { id: 'esc-1', patientId: 'P-E1', ward: '4B', priority: 'high', openedAt: t, ackBy: 'n1', ackAt: t + 40_000 }, 'acknowledged', t + 40_000);
    await until('ack applied', () => gw.hub.state.openAlerts.get('esc-1')?.state === 'acknowledged');
    const c2 = await Client.subscribed(gw.url, nurse, { wards: ['4B'] });
    expect(c2.of('snapshot')[0].alerts.find((a: { id: string }) => a.id === 'esc-1')).toMatchObject({ state: 'acknowledged', escalated: true, changedAt: t + 40_000 });
    c2.close();
  });

  it('a battery level sent inside samples reaches the tiles live and in the snapshot; older samples do not override it', async () => {
    const c = await Client.subscribed(gw.url, nurse, { wards: ['4B'] });
    const t = Date.now();
    const sample = (ts: number, battery: number | undefined): CanonicalSample => ({
      v: 1,
      deviceId: 'wb-batt',
      patientId: 'P-B1',
      ward: '4B',
      bed: '3',
      ts,
      recvTs: ts,
      source: 'device',
      metrics: { hr: 80 },
      ...(battery === undefined ? {} : { battery }),
      traceId: `t${ts}`,
    });
    const pub = (s: CanonicalSample) => h.bus.publish(TOPICS.samples, [{ key: 'P-B1', value: JSON.stringify(s), timestamp: s.ts }]);
    await pub(sample(t, 0.42));
    const dev = await c.waitFor('device update from the sample', (m) => m.type === 'device' && m.patientId === 'P-B1');
    expect(dev).toMatchObject({ deviceId: 'wb-batt', ward: '4B', online: true, battery: 0.42 });
    // A sample without battery, and a late (backfilled) one with an older level, change nothing.
    await pub(sample(t + 1000, undefined));
    await pub(sample(t - 5000, 0.9));
    await pub(sample(t + 2000, 0.15));
    await c.waitFor('lower battery', (m) => m.type === 'device' && m.patientId === 'P-B1' && m.battery === 0.15);
    expect(c.of('device').filter((m) => m.patientId === 'P-B1').map((m) => m.battery)).toEqual([0.42, 0.15]);
    c.close();
    const c2 = await Client.subscribed(gw.url, nurse, { wards: ['4B'] });
    expect(c2.of('snapshot')[0].patients.find((p: { patientId: string }) => p.patientId === 'P-B1').device).toMatchObject({ online: true, battery: 0.15 });
    c2.close();
  });
});
