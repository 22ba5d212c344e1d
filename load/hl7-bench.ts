/**
 * HL7 benchmark: ORU^R01 messages/s acknowledged AA, and send -> ACK latency, over 1 and 20
 * MLLP connections, each connection a gateway that sends a message and waits for its ACK (as
 * gateways do), for
 *   - echo: a bare MLLP receiver answering on receipt (the baseline every ratio is taken against),
 *   - ingest: `vitals ingest` alone on the embedded bus (MLLP, HL7 path, batcher, log append: no consumers),
 *   - embedded: all roles in one process as `vitals start` runs them,
 *   - kafka: `vitals ingest` alone into Kafka (KAFKA_BROKERS; a fresh topic prefix per run).
 * Loopback only; bounded by runs x cells x (warm-up + duration). Figures are printed, written to
 * load/results/ (git-ignored) and, with --md, into BENCHMARKS.md; never asserted.
 *
 *   npm run build && node dist/load/hl7-bench.js --runs 3 --md
 *   node dist/load/hl7-bench.js --runs 1 --targets embedded --connections 20 --profile
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mapOruR01 } from '../core/hl7/pcd01.js';
import { parseHl7 } from '../core/hl7/message.js';
import { deviceLimits, normaliseSampleObject } from '../core/payload.js';
import { MllpClient, ackCodeOf } from '../device-sim/mllp-client.js';
import { buildPcd01, observationsOf } from '../device-sim/pcd01-message.js';
import { BENCH_GATEWAY, benchMonitorId } from './hl7-bench-server.js';
import { summarizeProfile } from './ingest-bench.js';
import { procSample } from './lib/procs.js';
import { replaceSection } from './lib/report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = [path.resolve(HERE, '../..'), path.resolve(HERE, '..')].find((d) => fs.existsSync(path.join(d, 'infra'))) ?? process.cwd();
const SERVER = path.join(ROOT, 'dist', 'load', 'hl7-bench-server.js');

type Target = 'echo' | 'ingest' | 'embedded' | 'kafka';
interface Cell { target: Target; connections: number; run: number; acked: number; perSec: number; p50: number; p99: number; cpuUsPerMsg: number; rssMb: number; notAa: number }

function args(argv: string[]): { runs: number; duration: number; warmup: number; connections: number[]; targets: Target[]; md: boolean; profile: boolean } {
  const a = { runs: 3, duration: 5, warmup: 1, connections: [1, 20], targets: ['echo', 'ingest', 'embedded', 'kafka'] as Target[], md: false, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => argv[++i] ?? '';
    if (k === '--runs') a.runs = Number(v());
    else if (k === '--duration') a.duration = Number(v());
    else if (k === '--warmup') a.warmup = Number(v());
    else if (k === '--connections') a.connections = v().split(',').map(Number);
    else if (k === '--targets') a.targets = v().split(',') as Target[];
    else if (k === '--md') a.md = true;
    else if (k === '--profile') a.profile = true;
    else throw new Error(`unknown flag ${k}`);
  }
  return a;
}

async function startServer(target: Target, connections: number, profileDir: string | null): Promise<{ child: ChildProcess; port: number; pid: number }> {
  const env: Record<string, string | undefined> = { ...process.env, VITALS_LOG_LEVEL: 'warn', VITALS_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-hl7-bench-')) };
  if (target === 'embedded' || target === 'ingest') env.KAFKA_BROKERS = env.CLICKHOUSE_URL = undefined;
  if (target === 'kafka') {
    if (!env.KAFKA_BROKERS) throw new Error('target kafka needs KAFKA_BROKERS');
    env.VITALS_TOPIC_PREFIX = `hl7bench-${Date.now()}`;
  }
  const role = target === 'echo' ? 'echo' : target === 'embedded' ? 'all' : 'ingest';
  const node = profileDir && target !== 'echo' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...node, SERVER, role, String(connections)], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', resolve);
    child.once('exit', (c) => reject(new Error(`hl7-bench-server ${target} exited ${c}`)));
  });
  const ready = JSON.parse(line) as { hl7Port: number; pid: number };
  return { child, port: ready.hl7Port, pid: ready.pid };
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
}

async function measure(target: Target, connections: number, run: number, o: ReturnType<typeof args>, profileDir: string | null): Promise<Cell> {
  const srv = await startServer(target, connections, profileDir);
  const clients = await Promise.all(Array.from({ length: connections }, () => MllpClient.connect({ host: '127.0.0.1', port: srv.port })));
  let counting = false;
  let stop = false;
  let acked = 0;
  let notAa = 0;
  const lat: number[] = [];
  let seq = 0;
  const loops = clients.map(async (c, i) => {
    while (!stop) {
      const text = buildPcd01({ controlId: `B${++seq}`, gateway: { name: 'BENCH', eui64: BENCH_GATEWAY }, facility: 'W', time: Date.now() - 1000, patientIds: [`BENCH-HL7-P-${i}`], monitors: [{ eui64: benchMonitorId(i), observations: observationsOf({ hr: 72, spo2: 97, rr: 16, temp: 36.8, sbp: 121, dbp: 78 }) }] });
      const t0 = process.hrtime.bigint();
      const ack = await c.send(text);
      if (!counting) continue;
      if (ackCodeOf(ack).code === 'AA') acked++;
      else notAa++;
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  });
  await new Promise((r) => setTimeout(r, o.warmup * 1000));
  const cpu0 = procSample(srv.pid)?.cpuSec ?? 0;
  counting = true;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, o.duration * 1000));
  counting = false;
  const secs = (Date.now() - t0) / 1000;
  const sample = procSample(srv.pid);
  stop = true;
  await Promise.allSettled(loops);
  await Promise.all(clients.map((c) => c.close()));
  srv.child.stdin?.end();
  await new Promise((r) => srv.child.once('exit', r));
  lat.sort((a, b) => a - b);
  const cpuUs = ((sample?.cpuSec ?? 0) - cpu0) * 1e6;
  return { target, connections, run, acked, perSec: acked / secs, p50: pct(lat, 50), p99: pct(lat, 99), cpuUsPerMsg: acked > 0 ? cpuUs / acked : NaN, rssMb: Math.round((sample?.rssBytes ?? 0) / 1048576), notAa };
}

/**
 * CPU of the HL7 path alone, in this process (no sockets, no bus): parse, map PCD-01, validate and
 * serialise the canonical sample. Median of 3 x 20,000 messages after a warm-up.
 */
