/**
 * Every split role answers on its own ops port (docs/observability.md): `vitals ingest`, `vitals rules`
 * and `vitals sink` as OS processes on the real Kafka and ClickHouse, each on an ephemeral ops port
 * read from its start-up log line; and the same roles pointed at a Kafka port nothing listens on,
 * whose /readyz must say the bus is what is missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus } from '../../adapters/bus/kafka.js';
import { prefixedBus } from '../../adapters/bus/prefixed.js';
import { TOPICS, type Bus } from '../../core/ports.js';
import type { DeviceRecord } from '../../core/registry.js';
import { hashDeviceToken, newDeviceToken } from '../../platform/device-tokens.js';
import { RULES_GROUP } from '../../stream-rules/rules-role.js';
import { builtCli, connectDevice, freePort, tempDir, waitFor } from './helpers.js';

const CLI = builtCli();

interface Proc {
  role: string;
  p: ChildProcess;
  out: string[];
  /** Resolves with the ops port the process logged. */
  opsPort: Promise<number>;
}

function startRole(role: string, env: Record<string, string>): Proc {
  const out: string[] = [];
  const p = spawn(process.execPath, [CLI, role], { env: { ...process.env, ...env, VITALS_OPS_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const opsPort = new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out.push(String(d));
      const m = /ops endpoints on http:\/\/[^:]+:(\d+)/.exec(out.join(''));
      if (m) resolve(Number(m[1]));
    };
    p.stdout?.on('data', onData);
    p.stderr?.on('data', onData);
    p.once('exit', (code) => reject(new Error(`vitals ${role} exited ${code} before logging its ops port:\n${out.join('').slice(-2000)}`)));
  });
  opsPort.catch(() => undefined);
  return { role, p, out, opsPort };
}

function stopProc(x: Proc): Promise<number | null> {
  return new Promise((resolve) => {
    if (x.p.exitCode !== null) return resolve(x.p.exitCode);
    x.p.once('exit', (code) => resolve(code));
    x.p.kill('SIGTERM');
    setTimeout(() => x.p.kill('SIGKILL'), 20_000).unref();
  });
}

