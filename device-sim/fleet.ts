/**
 * The simulator role (`vitals sim`, and part of `vitals start`): builds the cohort (a scenario
 * name on the first patient, or a scenario file, docs/sim.md), provisions its devices through the
 * gateway API (as any integrator would), connects each over MQTT and publishes what the patient
 * model observes, `rate` messages per second per device, in event time (`speed` > 1 plays a short
 * head start faster than real time). Ground truth goes to VITALS_SIM_TRUTH for `vitals sim score`.
 */
import { appendFile, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Config } from '../platform/config.js';
import type { Service } from '../platform/context.js';
import type { Logger } from '../platform/log.js';
import { loadSigningKey, signToken } from '../platform/jwt.js';
import { SCENARIOS, observe, payloadOf, type PatientSim } from './patient-model.js';
import { buildCohort, cohortTruth, drainArtefacts, eventTruth, parseCohortText, type CohortSpec, type SimDevice } from './cohort.js';

export { SIM_WARDS, simCohort, type SimDevice } from './cohort.js';

interface Provisioned extends SimDevice {
  token: string;
}

/** One API call; a 429 (the gateway's per-user rate limit) waits out `retry-after` and tries again. */
async function api(base: string, token: string, method: string, p: string, body?: unknown): Promise<Response> {
  for (;;) {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : null,
    });
    if (res.status !== 429) return res;
    await res.arrayBuffer();
    const wait = Math.min(60, Math.max(1, Number(res.headers.get('retry-after')) || 1));
    await new Promise((r) => setTimeout(r, wait * 1000));
  }
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

/**
 * The cohort the live simulator plays: a scenario file (docs/sim.md), or `simPatients` stable
 * patients with the named scenario (if any) starting one minute in on the first patient.
 */
export async function simSpec(config: Config): Promise<CohortSpec> {
  const sc = config.simScenario;
  if (sc && (sc.includes('/') || /\.(json|ya?ml)$/.test(sc))) {
    const text = await readFile(sc, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new Error(`scenario file ${sc}: cannot read it (${e.code ?? e.message})`);
    });
    const parsed = parseCohortText(text);
    if (!parsed.ok) throw new Error(`scenario file ${sc}: ${parsed.errors.join('; ')}`);
    return parsed.spec;
  }
  if (sc && !SCENARIOS[sc]) throw new Error(`unknown scenario "${sc}" (known: ${Object.keys(SCENARIOS).join(', ')}; or a scenario file)`);
  return {
    name: 'sim',
    seed: config.simSeed,
    patients: config.simPatients,
    hours: 24,
    startMs: 0,
    artefacts: true,
    events: sc ? [{ patient: 0, scenario: sc, atSec: 60 }] : [],
    scenarios: {},
    wards: ['4B', '5A'],
  };
}

export async function startSimulator(config: Config, log: Logger): Promise<Service> {
  const simLog = log.child({ role: 'sim' });
  if (config.simPatients === 0) {
    simLog.info('simulator off (VITALS_SIM_PATIENTS=0)');
    return { name: 'sim', stop: async () => undefined };
  }
  const spec = await simSpec(config);
  const cohort = buildCohort(spec);
  const apiBase = (config.simApiUrl ?? `http://${config.host}:${config.httpPort}`).replace(/\/$/, '');
  const key = await loadSigningKey(config.dataDir);
  const admin = await signToken(key, { sub: 'device-sim', role: 'admin', wards: ['*'] }, 3600);
  const devices = await provision(apiBase, admin, cohort.devices, path.join(config.dataDir, 'sim-devices.json'));

  // Faster than real time starts in the past and falls back to real time on catching up, so no
  // sample is ever stamped in the future. The head start (90 s) stays inside the live window and
  // under the 2-minute missing-data rules: a longer backlog is scored without live alerts and its
  // devices look silent to the rules role's wall-clock timers. Long accelerated runs: --offline scoring.
  const t0 = Date.now() - (config.simSpeed > 1 ? Math.max(0, Math.min(90_000, config.liveWindowMs - 60_000)) : 0);
  const truthFile = config.simTruth ?? path.join(config.dataDir, 'sim-truth.jsonl');
  await mkdir(path.dirname(truthFile), { recursive: true });
  // Ground truth: the scripted events now; artefact episodes as they happen; the cohort line (with
  // the time span for patient-days) when the simulator stops.
  await writeFile(truthFile, eventTruth(cohort, t0).map((l) => `${JSON.stringify(l)}\n`).join(''));
  const flushArtefacts = async (): Promise<void> => {
    const lines = drainArtefacts(cohort, t0);
    if (lines.length) await appendFile(truthFile, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  };

  const mqttUrl = config.simMqttUrl ?? `mqtt://${config.host}:${config.mqttPort}`;
  const clients: MqttClient[] = devices.map((d) =>
    mqtt.connect(mqttUrl, {
      clientId: d.deviceId,
      username: d.deviceId,
      password: d.token,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      will: { topic: `devices/${d.deviceId}/status`, payload: Buffer.from('{"online":false}'), qos: 1, retain: false },
    }),
  );
  for (const c of clients) c.on('error', (e) => simLog.debug({ err: e.message }, 'sim mqtt error'));

  // Event time advances `speed` times faster than wall time (never past now); each device sends
  // `rate` messages per simulated second.
  const stepMs = 1000 / config.simRate;
  const wall0 = Date.now();
  let step = 0;
  let lastEventMs = t0;
  const silent = new Set<number>();
  const tick = (): void => {
    const wallNow = Date.now();
    const due = Math.min(wallNow, t0 + (wallNow - wall0) * config.simSpeed);
    // Bounded work per tick, so a stall never turns into an unbounded burst.
    for (let n = 0; n < 50 && t0 + step * stepMs <= due; n++, step++) {
      const eventMs = t0 + step * stepMs;
      lastEventMs = eventMs;
      const tSec = (step * stepMs) / 1000;
      devices.forEach((d, i) => {
        const c = clients[i] as MqttClient;
        const o = observe(cohort.patients[i] as PatientSim, tSec, eventMs);
        // A silent scenario (disconnect) drops the connection; the device comes back after it.
        const off = o === null && (cohort.patients[i] as PatientSim).events.some((e) => e.scenario.silent && tSec >= e.startSec && tSec < e.endSec);
        if (off && !silent.has(i)) {
          silent.add(i);
          c.end(true);
        } else if (!off && silent.has(i)) {
          silent.delete(i);
          c.reconnect();
        }
        if (o === null || !c.connected) return;
        c.publish(`devices/${d.deviceId}/vitals`, payloadOf(o), { qos: 1 });
      });
    }
  };
  const timer = setInterval(tick, Math.max(10, Math.min(1000, stepMs / Math.max(1, config.simSpeed))));
  const flusher = setInterval(() => void flushArtefacts().catch(() => undefined), 60_000);
  simLog.info({ patients: devices.length, speed: config.simSpeed, rate: config.simRate, seed: spec.seed, scenario: config.simScenario, truth: truthFile }, 'simulator running');

  return {
    name: 'sim',
    async stop() {
      clearInterval(timer);
      clearInterval(flusher);
      await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
      await flushArtefacts().catch(() => undefined);
      await appendFile(truthFile, `${JSON.stringify(cohortTruth(cohort, t0, lastEventMs))}\n`).catch(() => undefined);
    },
  };
}
