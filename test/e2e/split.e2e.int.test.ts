/**
 * The walking skeleton with each role as its own OS process (`vitals ingest|rules|sink|gateway`)
 * on the real Kafka and ClickHouse that the test setup provides.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WsClient, builtCli, connectDevice, http, tempDir, tokenFor, waitFor } from './helpers.js';

const CLI = builtCli();

function freePortBase(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

describe('split roles on Kafka and ClickHouse', () => {
  const procs: Array<{ name: string; p: ChildProcess; out: string[] }> = [];
  let dataDir: string;
  let api: string;
  let httpPort: number;
  let mqttPort: number;
  // Kafka outlives a test run: unique ids keep this run's device and patient apart from earlier runs'.
  const run = Date.now().toString(36);
  const deviceId = `wb-split-${run}`;
  const patientId = `MRN-SPLIT-${run}`;

  const start = (role: string, env: Record<string, string>): void => {
    const out: string[] = [];
    const p = spawn(process.execPath, [CLI, role], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout?.on('data', (d) => out.push(String(d)));
    p.stderr?.on('data', (d) => out.push(String(d)));
    procs.push({ name: role, p, out });
  };

  beforeAll(async () => {
    const brokers = process.env.KAFKA_BROKERS;
    const ch = process.env.CLICKHOUSE_URL;
    if (!brokers || !ch) throw new Error('KAFKA_BROKERS and CLICKHOUSE_URL must be set (test/global-setup.ts provides them)');
    dataDir = await tempDir('e2e-split');
    const base = freePortBase();
    httpPort = base;
    mqttPort = base + 1;
    api = `http://127.0.0.1:${httpPort}`;
    // A fresh ClickHouse database and consumer groups per run, so runs do not see each other.
    const suffix = `${Date.now()}`;
    const env = {
      VITALS_DATA_DIR: dataDir,
      VITALS_HTTP_PORT: String(httpPort),
      VITALS_MQTT_PORT: String(mqttPort),
      KAFKA_BROKERS: brokers,
      CLICKHOUSE_URL: ch,
      VITALS_CLICKHOUSE_DATABASE: `vitals_e2e_${suffix}`,
      // Its own topics and consumer groups on the shared Kafka: parallel tests do not see each other.
      VITALS_TOPIC_PREFIX: `e2e-split-${suffix}.`,
      VITALS_LOG_LEVEL: 'info',
    };
    for (const role of ['gateway', 'ingest', 'rules', 'sink']) start(role, env);
    try {
      await waitFor('gateway ready', async () => (await http(api, null, 'GET', '/readyz').catch(() => ({ status: 0 }))).status === 200, 90_000, 500);
    } catch (e) {
      // Say why: the last lines each role printed.
      const tails = procs.map(({ name, p, out }) => `--- ${name} (exit ${p.exitCode}):\n${out.join('').split('\n').slice(-8).join('\n')}`);
      throw new Error(`${(e as Error).message}\n${tails.join('\n')}`, { cause: e });
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(
      procs.map(
        ({ p }) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGTERM');
            setTimeout(() => p.kill('SIGKILL'), 20_000).unref();
          }),
      ),
    );
  }, 60_000);

  it('MQTT sample -> Kafka -> rules alert -> WebSocket, and ClickHouse history', async () => {
    const admin = await tokenFor(dataDir, 'admin', ['*']);
    const nurse = await tokenFor(dataDir, 'nurse', ['7C']);
    const created = await http(api, admin, 'POST', '/api/devices', { deviceId: deviceId, patientId: patientId, ward: '7C', bed: '1' });
    expect(created.status).toBe(201);

    const ws = await WsClient.open(httpPort, nurse);
    ws.send({ op: 'subscribe', wards: ['7C'] });
    await ws.waitFor('snapshot', (m) => m.type === 'snapshot');

    // ingest learns of the device from the registry topic: retry until it accepts the credentials.
    const device = await waitFor('device connect', () => connectDevice(mqttPort, deviceId, created.json.token).catch(() => null), 30_000, 300);
    const ts = Date.now();
    // Three minutes of event time at one sample every 5 s, as a gateway's batch: rules need a sustained condition.
    const samples = Array.from({ length: 37 }, (_, i) => ({ ts: ts - (36 - i) * 5000, hr: 128, spo2: 85, rr: 27, temp: 38.9, sbp: 92 }));
    await device.publishAsync(`devices/${deviceId}/vitals`, JSON.stringify({ samples }), { qos: 1 });

    const vit = await ws.waitFor('vitals', (m) => m.type === 'vitals' && m.patientId === patientId && m.ts === ts, 30_000);
    expect(vit.metrics).toMatchObject({ hr: 128, spo2: 85 });
    const alert = await ws.waitFor('alert', (m) => m.type === 'alert' && m.alert.patientId === patientId, 30_000);
    expect(alert.event).toBe('raised');

    const hist = await waitFor(
      'history from ClickHouse',
      async () => {
        const r = await http(api, nurse, 'GET', `/api/patients/${patientId}/vitals?metric=spo2&from=${ts - 1000}&to=${ts + 1000}&step=raw`);
        return r.status === 200 && r.json.points.length > 0 ? r : null;
      },
      30_000,
      300,
    );
    expect(hist.json.points).toContainEqual({ ts, value: 85 });
    await device.endAsync();
    ws.close();
  }, 120_000);

  it('stops every role cleanly on SIGTERM (exit 0) and logs no patient identifier', async () => {
    const exits = await Promise.all(
      procs.map(
        ({ p }) =>
          new Promise<number | null>((resolve) => {
            p.once('exit', (code) => resolve(code));
            p.kill('SIGTERM');
          }),
      ),
    );
    expect(exits).toEqual([0, 0, 0, 0]);
    const logs = procs.map((x) => x.out.join('')).join('');
    expect(logs).not.toContain(patientId);
  }, 60_000);
});
