/** Helpers for the ingest suites: provisioning straight onto the bus, bus taps, metric reads, third-party clients. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { TOPICS, type Bus, type BusRecord, type Subscription } from '../../core/ports.js';
import type { DeviceRecord } from '../../core/registry.js';
import { hashDeviceToken } from '../../platform/device-tokens.js';

/** Put a device on the registry topic the way the device API does (the token's scrypt hash only). */
export async function provisionOnBus(bus: Bus, deviceId: string, token: string, patientId: string | null = null, ward: string | null = '4B'): Promise<void> {
  const now = Date.now();
  const rec: DeviceRecord = { v: 1, deviceId, tokenHash: await hashDeviceToken(token), patientId, ward, bed: null, createdAt: now, updatedAt: now };
  await bus.publish(TOPICS.registry, [{ key: deviceId, value: JSON.stringify(rec) }]);
}

/** Everything that lands on some topics from now on (or from the start), kept in memory for assertions. */
export class BusTap {
  private constructor(
    private readonly sub: Subscription,
    readonly records: BusRecord[],
  ) {}

  static async open(bus: Bus, topics: string[], from: 'earliest' | 'latest' = 'earliest'): Promise<BusTap> {
    const records: BusRecord[] = [];
    const sub = await bus.tail({ topics, from, handler: async (rs) => void records.push(...rs) });
    await sub.caughtUp;
    return new BusTap(sub, records);
  }

  on(topic: string): Array<BusRecord & { json: any }> {
    return this.records.filter((r) => r.topic === topic).map((r) => ({ ...r, json: r.value === null ? null : JSON.parse(r.value) }));
  }

  stop(): Promise<void> {
    return this.sub.stop();
  }
}

/** The value of a counter (summed over matching labels); 0 when the series does not exist yet. */
export async function metricValue(metrics: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = metrics.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((a, v) => a + v.value, 0);
}

/** A throwaway self-signed certificate for 127.0.0.1 / localhost (openssl, EC P-256, one day). */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'mqtt-cert.pem');
  const key = path.join(dir, 'mqtt-key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
  ], { stdio: 'pipe' });
  return { cert, key };
}

const hasCommand = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/**
 * mosquitto_pub/mosquitto_sub (Debian `mosquitto-clients`): installed with apt when missing and
 * root, otherwise a clear failure saying what to install.
 */
export function ensureMosquittoClients(): void {
  if (hasCommand('mosquitto_pub') && hasCommand('mosquitto_sub')) return;
  if (process.getuid?.() !== 0) throw new Error('mosquitto_pub/mosquitto_sub missing and not root: install them with `apt-get install -y mosquitto-clients`');
  let r = spawnSync('apt-get', ['install', '-y', 'mosquitto-clients'], { stdio: 'pipe', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'pipe' });
    r = spawnSync('apt-get', ['install', '-y', 'mosquitto-clients'], { stdio: 'pipe', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  if (r.status !== 0 || !hasCommand('mosquitto_pub')) throw new Error(`apt-get install -y mosquitto-clients failed (exit ${r.status}): ${String(r.stderr).slice(-500)}`);
}

/**
 * Run a third-party CLI client and return its exit code and output (never throws on a non-zero
 * exit). Asynchronous on purpose: the broker under test may live in this very process.
 */
export function runClient(cmd: string, args: string[], timeoutMs = 15_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += String(d)));
    p.stderr.on('data', (d) => (out += String(d)));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, out: e.message });
    });
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** A raw TCP socket; resolves when the server closes it, with the bytes it had written by then. */
export function rawFlood(port: number, first: Buffer, then: Buffer, maxBytes: number): Promise<{ closedByServer: boolean; written: number }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let written = 0;
    let done = false;
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ closedByServer, written });
    };
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    s.on('connect', () => {
      s.write(first);
      written += first.length;
      const pump = (): void => {
        while (!done && written < maxBytes) {
          written += then.length;
          if (!s.write(then)) return void s.once('drain', pump);
        }
        // Everything went out and the server still holds the socket open: it is buffering.
        if (!done) setTimeout(() => finish(false), 500);
      };
      pump();
    });
  });
}
