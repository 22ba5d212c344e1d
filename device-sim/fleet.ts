/**
 * The simulator role: provisions its devices through the gateway API (as any
 * integrator would), then connects each over MQTT and publishes 1 Hz samples in
 * event time (`speed` > 1 plays faster than real time).
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Config } from '../platform/config.js';
import type { Service } from '../platform/context.js';
import type { Logger } from '../platform/log.js';
import { loadSigningKey, signToken } from '../platform/jwt.js';
import { SCENARIOS, createPatient, measure, type PatientSim } from './patient-model.js';

export interface SimDevice {
  deviceId: string;
  patientId: string;
  ward: string;
  bed: string;
}

export const SIM_WARDS = ['4B', '5A'];

/** Synthetic identities: SIM- prefixed, never real MRNs. */
export function simCohort(n: number): SimDevice[] {
  return Array.from({ length: n }, (_, i) => {
    const ward = SIM_WARDS[i % SIM_WARDS.length] as string;
    const bed = String(Math.floor(i / SIM_WARDS.length) + 1);
    const num = String(i + 1).padStart(4, '0');
    return { deviceId: `sim-wb-${num}`, patientId: `SIM-${num}`, ward, bed };
  });
}

interface Provisioned extends SimDevice {
  token: string;
}

async function api(base: string, token: string, method: string, p: string, body?: unknown): Promise<Response> {
  return fetch(`${base}${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : null,
  });
}

/** Provision through the API; tokens are shown once, so the simulator keeps them in the data dir. */
export async function provision(apiBase: string, adminToken: string, devices: SimDevice[], tokenFile: string): Promise<Provisioned[]> {
  let saved: Record<string, string> = {};
  try {
    saved = JSON.parse(await readFile(tokenFile, 'utf8')) as Record<string, string>;
  } catch {
    /* first run */
  }
  const out: Provisioned[] = [];
  for (const d of devices) {
    let res = await api(apiBase, adminToken, 'POST', '/api/devices', d);
    if (res.status === 409) {
      const known = saved[d.deviceId];
      if (known) {
        out.push({ ...d, token: known });
        continue;
      }
      await api(apiBase, adminToken, 'DELETE', `/api/devices/${d.deviceId}`);
      res = await api(apiBase, adminToken, 'POST', '/api/devices', d);
    }
    if (res.status !== 201) throw new Error(`provisioning ${d.deviceId} failed: HTTP ${res.status}`);
    const { token } = (await res.json()) as { token: string };
    saved[d.deviceId] = token;
    out.push({ ...d, token });
  }
  await mkdir(path.dirname(tokenFile), { recursive: true });
  await writeFile(tokenFile, JSON.stringify(saved), { mode: 0o600 });
  return out;
}

export async function startSimulator(config: Config, log: Logger): Promise<Service> {
  const simLog = log.child({ role: 'sim' });
  if (config.simPatients === 0) {
    simLog.info('simulator off (VITALS_SIM_PATIENTS=0)');
    return { name: 'sim', stop: async () => undefined };
  }
  const apiBase = (config.simApiUrl ?? `http://${config.host}:${config.httpPort}`).replace(/\/$/, '');
  const key = await loadSigningKey(config.dataDir);
  const admin = await signToken(key, { sub: 'device-sim', role: 'admin', wards: ['*'] }, 3600);
  const cohort = simCohort(config.simPatients);
  const devices = await provision(apiBase, admin, cohort, path.join(config.dataDir, 'sim-devices.json'));

  const scenario = config.simScenario ? SCENARIOS[config.simScenario] : undefined;
  if (config.simScenario && !scenario) throw new Error(`unknown scenario "${config.simScenario}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
  // Faster than real time starts 30 minutes in the past and falls back to real time on catching up,
  // so no sample is ever stamped in the future.
  const t0 = Date.now() - (config.simSpeed > 1 ? 30 * 60_000 : 0);
  const patients: PatientSim[] = devices.map((_, i) => createPatient(i, 1, i === 0 && scenario ? { name: scenario.name, onsetSec: 30 } : null));

  const clients: MqttClient[] = devices.map((d) =>
    mqtt.connect(config.simMqttUrl ?? `mqtt://${config.host}:${config.mqttPort}`, {
      clientId: d.deviceId,
      username: d.deviceId,
      password: d.token,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      will: { topic: `devices/${d.deviceId}/status`, payload: Buffer.from('{"online":false}'), qos: 1, retain: false },
    }),
  );
  for (const c of clients) c.on('error', (e) => simLog.debug({ err: e.message }, 'sim mqtt error'));

  // One tick per simulated second; at speed > 1 several simulated seconds are sent per wall tick.
  let simSec = 0;
  const tickMs = 1000 / Math.min(config.simSpeed, 1);
  const perTick = Math.max(1, Math.round(config.simSpeed));
  const battery = devices.map(() => 0.95);
  const timer = setInterval(() => {
    const wallNow = Date.now();
    for (let k = 0; k < perTick; k++, simSec++) {
      const eventMs = t0 + simSec * 1000;
      if (eventMs > wallNow) break;
      devices.forEach((d, i) => {
        const c = clients[i] as MqttClient;
        if (!c.connected) return;
        const m = measure(patients[i] as PatientSim, simSec, eventMs);
        battery[i] = Math.max(0.05, (battery[i] as number) - 0.00002);
        c.publish(`devices/${d.deviceId}/vitals`, JSON.stringify({ ts: eventMs, ...m, quality: { spo2: 0.95, hr: 0.98 }, battery: battery[i] }), { qos: 1 });
      });
    }
  }, tickMs);
  simLog.info({ patients: devices.length, speed: config.simSpeed, scenario: config.simScenario }, 'simulator running');

  return {
    name: 'sim',
    async stop() {
      clearInterval(timer);
      await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
    },
  };
}
