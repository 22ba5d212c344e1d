/**
 * Device certificates on the MQTT TLS listener (mutual TLS), with a CA, a server certificate and
 * device certificates made here with openssl: the certificate's CN is the device id, revocation
 * goes through the registry, an untrusted certificate is refused, and tokens still work beside.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createMemoryBus } from '../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../adapters/bus/topics.js';
import { TOPICS, type Bus } from '../core/ports.js';
import { absentStore } from '../platform/absent.js';
import { loadConfig } from '../platform/config.js';
import { systemClock } from '../platform/context.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { startRegistryView, type RegistryView } from '../platform/registry-view.js';
import { metricValue, provisionOnBus } from '../test/e2e/ingest-helpers.js';
import { startIngest, type IngestService } from './ingest.js';

const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });

/** A CA, and a certificate for `cn` signed by it (EC P-256, one day). */
function issue(dir: string, ca: string, cn: string, san?: string): { cert: string; key: string } {
  const key = path.join(dir, `${cn}.key`);
  const csr = path.join(dir, `${cn}.csr`);
  const cert = path.join(dir, `${cn}.pem`);
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', key, '-out', csr);
  const ext = path.join(dir, `${cn}.ext`);
  execFileSync('sh', ['-c', `printf '%s\\n' '${san ? `subjectAltName=${san}` : 'basicConstraints=CA:FALSE'}' > ${ext}`]);
  openssl('x509', '-req', '-in', csr, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', cert);
  return { cert, key };
}
function makeCa(dir: string, name: string): string {
  const base = path.join(dir, name);
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${base}.key`, '-out', `${base}.pem`);
  return base;
}

describe('MQTT device certificates (mutual TLS)', () => {
  let dir: string;
  let bus: Bus;
  let registry: RegistryView;
  let ingest: IngestService;
  const metrics = createMetricsRegistry();
  const pem: Record<string, Buffer> = {};
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-mtls-'));
    const ca = makeCa(dir, 'device-ca');
    const rogueCa = makeCa(dir, 'rogue-ca');
    const server = issue(dir, ca, 'localhost', 'IP:127.0.0.1,DNS:localhost');
    for (const [name, p] of Object.entries({ server, mt1: issue(dir, ca, 'mt-1'), mt2: issue(dir, ca, 'mt-2'), rogue: issue(dir, rogueCa, 'mt-3') })) {
      pem[`${name}.cert`] = await readFile(p.cert);
      pem[`${name}.key`] = await readFile(p.key);
    }
    pem.ca = await readFile(`${ca}.pem`);
    const log = createLogger({ level: 'silent' });
    bus = await createMemoryBus({ log });
    await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
    registry = await startRegistryView(bus, log);
    for (const id of ['mt-1', 'mt-2', 'mt-3']) await provisionOnBus(bus, id, `tok-${id}`, `MRN-${id}`);
    while (!registry.get('mt-3')) await new Promise((r) => setTimeout(r, 10));
    const cfg = loadConfig({ VITALS_MQTT_PORT: '0', VITALS_MQTT_TLS_PORT: '0', VITALS_MQTT_TLS_CERT: server.cert, VITALS_MQTT_TLS_KEY: server.key, VITALS_MQTT_TLS_CA: `${ca}.pem` });
    if (!cfg.ok) throw new Error(cfg.errors.join('; '));
    ingest = await startIngest({ config: cfg.config, log, clock: systemClock, metrics, bus, store: absentStore() }, registry);
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await ingest?.stop();
    await registry?.stop();
    await bus?.close();
  });

  const connect = (who: string | null, opts: mqtt.IClientOptions = {}): Promise<{ code: number; client: MqttClient | null }> =>
    new Promise((resolve) => {
      const c = mqtt.connect(`mqtts://127.0.0.1:${ingest.tlsPort}`, { ca: pem.ca, reconnectPeriod: 0, connectTimeout: 5000, ...(who ? { cert: pem[`${who}.cert`], key: pem[`${who}.key`] } : {}), ...opts });
      c.once('connect', () => (clients.push(c), resolve({ code: 0, client: c })));
      c.once('error', (e: Error & { code?: number }) => (c.end(true), resolve({ code: typeof e.code === 'number' ? e.code : -1, client: null })));
      c.once('close', () => resolve({ code: -1, client: null }));
    });

  it('a certificate from the device CA authenticates the device its CN names, without a token', async () => {
    const { code, client } = await connect('mt1', { clientId: 'mt-1' });
    expect(code).toBe(0);
    await client?.publishAsync('devices/mt-1/vitals', JSON.stringify({ hr: 71 }), { qos: 1 });
    // It names one device: claiming another as username is refused.
    expect((await connect('mt2', { clientId: 'mt-1', username: 'mt-1' })).code).toBe(4);
    expect(await metricValue(metrics, 'vitals_ingest_auth_failures_total', { reason: 'certificate_other_device' })).toBe(1);
  });

  it('a certificate from another CA is refused before MQTT; tokens still work on the same listener', async () => {
    expect((await connect('rogue', { clientId: 'mt-3' })).code).toBe(-1);
    expect(await metricValue(metrics, 'vitals_ingest_connections_refused_total', { reason: 'client_cert_invalid' })).toBe(1);
    expect((await connect(null, { clientId: 'mt-3', username: 'mt-3', password: 'tok-mt-3' })).code).toBe(0);
  });

  it('revocation goes through the registry: the live session closes and the certificate no longer connects', async () => {
    const { code, client } = await connect('mt2', { clientId: 'mt-2' });
    expect(code).toBe(0);
    const closed = new Promise<void>((r) => client?.once('close', () => r()));
    await bus.publish(TOPICS.registry, [{ key: 'mt-2', value: null }]);
    await closed;
    expect((await connect('mt2', { clientId: 'mt-2' })).code).toBe(4);
  });
});