function pipelineCpuUs(): number {
  const now = Date.now();
  const text = buildPcd01({ controlId: 'X', gateway: { name: 'BENCH', eui64: BENCH_GATEWAY }, facility: 'W', time: now - 1000, patientIds: ['P'], monitors: [{ eui64: 'M', observations: observationsOf({ hr: 72, spo2: 97, rr: 16, temp: 36.8, sbp: 121, dbp: 78 }) }] });
  const limits = deviceLimits({ maxPayloadBytes: 262_144, maxBatchSamples: 500, backfillMs: 86_400_000, maxFutureMs: 300_000 });
  const one = (): void => {
    const p = parseHl7(text);
    if (!p.ok) throw new Error(p.problem);
    const m = mapOruR01(p.message);
    if (!m.ok) throw new Error(m.error.text);
    for (const g of m.content.groups) {
      const r = normaliseSampleObject({ ts: g.ts, ...g.metrics }, { deviceId: 'M', patientId: 'P', ward: 'W', bed: null }, now, limits, 't');
      if ('sample' in r) JSON.stringify(r.sample);
    }
  };
  for (let i = 0; i < 20_000; i++) one();
  const runs = [0, 1, 2].map(() => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < 20_000; i++) one();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 20_000;
  });
  return median(runs);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const r1 = (x: number): string => (Number.isNaN(x) ? '-' : String(Math.round(x * 10) / 10));

function table(cells: Cell[], o: ReturnType<typeof args>, load: number[], file: string, pipelineUs: number): string {
  const lines = [
    `The HL7 path alone (parse, PCD-01 mapping, validation, serialising the sample; no I/O): ${r1(pipelineUs)} µs of CPU per message (median of 3 x 20,000 in the generator process).`,
    '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}, load average at start ${load.map((x) => x.toFixed(2)).join(' / ')} (a shared machine: other engineers' builds and tests ran alongside); ${o.runs} runs, ${o.warmup} s warm-up + ${o.duration} s per cell. Raw: \`${file}\`.`,
    '',
    '| connections | target | ACKed ORU/s (median) | x echo (median of per-run ratios) | send → ACK p50 / p99 ms | server CPU µs/msg | RSS MB | not AA | runs |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const n of o.connections) {
    for (const t of o.targets) {
      const cs = cells.filter((c) => c.target === t && c.connections === n);
      if (cs.length === 0) continue;
      const ratios = cs.map((c) => {
        const base = cells.find((b) => b.target === 'echo' && b.connections === n && b.run === c.run);
        return base ? c.perSec / base.perSec : NaN;
      });
      lines.push(`| ${n} | ${t} | ${Math.round(median(cs.map((c) => c.perSec)))} | ${t === 'echo' ? '1' : (Math.round(median(ratios) * 1000) / 1000).toString()} | ${r1(median(cs.map((c) => c.p50)))} / ${r1(median(cs.map((c) => c.p99)))} | ${r1(median(cs.map((c) => c.cpuUsPerMsg)))} | ${median(cs.map((c) => c.rssMb))} | ${cs.reduce((a, c) => a + c.notAa, 0)} | ${cs.length} |`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = args(process.argv.slice(2));
  const load = os.loadavg();
  const resultsDir = path.join(ROOT, 'load', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const profileDir = o.profile ? path.join(resultsDir, `prof-hl7-${stamp}`) : null;
  const pipelineUs = pipelineCpuUs();
  console.log(`HL7 path alone: ${r1(pipelineUs)} µs CPU per message`);
  const cells: Cell[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const n of o.connections) {
      for (const t of o.targets) {
        const c = await measure(t, n, run, o, profileDir);
        cells.push(c);
        console.log(`run ${run} ${t} x${n}: ${Math.round(c.perSec)} ACKed/s, p50 ${r1(c.p50)} ms, p99 ${r1(c.p99)} ms, ${r1(c.cpuUsPerMsg)} µs/msg, not AA ${c.notAa}`);
      }
    }
  }
  const file = path.join('load', 'results', `hl7-bench-${stamp}.json`);
  fs.writeFileSync(path.join(ROOT, file), JSON.stringify({ startedAt: stamp, loadavg: load, options: o, cells }, null, 2));
  const md = table(cells, o, load, file, pipelineUs);
  console.log(`\n${md}`);
  if (o.md) {
    const p = path.join(ROOT, 'BENCHMARKS.md');
    fs.writeFileSync(p, replaceSection(fs.readFileSync(p, 'utf8'), 'hl7', md));
  }
  if (profileDir && fs.existsSync(profileDir)) for (const f of fs.readdirSync(profileDir)) console.log(`\n${summarizeProfile(path.join(profileDir, f))}`);
}

main().catch((e: unknown) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
