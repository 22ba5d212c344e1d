/**
 * Live before backlog (issue 11 item 4), in one embedded process: while a ward gateway uploads
 * hours of backfill as QoS 1 batches, live deteriorations still reach the dashboard WebSocket
 * promptly and /readyz keeps answering. The backfill travels on vitals.backlog and is held by flow
 * control first, so it never queues ahead of live samples.
 *
 * Figures are printed (E2E_FIGURES=1); the assertions are loose bounds for a shared 2-core
 * machine. BENCHMARKS.md carries the measured values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { runTarget, type Running } from '../../cli/runtime.js';
import type { GatewayService } from '../../dashboard-gateway/gateway.js';
import type { IngestService } from '../../ingest/ingest.js';
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/log.js';
import { WsClient, connectDevice, http, tempDir, tokenFor, waitFor } from './helpers.js';

const BACKLOG_MESSAGES = 120;
const BATCH = 500;
const PROBES = 3;

describe('embedded: a live deterioration alerts while a gateway uploads hours of backlog', () => {
  let running: Running;
  let dataDir: string;
  let api: string;
  let mqttPort: number;
  let httpPort: number;

  beforeAll(async () => {
    dataDir = await tempDir('e2e-backlog');
    const cfg = loadConfig({ VITALS_DATA_DIR: dataDir, VITALS_MQTT_PORT: '0', VITALS_HTTP_PORT: '0', VITALS_SIM_PATIENTS: '0', VITALS_DEVICE_RATE: '1000' });
    if (!cfg.ok) throw new Error(cfg.errors.join('; '));
    running = await runTarget('all', cfg.config, createLogger({ level: 'warn' }));
    mqttPort = (running.services.get('ingest') as IngestService).port;
    httpPort = (running.services.get('gateway') as GatewayService).port;
    api = `http://127.0.0.1:${httpPort}`;
  });

  afterAll(async () => {
    await running?.stop();
  });

  it('alerts on time and /readyz answers within 1 s throughout', async () => {
    const admin = await tokenFor(dataDir, 'admin', ['*']);
    const nurse = await tokenFor(dataDir, 'nurse', ['4B']);
    const device = async (id: string, patientId: string): Promise<MqttClient> => {
      const created = await http(api, admin, 'POST', '/api/devices', { deviceId: id, patientId, ward: '4B', bed: id });
      expect(created.status).toBe(201);
      return waitFor(`${id} connect`, () => connectDevice(mqttPort, id, created.json.token).catch(() => null));
    };
    const gateway = await device('bl-gw', 'MRN-BL-GW');
    const probes = await Promise.all(Array.from({ length: PROBES }, (_, i) => device(`bl-live-${i}`, `MRN-BL-LIVE-${i}`)));
    const ws = await WsClient.open(httpPort, nurse);
    await ws.waitFor('ready', (m) => m.type === 'ready');
    ws.send({ op: 'subscribe', wards: ['4B'] });
    await ws.waitFor('snapshot', (m) => m.type === 'snapshot');

    // /readyz probed every 100 ms for the whole test.
    // /healthz (event loop only) beside /readyz (which also queries the store): tells a busy loop from a busy store.
    const readyMs: number[] = [];
    const healthMs: number[] = [];
    let probing = true;
    const timed = async (p: string, into: number[]): Promise<void> => {
      const t0 = performance.now();
      const r = await fetch(`${api}${p}`);
      await r.arrayBuffer();
      into.push(performance.now() - t0);
    };
    const readyLoop = (async () => {
      while (probing) {
        await Promise.all([timed('/readyz', readyMs), timed('/healthz', healthMs)]);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();

    // The backfill: 60,000 one-second samples from 3 h ago onwards, 500 per QoS 1 message.
    const start = Date.now() - 3 * 3_600_000;
    let backlogAcked = 0;
    const upload = (async () => {
      for (let m = 0; m < BACKLOG_MESSAGES; m++) {
        const samples = Array.from({ length: BATCH }, (_, i) => ({ ts: start + (m * BATCH + i) * 1000, hr: 70 + (i % 5), spo2: 97, rr: 15 }));
        await gateway.publishAsync('devices/bl-gw/vitals', JSON.stringify({ samples }), { qos: 1 });
        backlogAcked++;
      }
    })();
    await waitFor('backfill under way', () => backlogAcked >= 10 || null, 60_000);

    const alertMs: number[] = [];
    for (let i = 0; i < PROBES; i++) {
      // Three minutes of an emergency-level picture ending now (rules need it sustained).
      const now = Date.now();
      const samples = Array.from({ length: 37 }, (_, k) => ({ ts: now - (36 - k) * 5000, hr: 125, spo2: 84, rr: 26, temp: 38.6, sbp: 95 }));
      const t0 = performance.now();
      await probes[i]!.publishAsync(`devices/bl-live-${i}/vitals`, JSON.stringify({ samples }), { qos: 1 });
      await ws.waitFor(`alert ${i}`, (m) => m.type === 'alert' && m.event === 'raised' && m.alert.patientId === `MRN-BL-LIVE-${i}`);
      alertMs.push(performance.now() - t0);
    }
    const uploadingDuringProbes = backlogAcked < BACKLOG_MESSAGES;
    await upload;
    probing = false;
    await readyLoop;
    const maxReady = Math.max(...readyMs);
    const p99 = (xs: number[]): number => Math.round([...xs].sort((a, b) => a - b)[Math.floor(0.99 * (xs.length - 1))] ?? 0);
    if (process.env.E2E_FIGURES) console.log(JSON.stringify({ alertMs: alertMs.map(Math.round), readyMaxMs: Math.round(maxReady), readyP99Ms: p99(readyMs), healthMaxMs: Math.round(Math.max(...healthMs)), probes: readyMs.length, uploadingDuringProbes }));
    expect(uploadingDuringProbes).toBe(true);
    // Loose bounds for a shared machine; the targets (2 s p99, 1 s) are measured in BENCHMARKS.md.
    for (const ms of alertMs) expect(ms).toBeLessThan(5000);
    expect(maxReady).toBeLessThan(2000);
    for (const c of [gateway, ...probes]) await c.endAsync();
    ws.close();
  }, 300_000);
});
