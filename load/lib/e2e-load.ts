/**
 * One end-to-end load run: N MQTT devices at 1 Hz (QoS 0 or 1) and M WebSocket dashboards,
 * bounded in time, loopback only. Measures, with HDR histograms:
 * - alert latency: a probe device publishes a sample that flips the `sbp-low` rule (SBP 80, then
 *   120: raised, then resolved; the bench runs the shipped rules with `sbp-low` set to fire on one reading, see procs.ts), timed from publish to the alert event on
 *   every dashboard subscribed to the probe's ward;
 * - vitals latency: publish to the `vitals` message on the dashboards;
 * - PUBACK latency (QoS 1): publish to durable acknowledgement.
 * Against Mosquitto (baseline) the same generator publishes and the "dashboards" are MQTT
 * subscribers of their ward's device topics: plain pub/sub, no validation, rules or store.
 */
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type * as Hdr from 'hdr-histogram-js';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { loadSigningKey, signToken } from '../../platform/jwt.js';
import { createPatient, observe, type PatientSim } from '../../device-sim/patient-model.js';
import { procsSample, threadsSample, type Target } from './procs.js';

const require = createRequire(import.meta.url);
// hdr-histogram-js is CommonJS; its pure-JS build (no WebAssembly) is used.
const hdr = require('hdr-histogram-js') as typeof Hdr;
type Histogram = Hdr.Histogram;

export interface LoadOptions {
  devices: number;
  dashboards: number;
  qos: 0 | 1;
  /** Measured seconds (after warm-up). */
  seconds: number;
  warmupSeconds: number;
  /** Patients per ward. */
  wardSize: number;
  /** Probe devices (at most one per dashboard ward). */
  probes: number;
  /** Seconds between probe flips. */
  probeEverySec: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** One tenth of the measured window: whether per-sample cost or memory grows over a long run (issue 11). */
export interface Tenth {
  endSec: number;
  cpuUsPerMessage: number;
  /** The same by thread group (`main`, libuv's pool, V8's workers, DuckDB's): which part grows. */
  threadsUsPerMessage: Record<string, number>;
  rssMB: number;
}

/** Where a slow alert's time went: the server's or the generator's event loop, per 5-second slice of the window. */
export interface Stalls {
  /** Seconds into the window of each probe flip that took over 1 s to reach a dashboard, or never did (ms: null). */
  lateProbes: Array<{ atSec: number; ms: number | null }>;
  /** Per 5-s slice: the longest event-loop delay (ms) of the process serving the HTTP port (its /metrics: every role embedded, the gateway split; null against Mosquitto) and of the generator. */
  slices: Array<{ endSec: number; serverLoopMaxMs: number | null; generatorLoopMaxMs: number }>;
}

export interface LoadResult {
  target: Target['kind'];
  options: LoadOptions;
  setupSec: { provision: number; connect: number };
  published: number;
  publishPerSec: number;
  acked: number;
  dashboardMessages: number;
  dashboardMessagesPerSec: number;
  latencyMs: { alert: LatencySummary; vitals: LatencySummary; puback: LatencySummary };
  /** Probe flips that never reached a dashboard within the run. */
  probesLost: number;
  server: { cpuCores: number; cpuUsPerMessage: number; rssMB: number; rssIdleMB: number; rssPerDeviceKB: number; threadCores: Record<string, number>; tenths: Tenth[] };
  /** Split mode: CPU of each role's processes (all instances together) and of the local Kafka and ClickHouse, over the measured window. */
  roles?: Record<string, { cpuCores: number; cpuUsPerMessage: number; rssMB: number }>;
  generator: { cpuCores: number };
  stalls: Stalls;
  errors: string[];
}

function histogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly: false });
}

/** Microsecond histogram → ms summary. */
function summary(h: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us / 10) / 100;
  return { count: h.totalCount, p50: ms(h.getValueAtPercentile(50)), p90: ms(h.getValueAtPercentile(90)), p99: ms(h.getValueAtPercentile(99)), max: ms(h.maxValue) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function inBatches<T, R>(items: T[], width: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
    }),
  );
  return out;
}

interface Dev {
  deviceId: string;
  patientId: string;
  ward: string;
  token: string;
  client?: MqttClient;
  patient: PatientSim;
  probe: boolean;
  low: boolean;
}

