/**
 * Bedside monitors over HL7 v2 in one process on embedded adapters: a gateway and its monitor
 * are registered through the device API, PCD-01 messages go over a real MLLP socket, and the
 * values reach the ward WebSocket, the alert lifecycle and the history API. The same
 * deterioration sent over MQTT for a twin patient must raise the same clinical alerts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { runTarget, type Running } from '../../cli/runtime.js';
import type { GatewayService } from '../../dashboard-gateway/gateway.js';
import { MllpClient, ackCodeOf } from '../../device-sim/mllp-client.js';
import { buildPcd01, observationsOf } from '../../device-sim/pcd01-message.js';
import type { IngestService } from '../../ingest/ingest.js';
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/log.js';
import { WsClient, connectDevice, http, tempDir, tokenFor, waitFor } from './helpers.js';

describe('embedded: bedside monitor over HL7 to dashboard, alerts and history', () => {
  let running: Running;
  let dataDir: string;
  let api: string;
  let ingest: IngestService;
  let httpPort: number;

  beforeAll(async () => {
    dataDir = await tempDir('e2e-hl7');
    const cfg = loadConfig({ VITALS_DATA_DIR: dataDir, VITALS_MQTT_PORT: '0', VITALS_HTTP_PORT: '0', VITALS_HL7_PORT: '0', VITALS_SIM_PATIENTS: '0' });
    if (!cfg.ok) throw new Error(cfg.errors.join('; '));
    running = await runTarget('all', cfg.config, createLogger({ level: 'silent' }));
    ingest = running.services.get('ingest') as IngestService;
    httpPort = (running.services.get('gateway') as GatewayService).port;
    api = `http://127.0.0.1:${httpPort}`;
  });

  afterAll(async () => {
    await running?.stop();
  });

  it('registers a gateway and its monitor, and a PCD-01 deterioration alerts exactly as the same values over MQTT', async () => {
    const admin = await tokenFor(dataDir, 'admin', ['*']);
    const nurse = await tokenFor(dataDir, 'nurse', ['4B']);
    const gw = await http(api, admin, 'POST', '/api/devices', { deviceId: 'gw-e2e', kind: 'hl7-gateway', allowFrom: ['127.0.0.1'] });
    expect(gw.status).toBe(201);
    // The registry view catches up through the bus: retry until it knows the gateway.
    const mon = await waitFor('monitor registered', async () => {
      const r = await http(api, admin, 'POST', '/api/devices', { deviceId: 'MON-E2E-1', kind: 'hl7-monitor', gatewayId: 'gw-e2e', patientId: 'MRN-HL7-E2E', ward: '4B', bed: '7' });
      return r.status === 201 ? r : null;
    });
    expect(mon.status).toBe(201);
    const listed = await http(api, admin, 'GET', '/api/devices');
    expect(listed.json.devices).toContainEqual(expect.objectContaining({ deviceId: 'MON-E2E-1', kind: 'hl7-monitor', gatewayId: 'gw-e2e', patientId: 'MRN-HL7-E2E' }));
    // Fields on the wrong kind, or a monitor of no gateway, are refused; a gateway takes no patient.
    for (const body of [
      { deviceId: 'MON-E2E-X', kind: 'hl7-monitor', gatewayId: 'no-such-gw', patientId: 'P', ward: '4B' },
      { deviceId: 'MON-E2E-Y', kind: 'hl7-monitor', patientId: 'P', ward: '4B' },
      { deviceId: 'wb-e2e-z', gatewayId: 'gw-e2e' },
      { deviceId: 'wb-e2e-z', allowFrom: ['127.0.0.1'] },
      { deviceId: 'gw-e2e-2', kind: 'hl7-gateway', allowFrom: ['not-an-address'] },
      { deviceId: 'gw-e2e-3', kind: 'hl7-gateway', patientId: 'P', ward: '4B' },
    ]) expect((await http(api, admin, 'POST', '/api/devices', body)).status, JSON.stringify(body)).toBe(400);
    expect((await http(api, admin, 'PUT', '/api/devices/gw-e2e/assignment', { patientId: 'P', ward: '4B' })).status).toBe(400);
    const twin = await http(api, admin, 'POST', '/api/devices', { deviceId: 'wb-twin', patientId: 'MRN-MQTT-TWIN', ward: '4B', bed: '8' });
    expect(twin.status).toBe(201);

    const ws = await WsClient.open(httpPort, nurse);
    await ws.waitFor('ready', (m) => m.type === 'ready');
    ws.send({ op: 'subscribe', wards: ['4B'] });
    await ws.waitFor('snapshot', (m) => m.type === 'snapshot');

    // Three minutes of an emergency-level NEWS2 (SpO2 84 on air, RR 26, HR 125, T 38.6, SBP 95), one point every 5 s.
    const end = Math.floor(Date.now() / 1000) * 1000;
    const points = Array.from({ length: 37 }, (_, i) => ({ ts: end - (36 - i) * 5000, hr: 125, spo2: 84, rr: 26, temp: 38.6, sbp: 95 }));

    const gateway = await waitFor('mllp connect', () => MllpClient.connect({ host: '127.0.0.1', port: ingest.hl7Port as number }).catch(() => null));
    for (const [i, p] of points.entries()) {
      const { ts, ...metrics } = p;
      const text = buildPcd01({ controlId: `E2E-${i}`, gateway: { name: 'GW-E2E', eui64: 'gw-e2e' }, facility: '4B', time: ts, patientIds: ['MRN-HL7-E2E'], monitors: [{ eui64: 'MON-E2E-1', observations: observationsOf(metrics) }] });
      expect(ackCodeOf(await gateway.send(text))).toMatchObject({ code: 'AA', controlId: `E2E-${i}` });
    }
    const device: MqttClient = await waitFor('device connect', async () => {
      const token = twin.json.token as string;
      return connectDevice(ingest.port, 'wb-twin', token).catch(() => null);
    });
    await device.publishAsync('devices/wb-twin/vitals', JSON.stringify({ samples: points }), { qos: 1 });

    const vit = await ws.waitFor('HL7 vitals on the socket', (m) => m.type === 'vitals' && m.patientId === 'MRN-HL7-E2E' && m.ts === end);
    expect(vit).toMatchObject({ ward: '4B', metrics: { hr: 125, spo2: 84, rr: 26, temp: 38.6, sbp: 95 } });

    const hist = await waitFor('history', async () => {
      const r = await http(api, nurse, 'GET', `/api/patients/MRN-HL7-E2E/vitals?metric=spo2&from=${end - 200_000}&to=${end + 1000}&step=raw`);
      return r.status === 200 && r.json.points.length === points.length ? r : null;
    });
    expect(hist.json.points).toContainEqual({ ts: end, value: 84 });

    // Same clinical alerts, same rules, priorities, opening times and values, whichever protocol carried them.
    const clinical = (pid: string): string[] =>
      ws.messages
        .filter((m) => m.type === 'alert' && m.alert.patientId === pid && m.alert.kind === 'clinical')
        .map((m) => `${m.event} ${m.alert.ruleId} ${m.alert.priority} ${m.alert.openedAt} ${m.alert.value ?? ''}`)
        .sort();
    await ws.waitFor('HL7 alert', (m) => m.type === 'alert' && m.alert.patientId === 'MRN-HL7-E2E');
    await waitFor('same alerts for both patients', () => {
      const a = clinical('MRN-HL7-E2E');
      const b = clinical('MRN-MQTT-TWIN');
      return a.length > 0 && a.join('\n') === b.join('\n');
    }, 20_000);
    // Settled: no late alert on either side changes the comparison.
    await new Promise((r) => setTimeout(r, 1500));
    expect(clinical('MRN-HL7-E2E')).toEqual(clinical('MRN-MQTT-TWIN'));
    console.log(`alerts over HL7 and over MQTT:\n${clinical('MRN-HL7-E2E').join('\n')}`);
    expect(clinical('MRN-HL7-E2E').some((l) => l.startsWith('raised'))).toBe(true);

    await gateway.close();
    await device.endAsync();
    ws.close();
  });
});
