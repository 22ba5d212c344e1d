/**
 * Issue 11's growth run against `vitals start` as its own process (the shipped executable's node
 * flags): G ward gateways each upload S one-second samples of backfill as 500-sample QoS 1
 * batches while P live patients deteriorate, one after another over the upload. Measures what the
 * in-process e2e test (test/e2e/live-before-backlog.e2e.test.ts) cannot: the server's own RSS and
 * CPU, with /readyz and /healthz probed from outside its event loop.
 *
 *   npm run build && node dist/load/growth-run.js                       # 200 x 12,000 (9.6 M values), 10 probes
 *   node dist/load/growth-run.js --gateways 20 --samples 12000 --runs 3  # smaller
 *
 * Prints one JSON line per run and the medians; raw JSON under load/results/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { loadSigningKey, signToken } from '../platform/jwt.js';
import { storeRateFifths } from './lib/growth.js';
import { procsSample, startVitals, type Target } from './lib/procs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({
  options: {
    gateways: { type: 'string', default: '200' },
    samples: { type: 'string', default: '12000' },
    probes: { type: 'string', default: '10' },
    runs: { type: 'string', default: '1' },
  },
});
const GATEWAYS = Number(args.gateways);
const SAMPLES = Number(args.samples);
const PROBES = Number(args.probes);
const BATCH = 500;
const WARD = '4B';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => void process.stderr.write(`[growth] ${s}\n`);

async function waitFor<T>(what: string, fn: () => Promise<T | null> | T | null, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve(fn()).catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

function connect(port: number, id: string, token: string): Promise<MqttClient | null> {
  return new Promise((resolve) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: id, username: id, password: token, reconnectPeriod: 0, connectTimeout: 10_000 });
    const fail = (): void => {
      c.end(true);
      resolve(null);
    };
    c.once('connect', () => {
      c.off('close', fail);
      resolve(c);
    });
    c.once('error', fail);
    c.once('close', fail);
  });
}

async function stored(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = /^vitals_sink_rows_total\{topic="vitals\.backlog"\} (\S+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

const pct = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))] ?? Number.NaN);
};

async function once(run: number) {
  // Gateways upload as fast as flow control lets them: their rate limit is not what is measured.
  const target: Target = await startVitals(root, 'embedded', 0, { VITALS_DEVICE_RATE: '100000' });
  const base = `http://127.0.0.1:${target.httpPort}`;
  try {
    const key = await loadSigningKey(target.dataDir);
    const admin = await signToken(key, { sub: 'growth', role: 'admin', wards: ['*'] }, 7200);
    const nurse = await signToken(key, { sub: 'growth-nurse', role: 'nurse', wards: [WARD] }, 7200);
    const device = async (id: string, patientId: string): Promise<MqttClient> => {
      const r = await fetch(`${base}/api/devices`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ deviceId: id, patientId, ward: WARD, bed: id }) });
      if (r.status !== 201) throw new Error(`provisioning: HTTP ${r.status}`);
      const { token } = (await r.json()) as { token: string };
      return waitFor(`${id} connect`, () => connect(target.mqttPort, id, token), 60_000, 200);
    };
    const gateways: MqttClient[] = [];
    for (let g = 0; g < GATEWAYS; g += 20) gateways.push(...(await Promise.all(Array.from({ length: Math.min(20, GATEWAYS - g) }, (_, k) => device(`gw-${g + k}`, `MRN-GW-${g + k}`)))));
    const probes = await Promise.all(Array.from({ length: PROBES }, (_, i) => device(`live-${i}`, `MRN-LIVE-${i}`)));

    const raised = new Map<string, () => void>();
    const ws = new WebSocket(`ws://127.0.0.1:${target.httpPort}/ws`, { headers: { authorization: `Bearer ${nurse}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.on('message', (buf: Buffer) => {
        const m = JSON.parse(String(buf)) as { type: string; event?: string; alert?: { patientId: string } };
        if (m.type === 'ready') ws.send(JSON.stringify({ op: 'subscribe', wards: [WARD] }));
        else if (m.type === 'snapshot') resolve();
        else if (m.type === 'alert' && m.event === 'raised' && m.alert) raised.get(m.alert.patientId)?.();
      });
    });

    // Outside the server's loop: /readyz (queries the store) and /healthz (the loop only) every 100 ms.
    const readyMs: number[] = [];
    const healthMs: number[] = [];
    let probing = true;
    const timed = async (p: string, into: number[]): Promise<void> => {
      const t0 = performance.now();
      const r = await fetch(`${base}${p}`, { signal: AbortSignal.timeout(30_000) }).catch(() => null);
      await r?.arrayBuffer();
      into.push(performance.now() - t0);
    };
    const readyLoop = (async () => {
      while (probing) {
        await Promise.all([timed('/readyz', readyMs), timed('/healthz', healthMs)]);
        await sleep(100);
      }
    })();

    // Store progress, server RSS and CPU every second.
    const progress: Array<{ t: number; rows: number }> = [];
    let peakRss = 0;
    const cpu0 = procsSample(target.pids());
    const t0 = performance.now();
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, procsSample(target.pids()).rssBytes);
      void stored(base).then((rows) => progress.push({ t: performance.now(), rows }), () => undefined);
    }, 1000);

    const messages = Math.ceil(SAMPLES / BATCH);
    const start = Date.now() - 3_600_000 - SAMPLES * 1000;
    let acked = 0;
    const upload = Promise.all(
      gateways.map(async (gw, g) => {
        for (let m = 0; m < messages; m++) {
          const n = Math.min(BATCH, SAMPLES - m * BATCH);
          const samples = Array.from({ length: n }, (_, i) => ({ ts: start + (m * BATCH + i) * 1000, hr: 70 + (i % 5), spo2: 97, rr: 15, temp: 36.8 }));
          await gw.publishAsync(`devices/gw-${g}/vitals`, JSON.stringify({ samples }), { qos: 1 });
          acked++;
        }
      }),
    );
    const total = messages * GATEWAYS;
    // Rows stored when the last batch was acknowledged: the store's rate after it is the store alone.
    const storedAtUploadEnd = upload.then(() => stored(base), () => Number.NaN);
    const alertMs: number[] = [];
    let probedDuringUpload = 0;
    for (let i = 0; i < PROBES; i++) {
      // Spread over the upload: probe i once i/P of the batches are acknowledged.
      await waitFor(`upload ${i}/${PROBES}`, () => acked >= Math.max(10, Math.floor((total * i) / PROBES)) || acked >= total || null, 3_600_000);
      const now = Date.now();
      // Three minutes of an emergency-level picture ending now (rules need it sustained).
      const samples = Array.from({ length: 37 }, (_, k) => ({ ts: now - (36 - k) * 5000, hr: 125, spo2: 84, rr: 26, temp: 38.6, sbp: 95 }));
      const seen = new Promise<void>((res) => raised.set(`MRN-LIVE-${i}`, res));
      const tp = performance.now();
      await probes[i]!.publishAsync(`devices/live-${i}/vitals`, JSON.stringify({ samples }), { qos: 1 });
      await Promise.race([seen, sleep(60_000)]);
      alertMs.push(performance.now() - tp);
      if (acked < total) probedDuringUpload++;
    }
    await upload;
    const expected = GATEWAYS * SAMPLES;
    await waitFor('backfill stored', async () => ((await stored(base)) >= expected ? true : null), 3_600_000, 500);
    const wall = (performance.now() - t0) / 1000;
    const cpu = procsSample(target.pids()).cpuSec - cpu0.cpuSec;
    clearInterval(sampler);
    progress.push({ t: performance.now(), rows: await stored(base) });
    probing = false;
    await readyLoop;
    const { firstFifth, lastFifth, fifths } = storeRateFifths(progress, expected);
    const rowsAtUploadEnd = await storedAtUploadEnd;
    for (const c of [...gateways, ...probes]) await c.endAsync(true).catch(() => undefined);
    ws.close();
    const result = {
      run,
      gateways: GATEWAYS,
      samplesPerGateway: SAMPLES,
      storedRows: progress.at(-1)?.rows ?? 0,
      expectedRows: expected,
      seconds: Math.round(wall),
      storeRowsPerSec: { firstFifth, lastFifth, ratio: Math.round((lastFifth / firstFifth) * 100) / 100, fifths, rowsAtUploadEnd },
      serverPeakRssMB: Math.round(peakRss / 1048576),
      serverCpuUsPerSample: Math.round((cpu * 1e6) / expected),
      alertMs: alertMs.map(Math.round),
      alertMaxMs: Math.round(Math.max(...alertMs)),
      probedDuringUpload,
      readyz: { p99: pct(readyMs, 0.99), max: Math.round(Math.max(...readyMs)), n: readyMs.length },
      healthz: { p99: pct(healthMs, 0.99), max: Math.round(Math.max(...healthMs)) },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return result;
  } finally {
    await target.stop();
  }
}

const startedAt = new Date();
const loadStart = os.loadavg().map((x) => Math.round(x * 10) / 10);
const results: Array<Awaited<ReturnType<typeof once>>> = [];
for (let r = 1; r <= Number(args.runs); r++) {
  log(`run ${r}/${args.runs}: ${GATEWAYS} gateways x ${SAMPLES} samples, ${PROBES} live probes`);
  results.push(await once(r));
}
const med = (f: (x: (typeof results)[number]) => number): number => pct(results.map(f), 0.5);
const summary = {
  startedAt: startedAt.toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', memGB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadStart, loadEnd: os.loadavg().map((x) => Math.round(x * 10) / 10) },
  medians: {
    storeRatio: med((x) => x.storeRowsPerSec.ratio * 100) / 100,
    serverPeakRssMB: med((x) => x.serverPeakRssMB),
    alertMaxMs: med((x) => x.alertMaxMs),
    readyzMaxMs: med((x) => x.readyz.max),
    healthzMaxMs: med((x) => x.healthz.max),
    serverCpuUsPerSample: med((x) => x.serverCpuUsPerSample),
  },
  runs: results,
};
const dir = path.join(root, 'load/results');
await mkdir(dir, { recursive: true });
const file = path.join(dir, `growth-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(file, JSON.stringify(summary, null, 2));
process.stdout.write(`${JSON.stringify({ file: path.relative(root, file), ...summary.medians, machine: summary.machine })}\n`);