async function get(port: number, route: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${route}`);
  return { status: r.status, text: await r.text() };
}

/** Sum of a metric's samples whose labels include `labels` (Prometheus text format). */
function metricSum(text: string, name: string, labels: Record<string, string> = {}): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) continue;
    sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

describe('ops endpoints of split roles on Kafka and ClickHouse', () => {
  const procs: Proc[] = [];
  const suffix = `${Date.now()}`;
  const database = `vitals_ops_${suffix}`;
  const prefix = `e2e-ops-${suffix}.`;
  const sinkGroup = `vitals-sink.${database}`;
  let env: Record<string, string>;
  let bus: Bus | null = null;

  beforeAll(async () => {
    const brokers = process.env.KAFKA_BROKERS;
    const ch = process.env.CLICKHOUSE_URL;
    if (!brokers || !ch) throw new Error('KAFKA_BROKERS and CLICKHOUSE_URL must be set (test/global-setup.ts provides them)');
    env = {
      VITALS_DATA_DIR: await tempDir('e2e-ops'),
      VITALS_MQTT_PORT: String(await freePort()),
      KAFKA_BROKERS: brokers,
      CLICKHOUSE_URL: ch,
      VITALS_CLICKHOUSE_DATABASE: database,
      VITALS_TOPIC_PREFIX: prefix,
      VITALS_LOG_LEVEL: 'info',
    };
    bus = prefixedBus(await createKafkaBus({ brokers: brokers.split(',') }), prefix);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(procs.map(stopProc));
    await bus?.close();
  }, 60_000);

  it('a role that cannot reach Kafka answers /healthz 200 and /readyz 503 naming the bus', async () => {
    const closed = await freePort();
    const down = ['ingest', 'rules', 'sink'].map((role) => startRole(role, { ...env, KAFKA_BROKERS: `127.0.0.1:${closed}`, VITALS_MQTT_PORT: '0' }));
    try {
      for (const x of down) {
        const port = await x.opsPort;
        expect((await get(port, '/healthz')).status).toBe(200);
        const r = await get(port, '/readyz');
        expect(r.status, `${x.role} /readyz`).toBe(503);
        const body = JSON.parse(r.text) as { status: string; checks: Record<string, { ok: boolean; detail?: string }>; failing: string[] };
        expect(body.status).toBe('not ready');
        expect(body.checks.bus?.ok).toBe(false);
        expect(body.failing.some((f) => /^bus: (connecting|unreachable)/.test(f)), body.failing.join('; ')).toBe(true);
        // The sink's ClickHouse is reachable: only the bus is named.
        if (x.role === 'sink') await waitFor('sink store connected', async () => (JSON.parse((await get(port, '/readyz')).text) as typeof body).checks.store?.ok === true, 30_000, 200);
      }
    } finally {
      // Still retrying the bus: SIGTERM is a clean stop.
      expect(await Promise.all(down.map(stopProc))).toEqual([0, 0, 0]);
    }
  }, 90_000);

  it('ingest, rules and sink each serve /readyz 200 once connected, and /metrics with lag per group and partition', async () => {
    const ingest = startRole('ingest', env);
    const rules = startRole('rules', env);
    procs.push(ingest, rules);
    const ports = { ingest: await ingest.opsPort, rules: await rules.opsPort };
    expect(ports.ingest).not.toBe(ports.rules);
    for (const [role, port] of Object.entries(ports)) {
      expect((await get(port, '/healthz')).status).toBe(200);
      await waitFor(`${role} ready`, async () => (await get(port, '/readyz')).status === 200, 90_000, 300);
    }

    // A device on the registry topic, then samples through the split ingest; the sink is not running yet.
    const deviceId = `wb-ops-${suffix}`;
    const token = newDeviceToken();
    const now = Date.now();
    const rec: DeviceRecord = { v: 1, deviceId, tokenHash: await hashDeviceToken(token), patientId: `MRN-OPS-${suffix}`, ward: '9Z', bed: '1', createdAt: now, updatedAt: now };
    await bus!.publish(TOPICS.registry, [{ key: deviceId, value: JSON.stringify(rec) }]);
    const device = await waitFor('device connect', () => connectDevice(Number(env.VITALS_MQTT_PORT), deviceId, token).catch(() => null), 30_000, 300);
    const sent = 5;
    for (let i = 0; i < sent; i++) await device.publishAsync(`devices/${deviceId}/vitals`, JSON.stringify({ ts: now - (sent - i) * 1000, hr: 70 + i, spo2: 97 }), { qos: 1 });

    const ingestMetrics = (await get(ports.ingest, '/metrics')).text;
    expect(metricSum(ingestMetrics, 'vitals_ingest_connections')).toBe(1);
    expect(metricSum(ingestMetrics, 'vitals_ingest_samples_total')).toBe(sent);
    // Lag of the sink's group (not started: everything on the topic), as one series per topic and per partition.
    for (const [role, port] of Object.entries(ports)) {
      const text = (await get(port, '/metrics')).text;
      expect(metricSum(text, 'vitals_bus_consumer_lag', { consumer: sinkGroup, topic: TOPICS.samples }), `${role} lag`).toBe(sent);
      expect(metricSum(text, 'vitals_bus_consumer_partition_lag', { consumer: sinkGroup, topic: TOPICS.samples }), `${role} partition lag`).toBe(sent);
      expect(text).toMatch(new RegExp(`^vitals_bus_consumer_partition_lag\\{consumer="${sinkGroup}",topic="${TOPICS.samples}",partition="11"\\} \\d+$`, 'm'));
    }

    const sink = startRole('sink', env);
    procs.push(sink);
    const sinkPort = await sink.opsPort;
    await waitFor('sink ready', async () => (await get(sinkPort, '/readyz')).status === 200, 90_000, 300);
    const sinkMetrics = await waitFor(
      'sink rows written',
      async () => {
        const text = (await get(sinkPort, '/metrics')).text;
        return (metricSum(text, 'vitals_sink_rows_total', { topic: TOPICS.samples }) ?? 0) >= sent ? text : null;
      },
      60_000,
      500,
    );
    expect(metricSum(sinkMetrics, 'vitals_sink_insert_seconds_count', { topic: TOPICS.samples })).toBeGreaterThanOrEqual(1);
    // The sink committed: its lag drops to 0, seen from its own process and from ingest's.
    for (const port of [sinkPort, ports.ingest]) {
      await waitFor('sink lag 0', async () => metricSum((await get(port, '/metrics')).text, 'vitals_bus_consumer_lag', { consumer: sinkGroup, topic: TOPICS.samples }) === 0, 30_000, 500);
    }
    // The rules instance's own group: lag per partition of the samples it owns, read back to 0.
    await waitFor(
      'rules group lag 0 on every partition',
      async () => {
        const text = (await get(ports.rules, '/metrics')).text;
        const rows = [...text.matchAll(new RegExp(`^vitals_bus_consumer_partition_lag\\{consumer="${RULES_GROUP}",topic="${TOPICS.samples}",partition="\\d+"\\} (\\d+)$`, 'gm'))];
        return rows.length === 12 && rows.every((r) => r[1] === '0');
      },
      30_000,
      500,
    );
    await device.endAsync();
    await waitFor('ingest connection gone', async () => metricSum((await get(ports.ingest, '/metrics')).text, 'vitals_ingest_connections') === 0, 10_000, 200);
  }, 240_000);

  it('each role stops cleanly on SIGTERM', async () => {
    expect(await Promise.all(procs.map(stopProc))).toEqual([0, 0, 0]);
  }, 60_000);
});
