/**
 * WebSocket fan-out benchmark: N dashboard clients across W wards on one gateway (embedded
 * bus, in-memory DuckDB). Measures, per alert, the time from publishing it on the bus to
 * its arrival on each client in scope (p50/p99 of every delivery, and of the last client
 * per alert), and the gateway's memory per idle subscribed connection. Clients run in a
 * child process so the gateway's memory and CPU are its own.
 *
 *   npm run build && node dist/load/ws-bench.js                 # 1,000 clients, 10 wards, 3 runs
 *   node dist/load/ws-bench.js --clients 200 --runs 1 --alerts 50 # quick
 *
 * Raw JSON goes to load/results/ws-bench-<time>.json (git-ignored); the summary to stdout.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { publishAlert, publishSample, startHarness } from '../test/support/gateway-harness.js';

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ClientJob {
  url: string;
  tokens: Array<{ token: string; ward: string }>;
}
type ToChild = { kind: 'start'; job: ClientJob } | { kind: 'report' } | { kind: 'exit' };
type FromChild = { kind: 'ready'; connected: number; ms: number } | { kind: 'report'; arrivals: Record<string, number[]>; vitals: number; errors: number };

// ------------------------------------------------------------------ child: the dashboards
async function clientMain(): Promise<void> {
  const arrivals: Record<string, number[]> = {};
  let vitals = 0;
  let errors = 0;
  const sockets: WebSocket[] = [];
  const send = (m: FromChild) => process.send?.(m);
  process.on('message', async (m: ToChild) => {
    if (m.kind === 'start') {
      const t0 = now();
      const open = (t: { token: string; ward: string }) =>
        new Promise<void>((resolve, reject) => {
          const ws = new WebSocket(m.job.url.replace(/^http/, 'ws') + '/ws', { headers: { authorization: `Bearer ${t.token}` } });
          sockets.push(ws);
          let subscribed = false;
          ws.on('message', (data) => {
            const at = now();
            const text = data.toString();
            // Cheap type check first: most traffic is vitals.
            if (text.startsWith('{"type":"vitals"')) return void vitals++;
            const msg = JSON.parse(text) as { type: string; alert?: { id: string } };
            if (msg.type === 'ready') ws.send(JSON.stringify({ op: 'subscribe', wards: [t.ward] }));
            else if (msg.type === 'snapshot' && !subscribed) {
              subscribed = true;
              resolve();
            } else if (msg.type === 'alert' && msg.alert) (arrivals[msg.alert.id] ??= []).push(at);
            else if (msg.type === 'error') errors++;
          });
          ws.on('error', reject);
        });
      // Connect in batches: a thousand simultaneous handshakes is a storm, not a dashboard.
      for (let i = 0; i < m.job.tokens.length; i += 50) await Promise.all(m.job.tokens.slice(i, i + 50).map(open));
      send({ kind: 'ready', connected: sockets.length, ms: now() - t0 });
    } else if (m.kind === 'report') send({ kind: 'report', arrivals, vitals, errors });
    else {
      for (const s of sockets) s.terminate();
      process.exit(0);
    }
  });
}

// ------------------------------------------------------------------ parent: the gateway
function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
const median = (xs: number[]) => pct([...xs].sort((a, b) => a - b), 50);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

interface RunResult {
  clients: number;
  wards: number;
  alerts: number;
  deliveries: number;
  expectedDeliveries: number;
  deliveryMs: { p50: number; p99: number; max: number };
  lastClientMs: { p50: number; p99: number; max: number };
  memory: { heapPerConnKiB: number; rssPerConnKiB: number; heapDeltaMiB: number; rssDeltaMiB: number };
  connectMs: number;
  vitalsReceived: number;
  errors: number;
}

function memSnapshot(): { heap: number; rss: number } {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external + m.arrayBuffers, rss: m.rss };
}

async function runOnce(o: { clients: number; wards: number; alerts: number; alertRate: number; patientsPerWard: number; vitalsHz: number }): Promise<RunResult> {
  const h = await startHarness();
  const gw = await h.gateway({ VITALS_LOG_LEVEL: 'warn' });
  const wards = Array.from({ length: o.wards }, (_, i) => `W${String(i + 1).padStart(2, '0')}`);
  const tokens: ClientJob['tokens'] = [];
  for (let i = 0; i < o.clients; i++) {
    const ward = wards[i % o.wards] as string;
    tokens.push({ ward, token: await h.token({ sub: `bench-${i}`, role: 'nurse', wards: [ward] }, 3600) });
  }
  // A ward with patients and their latest vitals, so snapshots are realistic.
  for (const w of wards) for (let p = 0; p < o.patientsPerWard; p++) await publishSample(h.bus, `${w}-P${p}`, w, { hr: 70, spo2: 97, rr: 16 });
  await sleep(200);
  const before = memSnapshot();

  const here = fileURLToPath(import.meta.url);
  const child: ChildProcess = fork(here, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <K extends FromChild['kind']>(kind: K) => new Promise<Extract<FromChild, { kind: K }>>((resolve) => {
    const on = (m: FromChild) => {
      if (m.kind === kind) {
        child.off('message', on);
        resolve(m as Extract<FromChild, { kind: K }>);
      }
    };
    child.on('message', on);
  });
  child.send({ kind: 'start', job: { url: gw.url, tokens } } satisfies ToChild);
  const ready = await next('ready');
  await sleep(500);
  const after = memSnapshot();

  // Background vitals at vitalsHz per patient while alerts go out at alertRate per second.
  let stop = false;
  // Devices are not synchronised: spread each second's samples over ten 100 ms slices.
  const background = (async () => {
    if (o.vitalsHz <= 0) return;
    const patients = wards.flatMap((w) => Array.from({ length: o.patientsPerWard }, (_, p) => ({ w, id: `${w}-P${p}` })));
    const slices = 10;
    for (let tick = 0; !stop; tick++) {
      const slice = patients.filter((_, i) => i % slices === tick % slices);
      const t = Date.now();
      for (const p of slice) await publishSample(h.bus, p.id, p.w, { hr: 60 + Math.round(Math.random() * 40), spo2: 95 }, t);
      await sleep(1000 / o.vitalsHz / slices);
    }
  })();
  const published: Record<string, { t: number; ward: string }> = {};
  for (let k = 0; k < o.alerts; k++) {
    const ward = wards[k % o.wards] as string;
    const id = `bench-a-${k}`;
    const t = now();
    published[id] = { t, ward };
    await publishAlert(h.bus, { id, patientId: `${ward}-P${k % o.patientsPerWard}`, ward });
    await sleep(1000 / o.alertRate);
  }
  await sleep(1500);
  stop = true;
  await background;
  child.send({ kind: 'report' } satisfies ToChild);
  const rep = await next('report');
  child.send({ kind: 'exit' } satisfies ToChild);
  await new Promise((r) => child.once('exit', r));
  await h.close();

  const perDelivery: number[] = [];
  const lastClient: number[] = [];
  const perWard = o.clients / o.wards;
  for (const [id, p] of Object.entries(published)) {
    const arr = rep.arrivals[id] ?? [];
    for (const a of arr) perDelivery.push(a - p.t);
    if (arr.length) lastClient.push(Math.max(...arr) - p.t);
  }
  perDelivery.sort((a, b) => a - b);
  lastClient.sort((a, b) => a - b);
  const conns = ready.connected;
  return {
    clients: conns,
    wards: o.wards,
    alerts: o.alerts,
    deliveries: perDelivery.length,
    expectedDeliveries: Math.round(o.alerts * perWard),
    deliveryMs: { p50: round(pct(perDelivery, 50)), p99: round(pct(perDelivery, 99)), max: round(perDelivery[perDelivery.length - 1] ?? NaN) },
    lastClientMs: { p50: round(pct(lastClient, 50)), p99: round(pct(lastClient, 99)), max: round(lastClient[lastClient.length - 1] ?? NaN) },
    memory: {
      heapPerConnKiB: round((after.heap - before.heap) / conns / 1024, 1),
      rssPerConnKiB: round((after.rss - before.rss) / conns / 1024, 1),
      heapDeltaMiB: round((after.heap - before.heap) / 1048576, 1),
      rssDeltaMiB: round((after.rss - before.rss) / 1048576, 1),
    },
    connectMs: round(ready.ms, 0),
    vitalsReceived: rep.vitals,
    errors: rep.errors,
  };
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      child: { type: 'boolean', default: false },
      clients: { type: 'string', default: '1000' },
      wards: { type: 'string', default: '10' },
      alerts: { type: 'string', default: '200' },
      'alert-rate': { type: 'string', default: '20' },
      'patients-per-ward': { type: 'string', default: '24' },
      'vitals-hz': { type: 'string', default: '1' },
      runs: { type: 'string', default: '3' },
    },
  });
  if (a.child) return clientMain();
  const o = { clients: Number(a.clients), wards: Number(a.wards), alerts: Number(a.alerts), alertRate: Number(a['alert-rate']), patientsPerWard: Number(a['patients-per-ward']), vitalsHz: Number(a['vitals-hz']) };
  if (!(globalThis as { gc?: unknown }).gc) console.error('note: run with node --expose-gc for steadier memory figures');
  const runs: RunResult[] = [];
  for (let i = 0; i < Number(a.runs); i++) {
    const r = await runOnce(o);
    runs.push(r);
    console.error(`run ${i + 1}: ${JSON.stringify(r)}`);
  }
  const med = (f: (r: RunResult) => number) => round(median(runs.map(f)));
  const summary = {
    bench: 'ws-fanout',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', memGiB: round(os.totalmem() / 2 ** 30, 1), node: process.version, platform: `${os.platform()} ${os.release()}` },
    options: o,
    median: {
      deliveryP50Ms: med((r) => r.deliveryMs.p50),
      deliveryP99Ms: med((r) => r.deliveryMs.p99),
      lastClientP50Ms: med((r) => r.lastClientMs.p50),
      lastClientP99Ms: med((r) => r.lastClientMs.p99),
      heapPerConnKiB: med((r) => r.memory.heapPerConnKiB),
      rssPerConnKiB: med((r) => r.memory.rssPerConnKiB),
    },
    complete: runs.every((r) => r.deliveries === r.expectedDeliveries && r.errors === 0),
    runs,
  };
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const dir = path.join(root, 'load', 'results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `ws-bench-${summary.date.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(summary, null, 2));
  console.log(JSON.stringify({ ...summary, runs: undefined, file }, null, 2));
  if (!summary.complete) process.exitCode = 1;
}

await main();