export async function runLoad(target: Target, o: LoadOptions, runTag: string): Promise<LoadResult> {
  const errors: string[] = [];
  const isVitals = target.kind !== 'mosquitto';
  const wards = Math.max(1, Math.ceil(o.devices / o.wardSize));
  const devs: Dev[] = Array.from({ length: o.devices }, (_, i) => {
    const num = String(i + 1).padStart(5, '0');
    return { deviceId: `ld-${runTag}-${num}`, patientId: `LOAD-${runTag}-${num}`, ward: `L${i % wards}`, token: '', patient: createPatient(i, 99, null, { artefacts: false }), probe: false, low: false };
  });
  // Dashboards watch wards 0..M-1 (round robin); the first patient of each watched ward is a probe.
  const dashWards = Array.from({ length: o.dashboards }, (_, i) => `L${i % wards}`);
  const probeWards = [...new Set(dashWards)].slice(0, o.probes);
  for (const w of probeWards) {
    const d = devs.find((x) => x.ward === w);
    if (d) d.probe = true;
  }

  // ---------------------------------------------------------------- provision (setup, not measured)
  const base = `http://127.0.0.1:${target.httpPort}`;
  const idle = procsSample(target.pids());
  let t = performance.now();
  if (isVitals) {
    const key = await loadSigningKey(target.dataDir);
    const admin = await signToken(key, { sub: 'bench', role: 'admin', wards: ['*'] }, 7200);
    await inBatches(devs, 8, async (d) => {
      const r = await fetch(`${base}/api/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: d.deviceId, patientId: d.patientId, ward: d.ward, bed: '1' }),
      });
      if (r.status !== 201) throw new Error(`provisioning ${d.deviceId}: HTTP ${r.status} ${await r.text()}`);
      d.token = ((await r.json()) as { token: string }).token;
    });
  }
  const provisionSec = (performance.now() - t) / 1000;

  // ---------------------------------------------------------------- dashboards
  const alertH = histogram();
  const vitalsH = histogram();
  const ackH = histogram();
  /** Probe patient → publish time (performance.now() ms) of the pending flip. */
  const pending = new Map<string, { at: number; seen: number }>();
  const lateProbes: Stalls['lateProbes'] = [];
  let w0 = 0;
  let dashMsgs = 0;
  let measuring = false;
  const onDelivery = (patientId: string, kind: 'alert' | 'vitals', sentWallMs: number): void => {
    dashMsgs++;
    if (kind === 'alert') {
      const p = pending.get(patientId);
      // Seen counts during warm-up too: a flip made just before measuring started was delivered,
      // not lost (counting it lost failed a healthy scale step).
      if (p) p.seen++;
      if (p && measuring) {
        const ms = performance.now() - p.at;
        alertH.recordValue(Math.max(1, Math.round(ms * 1000)));
        if (ms > 1000 && p.seen === 1) lateProbes.push({ atSec: Math.round((p.at - w0) / 100) / 10, ms: Math.round(ms) });
      }
    } else if (measuring) vitalsH.recordValue(Math.max(1, Math.round((Date.now() - sentWallMs) * 1000)));
  };
  const sockets: WebSocket[] = [];
  const subs: MqttClient[] = [];
  if (isVitals) {
    const key = await loadSigningKey(target.dataDir);
    for (const w of dashWards) {
      const token = await signToken(key, { sub: `bench-nurse-${w}`, role: 'nurse', wards: [w] }, 7200);
      const ws = new WebSocket(`ws://127.0.0.1:${target.httpPort}/ws`, { headers: { authorization: `Bearer ${token}` } });
      await new Promise<void>((resolve, reject) => {
        ws.once('error', reject);
        ws.on('message', (buf: Buffer) => {
          const m = JSON.parse(buf.toString()) as { type: string; patientId?: string; ts?: number; alert?: { patientId: string; ruleId: string } };
          if (m.type === 'ready') ws.send(JSON.stringify({ op: 'subscribe', wards: [w] }));
          else if (m.type === 'snapshot') resolve();
          else if (m.type === 'alert' && m.alert?.ruleId === 'sbp-low') onDelivery(m.alert.patientId, 'alert', 0);
          else if (m.type === 'vitals' && m.patientId !== undefined) onDelivery(m.patientId, 'vitals', m.ts ?? Date.now());
          else if (m.type === 'error') errors.push(`ws: ${JSON.stringify(m)}`);
        });
      });
      sockets.push(ws);
    }
  } else {
    for (const w of dashWards) {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${target.mqttPort}`, { clientId: `bench-sub-${runTag}-${subs.length}`, reconnectPeriod: 0 });
      await c.subscribeAsync(devs.filter((d) => d.ward === w).map((d) => `devices/${d.deviceId}/vitals`), { qos: o.qos });
      c.on('message', (_topic, payload) => {
        const m = JSON.parse(payload.toString()) as { ts: number; pid: string; sbp?: number };
        // A probe message stands in for the alert: plain pub/sub has no rule to trigger.
        onDelivery(m.pid, m.sbp !== undefined ? 'alert' : 'vitals', m.ts);
      });
      subs.push(c);
    }
  }

  // ---------------------------------------------------------------- devices
  t = performance.now();
  await inBatches(devs, 50, async (d) => {
    d.client = await mqtt.connectAsync(`mqtt://127.0.0.1:${target.mqttPort}`, {
      clientId: d.deviceId,
      ...(isVitals ? { username: d.deviceId, password: d.token } : {}),
      reconnectPeriod: 1000,
      connectTimeout: 120_000,
      keepalive: 60,
    });
    d.client.on('error', (e) => errors.length < 20 && errors.push(`mqtt ${d.deviceId}: ${e.message}`));
  });
  const connectSec = (performance.now() - t) / 1000;

  // ---------------------------------------------------------------- publish loop: 1 Hz per device, phases spread over the second
  let acked = 0;
  let sec = 0;
  const slots = 100;
  const bySlot: Dev[][] = Array.from({ length: slots }, () => []);
  devs.forEach((d, i) => bySlot[i % slots]?.push(d));
  const t0Wall = Date.now();
  let tick = 0;
  let measuredPublished = 0;
  const publishOne = (d: Dev, now: number): void => {
    const c = d.client;
    if (!c?.connected) return;
    const ob = observe(d.patient, sec, now);
    const msg: Record<string, unknown> = { ts: now, hr: ob?.metrics.hr ?? 70, spo2: ob?.metrics.spo2 ?? 97, quality: { hr: 0.95, spo2: 0.95 } };
    if (ob?.metrics.rr !== undefined) msg.rr = ob.metrics.rr;
    const flip = d.probe && sec % o.probeEverySec === 0;
    if (flip) {
      d.low = !d.low;
      msg.sbp = d.low ? 80 : 120;
      pending.set(d.patientId, { at: performance.now(), seen: 0 });
    }
    if (!isVitals) msg.pid = d.patientId;
    const sentAt = performance.now();
    if (measuring) measuredPublished++;
    if (o.qos === 1) {
      c.publish(`devices/${d.deviceId}/vitals`, JSON.stringify(msg), { qos: 1 }, (err) => {
        if (err) return;
        acked++;
        if (measuring) ackH.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
      });
    } else c.publish(`devices/${d.deviceId}/vitals`, JSON.stringify(msg), { qos: 0 });
  };
  const timer = setInterval(() => {
    // Catch up on missed ticks so the offered rate stays N/s even when the generator stalls.
    const due = Math.floor((Date.now() - t0Wall) / 10);
    for (; tick <= due; tick++) {
      sec = Math.floor(tick / slots);
      const now = Date.now();
      for (const d of bySlot[tick % slots] as Dev[]) publishOne(d, now);
    }
  }, 10);

  await sleep(o.warmupSeconds * 1000);
  const cpu0 = procsSample(target.pids());
  const th0 = threadsSample(target.pids());
  const rolePids = target.roles?.() ?? null;
  const role0 = rolePids ? Object.fromEntries(Object.entries(rolePids).map(([r, ps]) => [r, procsSample(ps)])) : null;
  const gen0 = process.cpuUsage();
  w0 = performance.now();
  const msgs0 = dashMsgs;
  measuring = true;
  let probeFlips = 0;
  let probesLost = 0;
  // Count flips that nobody saw before the next flip of the same probe.
  const seenCheck = setInterval(() => {
    for (const [pid, p] of pending) {
      if (performance.now() - p.at > 1000 * o.probeEverySec - 50) {
        probeFlips++;
        if (p.seen === 0) {
          probesLost++;
          lateProbes.push({ atSec: Math.round((p.at - w0) / 100) / 10, ms: null });
        }
        pending.delete(pid);
      }
    }
  }, 100);
  // Event-loop stalls, ours and (embedded) the server's: prom-client resets its lag histogram at each scrape.
  const genLoop = monitorEventLoopDelay({ resolution: 10 });
  genLoop.enable();
  const slices: Stalls['slices'] = [];
  // The first scrape resets the server's histogram, so slices cover the window only (not start-up and provisioning).
  if (isVitals) await fetch(`${base}/metrics`).then((r) => r.text()).catch(() => '');
  const sliceTimer = setInterval(() => {
    const endSec = Math.round((performance.now() - w0) / 1000);
    const generatorLoopMaxMs = Math.round(genLoop.max / 1e6);
    genLoop.reset();
    const scrape = isVitals ? fetch(`${base}/metrics`).then((r) => r.text()).catch(() => '') : Promise.resolve('');
    void scrape.then((text) => {
      const m = /^nodejs_eventloop_lag_max_seconds (\S+)/m.exec(text);
      slices.push({ endSec, serverLoopMaxMs: m ? Math.round(Number(m[1]) * 1000) : null, generatorLoopMaxMs });
    });
  }, 5000);
  const tenths: Tenth[] = [];
  let last = { cpuSec: cpu0.cpuSec, threads: threadsSample(target.pids()), published: 0 };
  const tenthTimer = setInterval(() => {
    const now = performance.now();
    const c = procsSample(target.pids());
    const threads = threadsSample(target.pids());
    const n = measuredPublished - last.published;
    const perMessage = (sec: number): number => (n > 0 ? Math.round((sec * 1e6) / n) : 0);
    const threadsUsPerMessage = Object.fromEntries(Object.entries(threads).map(([k, v]) => [k, perMessage(v - (last.threads[k] ?? 0))]));
    tenths.push({ endSec: Math.round((now - w0) / 1000), cpuUsPerMessage: perMessage(c.cpuSec - last.cpuSec), threadsUsPerMessage, rssMB: Math.round(c.rssBytes / 1048576) });
    last = { cpuSec: c.cpuSec, threads, published: measuredPublished };
  }, (o.seconds * 1000) / 10);
  await sleep(o.seconds * 1000);
  clearInterval(tenthTimer);
  clearInterval(sliceTimer);
  genLoop.disable();
  measuring = false;
  const wall = (performance.now() - w0) / 1000;
  const cpu1 = procsSample(target.pids());
  const th1 = threadsSample(target.pids());
  const role1 = rolePids ? Object.fromEntries(Object.entries(rolePids).map(([r, ps]) => [r, procsSample(ps)])) : null;
  const gen1 = process.cpuUsage(gen0);
  const dashDelta = dashMsgs - msgs0;
  clearInterval(timer);
  clearInterval(seenCheck);

  // ---------------------------------------------------------------- teardown
  await inBatches(devs, 100, async (d) => void (await d.client?.endAsync(true).catch(() => undefined)));
  for (const s of sockets) s.terminate();
  for (const s of subs) await s.endAsync(true).catch(() => undefined);
  const serverCpu = (cpu1.cpuSec - cpu0.cpuSec) / wall;
  const mb = (b: number): number => Math.round(b / 1048576);
  return {
    target: target.kind,
    options: o,
    setupSec: { provision: Math.round(provisionSec * 10) / 10, connect: Math.round(connectSec * 10) / 10 },
    published: measuredPublished,
    publishPerSec: Math.round(measuredPublished / wall),
    acked,
    dashboardMessages: dashDelta,
    dashboardMessagesPerSec: Math.round(dashDelta / wall),
    latencyMs: { alert: summary(alertH), vitals: summary(vitalsH), puback: summary(ackH) },
    probesLost: probeFlips > 0 ? probesLost : 0,
    server: {
      cpuCores: Math.round(serverCpu * 1000) / 1000,
      cpuUsPerMessage: measuredPublished > 0 ? Math.round(((cpu1.cpuSec - cpu0.cpuSec) * 1e6) / measuredPublished) : 0,
      rssMB: mb(cpu1.rssBytes),
      rssIdleMB: mb(idle.rssBytes),
      rssPerDeviceKB: Math.round((cpu1.rssBytes - idle.rssBytes) / 1024 / o.devices),
      threadCores: Object.fromEntries(Object.entries(th1).map(([k, v]) => [k, Math.round(((v - (th0[k] ?? 0)) / wall) * 1000) / 1000]).filter(([, v]) => (v as number) > 0.001)),
      tenths,
    },
    generator: { cpuCores: Math.round(((gen1.user + gen1.system) / 1e6 / wall) * 1000) / 1000 },
    stalls: { lateProbes, slices },
    ...(role0 && role1
      ? {
          roles: Object.fromEntries(
            Object.keys(role1).map((r) => {
              const cpu = (role1[r]?.cpuSec ?? 0) - (role0[r]?.cpuSec ?? 0);
              return [r, { cpuCores: Math.round((cpu / wall) * 1000) / 1000, cpuUsPerMessage: measuredPublished > 0 ? Math.round((cpu * 1e6) / measuredPublished) : 0, rssMB: mb(role1[r]?.rssBytes ?? 0) }];
            }),
          ),
        }
      : {}),
    errors,
  };
}
