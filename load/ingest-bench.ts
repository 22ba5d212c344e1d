/**
 * Ingest benchmark: acknowledged samples/s and publish->PUBACK latency from 100 and 1,000
 * connected devices, QoS 0 and QoS 1, for
 *   - embedded: all roles in one process as `vitals start` runs them (simulator off),
 *     with flow control the acknowledged rate is the end-to-end rate; the cell also reports
 *     accepted / (window + time until rules and sink have read everything): scored and stored,
 *   - ingest:   `vitals ingest` alone on the embedded bus (nothing consumes it): ingest's ceiling
 *     (opt-in: --targets mosquitto,embedded,ingest),
 *   - kafka:    `vitals ingest` alone into a real Kafka broker (a private one unless --kafka-brokers),
 *   - mosquitto: Debian's Mosquitto (max_inflight_messages 0) receiving the same publishes from
 *     the same generator in the same run: the baseline every ratio is taken against.
 * The broker under test is pinned to CPU 0 and this generator to CPU 1 (taskset); Kafka floats.
 * Loopback only; bounded by --runs x cells x (--warmup + --duration). Figures are printed and
 * written to load/results/ (git-ignored), never asserted.
 *
 *   npm run build && node dist/load/ingest-bench.js                 # 3 runs, everything
 *   node dist/load/ingest-bench.js --runs 1 --duration 3 --devices 100 --qos 1
 *   node dist/load/ingest-bench.js --profile --runs 1               # + --cpu-prof of the vitals servers
 *   node dist/load/ingest-bench.js --targets mosquitto,kafka --baseline-dist .cache/base-dist   # before/after, same run
 *   node dist/load/ingest-bench.js --targets mosquitto,kafka --tuned-node-args "--max-old-space-size=512"   # + V8 flags (every target already runs with the flags of the vitals executable's own line)
 *   node dist/load/ingest-bench.js --summarize load/results/prof-…/x.cpuprofile
 *   BENCH_SERVER_NODE=.cache/node24/node_modules/.bin/node node dist/load/ingest-bench.js …   # servers on Node 24 (.ci/run installs it), generator unchanged
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startPrivateKafka, type PrivateKafka } from '../dev-services/private-kafka.js';
import { SHIPPED_NODE_FLAGS } from '../ingest/node-flags.js';
import { procSample, serverNode, serverNodeVersion, startMosquitto as startSharedMosquitto } from './lib/procs.js';
import { replaceSection } from './lib/report.js';
import { BENCH_TOKEN, GenDevice, benchDeviceId, type GenStats } from './ingest-mqtt-gen.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Repo root from dist/load/ or load/. */
const ROOT = [path.resolve(HERE, '../..'), path.resolve(HERE, '..')].find((d) => fs.existsSync(path.join(d, 'infra'))) ?? process.cwd();
const SERVER = path.join(ROOT, 'dist', 'load', 'ingest-bench-server.js');
const BENCH_PREFIX = `bench-ingest-${Date.now().toString(36)}.`;

/**
 * `ingest`: `vitals ingest` alone on the embedded bus (nothing consumes): ingest's own ceiling.
 * `kafka-pN`: `kafka` with VITALS_KAFKA_PRODUCERS=N (--kafka-producers), for A/B in one run.
 */
type TargetName = 'mosquitto' | 'embedded' | 'ingest' | 'kafka' | `kafka-p${number}` | 'kafka-base' | 'ingest-base' | 'embedded-base' | 'kafka-tuned';
const isKafka = (t: TargetName): boolean => t === 'kafka' || t.startsWith('kafka-');

interface Args {
  runs: number;
  duration: number;
  warmup: number;
  devices: number[];
  qos: Array<0 | 1>;
  targets: TargetName[];
  paced: boolean;
  kafkaBrokers: string | null;
  /** Run the kafka target once per value of VITALS_KAFKA_PRODUCERS (targets kafka-p1, kafka-p4...). */
  kafkaProducers: number[] | null;
  profile: boolean;
  /**
   * A build of other code (a copy of an earlier dist/, e.g. a worktree's) run as target
   * `<name>-base` beside each of `kafka`, `ingest`, `embedded` chosen: before/after in the same
   * run, against the same Mosquitto.
   */
  baselineDist: string | null;
  /** Node flags (e.g. V8 heap sizes) for target `kafka-tuned`: this code into Kafka, so started. */
  tunedNodeArgs: string[];
  summarize: string | null;
  /** Write the table into BENCHMARKS.md between the `bench:ingest` markers. */
  md: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 3, duration: 5, warmup: 1, devices: [100, 1000], qos: [0, 1], targets: ['mosquitto', 'embedded', 'kafka'], paced: true, kafkaBrokers: null, kafkaProducers: null, profile: false, baselineDist: null, tunedNodeArgs: [], summarize: null, md: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--runs') a.runs = Number(v());
    else if (k === '--duration') a.duration = Number(v());
    else if (k === '--warmup') a.warmup = Number(v());
    else if (k === '--devices') a.devices = v().split(',').map(Number);
    else if (k === '--qos') a.qos = v().split(',').map((q) => (q === '0' ? 0 : 1));
    else if (k === '--targets') a.targets = v().split(',') as TargetName[];
    else if (k === '--no-paced') a.paced = false;
    else if (k === '--kafka-brokers') a.kafkaBrokers = v();
    else if (k === '--kafka-producers') a.kafkaProducers = v().split(',').map(Number);
    else if (k === '--profile') a.profile = true;
    else if (k === '--baseline-dist') a.baselineDist = path.resolve(v());
    else if (k === '--tuned-node-args') a.tunedNodeArgs = v().split(' ').filter(Boolean);
    else if (k === '--summarize') a.summarize = v();
    else if (k === '--md') a.md = true;
    else throw new Error(`unknown flag ${k}`);
  }
  // Each Vitalstream target named also runs from the other build (`<target>-base`), in the same run.
  if (a.baselineDist) {
    for (const t of ['kafka', 'ingest', 'embedded'] as const) if (a.targets.includes(t) && !a.targets.includes(`${t}-base`)) a.targets.push(`${t}-base`);
  }
  if (a.tunedNodeArgs.length > 0 && !a.targets.includes('kafka-tuned')) a.targets.push('kafka-tuned');
  if (a.kafkaProducers) a.targets = a.targets.flatMap((t) => (t === 'kafka' ? (a.kafkaProducers as number[]).map((n): TargetName => `kafka-p${n}`) : [t]));
  return a;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU (user + system, us) and RSS (MB) of a pid, from /proc via the shared harness. */
function procCpuUs(pid: number): number {
  return (procSample(pid)?.cpuSec ?? 0) * 1e6;
}

interface ServerStats {
  cpuUs: number;
  rssMb: number;
  /** Samples accepted by ingest (vitals targets only). */
  samples: number | null;
  /** Records required consumers (rules, sink) have not read yet (vitals targets only). */
  lag?: number;
}

interface Target {
  name: TargetName;
  port: number;
  /** Extra CPU (Kafka's JVM) counted beside the broker's own. */
  stats(): Promise<ServerStats & { extraCpuUs: number }>;
  stop(): Promise<void>;
}

/** The shared harness's Mosquitto baseline (TCP_NODELAY, max_inflight_messages 0, deep queues), pinned to CPU 0. */
async function startMosquitto(): Promise<Target> {
  const m = await startSharedMosquitto();
  const pid = m.pids()[0] ?? 0;
  spawnSync('taskset', ['-p', '-c', '0', String(pid)], { stdio: 'ignore' });
  return {
    name: 'mosquitto',
    port: m.mqttPort,
    stats: async () => ({ cpuUs: procCpuUs(pid), rssMb: Math.round((procSample(pid)?.rssBytes ?? 0) / 1048576), samples: null, extraCpuUs: 0 }),
    stop: () => m.stop(),
  };
}

async function startVitals(name: Exclude<TargetName, 'mosquitto'>, dir: string, maxDevices: number, kafka: { brokers: string; pid: () => number | null } | null, profileDir: string | null, baselineDist: string | null, tunedNodeArgs: readonly string[]): Promise<Target> {
  const server = name.endsWith('-base') && baselineDist ? path.join(baselineDist, 'load', 'ingest-bench-server.js') : SERVER;
  if (!fs.existsSync(server)) throw new Error(`${server} missing: run \`npm run build\` first`);
  // Port 0: the server binds a free port and names it in its ready line. A port picked here could
  // be taken by another process before the server binds it (it happened: the cell waited 120 s).
  const mqttPort = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    VITALS_MQTT_PORT: '0',
    VITALS_HTTP_PORT: '0',
    // A split ingest binds its ops port: any free one, so benches and tests never clash.
    VITALS_OPS_PORT: '0',
    VITALS_DATA_DIR: path.join(dir, `${name}-${mqttPort}`),
    VITALS_SIM_PATIENTS: '0',
    // The per-device rate limit is policy; the bench measures the path behind it.
    VITALS_DEVICE_RATE: '100000000',
    // A thousand bench devices connect from loopback at once.
    VITALS_MQTT_CONN_RATE: '100000',
    VITALS_LOG_LEVEL: 'warn',
  };
  delete env.KAFKA_BROKERS;
  delete env.CLICKHOUSE_URL;
  if (kafka) env.KAFKA_BROKERS = kafka.brokers;
  if (name.startsWith('kafka-p')) env.VITALS_KAFKA_PRODUCERS = name.slice('kafka-p'.length);
  // The bench's own topic namespace (the registry topic included), so a shared broker's vitals.*
  // topics are never written; one per invocation, so only the first server start waits for new topics' leaders.
  if (kafka) env.VITALS_TOPIC_PREFIX = BENCH_PREFIX;
  // Every target runs with the flags the `vitals` executable's own line gives node (cli/main.ts); kafka-tuned adds more.
  const nodeArgs = [...SHIPPED_NODE_FLAGS, ...(name === 'kafka-tuned' ? tunedNodeArgs : [])];
  if (profileDir) nodeArgs.push(...['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`]);
  const p = spawn('taskset', ['-c', '0', serverNode(), ...nodeArgs, server, name.startsWith('embedded') ? 'all' : 'ingest', String(maxDevices)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  // Also kept in a file: a stalled cell (devices never acknowledged) is diagnosed from the server's warnings.
  const errLog = fs.createWriteStream(path.join(ROOT, 'load', 'results', `ingest-server-${name}-${mqttPort}.log`));
  p.stderr?.on('data', (d) => {
    err = (err + String(d)).slice(-4000);
    errLog.write(d);
  });
  const lines = createInterface({ input: p.stdout as NodeJS.ReadableStream });
  const waiting: Array<(l: string) => void> = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  let exited = false;
  p.once('exit', () => {
    exited = true;
  });
  const nextLine = (timeoutMs: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const fail = (why: string): void => reject(new Error(`${name} server: ${why}; stderr: ${err}`));
      if (exited) return fail('exited');
      const t = setTimeout(() => fail(`no answer in ${timeoutMs} ms`), timeoutMs);
      const onExit = (): void => {
        clearTimeout(t);
        fail('exited');
      };
      p.once('exit', onExit);
      waiting.push((l) => {
        clearTimeout(t);
        p.off('exit', onExit);
        resolve(l);
      });
    });
  const ready = JSON.parse(await nextLine(120_000)) as { mqttPort: number };
  const jvmPid = kafka?.pid() ?? null;
  return {
    name,
    port: ready.mqttPort,
    stats: async () => {
      p.stdin?.write('stats\n');
      const s = JSON.parse(await nextLine(30_000)) as ServerStats;
      return { ...s, extraCpuUs: jvmPid ? procCpuUs(jvmPid) : 0 };
    },
    stop: async () => {
      p.stdin?.end(); // the server stops itself cleanly (and writes its CPU profile)
      await new Promise<void>((resolve) => (p.exitCode !== null ? resolve() : p.once('exit', () => resolve())));
    },
  };
}

interface CellResult {
  run: number;
  target: TargetName;
  devices: number;
  qos: 0 | 1;
  mode: 'saturate' | 'paced-1hz';
  /** Acknowledged (QoS 1) or sent-and-read (QoS 0) samples per second over the measured window. */
  rate: number;
  /** QoS 0 on vitals targets: samples ingest accepted per second (from its own counter). */
  brokerRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  brokerCpuUsPerMsg: number;
  /** Cores the broker process used over the window (all roles, for embedded). */
  brokerCores: number;
  kafkaCpuUsPerMsg: number | null;
  genCpuUsPerMsg: number;
  rssMb: number;
  window: number;
  unacked: number;
  /**
   * Embedded only: samples accepted in the window / (window + time until the required consumers'
   * lag was 0 afterwards): accepted, scored and stored. Null for other targets.
   */
  e2eRate: number | null;
  drainSecs: number | null;
}

const PAYLOAD = Buffer.from(JSON.stringify({ hr: 72, spo2: 97, rr: 16, temp: 36.8, sbp: 121, dbp: 78, quality: { spo2: 0.95 }, battery: 0.82 }));

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function runCell(t: Target, run: number, devices: number, qos: 0 | 1, mode: CellResult['mode'], a: Args): Promise<CellResult> {
  const stats: GenStats = { sent: 0, acked: 0, latencies: [], recording: false };
  // About 2,000 publishes in flight in all (20 per device at 100 devices, 2 at 1,000); QoS 0 sends
  // that many per fence.
  const window = mode === 'paced-1hz' ? 1 : Math.max(1, Math.round(2000 / devices));
  const devs: GenDevice[] = [];
  const password = BENCH_TOKEN;
  // 50 at a time: ingest refuses a 65th connection from one address still authenticating.
  for (let i = 0; i < devices; i += 50) {
    const ids = Array.from({ length: Math.min(50, devices - i) }, (_, k) => benchDeviceId(i + k));
    devs.push(...(await Promise.all(ids.map(async (id) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await GenDevice.connect(t.port, id, password, qos, PAYLOAD, stats, window);
        } catch (e) {
          if (attempt >= 20) throw e;
          await sleep(250); // the registry view may still be catching up
        }
      }
    }))));
  }
  await sleep(300);
  // Paced devices publish on the pacer's clock only: `running` would make each PUBACK send the next.
  if (mode !== 'paced-1hz') for (const d of devs) d.running = true;
  let pacer: NodeJS.Timeout | null = null;
  if (mode === 'paced-1hz') {
    // Each device once a second, spread evenly over the second.
    let next = 0;
    const perTick = Math.max(1, Math.round(devices / 100));
    pacer = setInterval(() => {
      for (let k = 0; k < perTick; k++) devs[next++ % devices]?.publishOne();
    }, 10);
  } else if (qos === 1) for (const d of devs) d.fill();
  else for (const d of devs) void d.pumpQos0Fenced(window);

  await sleep(a.warmup * 1000);
  stats.recording = true;
  const s0 = await t.stats();
  const g0 = process.cpuUsage();
  const c0 = { sent: stats.sent, acked: stats.acked, at: performance.now() };
  await sleep(a.duration * 1000);
  const c1 = { sent: stats.sent, acked: stats.acked, at: performance.now() };
  const g1 = process.cpuUsage(g0);
  const s1 = await t.stats();
  stats.recording = false;
  if (pacer) clearInterval(pacer);
  for (const d of devs) d.running = false;
  const secs = (c1.at - c0.at) / 1000;
  // End to end: how long after the window until rules and sink have read everything accepted.
  let drainSecs: number | null = null;
  if (t.name.startsWith('embedded') && s1.lag !== undefined) {
    const d0 = performance.now();
    for (let s = s1; (s.lag ?? 0) > 0 && performance.now() - d0 < 300_000; s = await t.stats()) await sleep(200);
    drainSecs = (performance.now() - d0) / 1000;
  }
  // Both QoS: messages the broker has acknowledged (QoS 0: behind an acknowledged fence).
  const msgs = c1.acked - c0.acked;

  // Drain before the next cell: every device waits for what it has outstanding.
  const ok = await Promise.all(devs.map((d) => d.drained(60_000)));
  const unacked = ok.filter((x) => !x).length;
  for (const d of devs) d.close();
  await sleep(500);

  const lat = stats.latencies.sort((x, y) => x - y);
  const brokerMsgs = s0.samples !== null && s1.samples !== null ? s1.samples - s0.samples : null;
  return {
    run,
    target: t.name,
    devices,
    qos,
    mode,
    rate: Math.round(msgs / secs),
    brokerRate: qos === 0 && brokerMsgs !== null ? Math.round(brokerMsgs / secs) : null,
    p50Ms: qos === 1 ? round2(percentile(lat, 50)) : null,
    p99Ms: qos === 1 ? round2(percentile(lat, 99)) : null,
    brokerCpuUsPerMsg: round2((s1.cpuUs - s0.cpuUs) / Math.max(1, msgs)) ?? 0,
    brokerCores: round2((s1.cpuUs - s0.cpuUs) / 1e6 / secs) ?? 0,
    kafkaCpuUsPerMsg: isKafka(t.name) ? round2((s1.extraCpuUs - s0.extraCpuUs) / Math.max(1, msgs)) : null,
    genCpuUsPerMsg: round2((g1.user + g1.system) / Math.max(1, msgs)) ?? 0,
    rssMb: s1.rssMb,
    window,
    unacked,
    e2eRate: drainSecs !== null && brokerMsgs !== null ? Math.round(brokerMsgs / (secs + drainSecs)) : null,
    drainSecs: round2(drainSecs),
  };
}

function round2(x: number | null): number | null {
  return x === null ? null : Math.round(x * 100) / 100;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function machine(): Record<string, string> {
  const sh = (c: string): string => spawnSync('sh', ['-c', c], { encoding: 'utf8' }).stdout.trim();
  return {
    date: new Date().toISOString(),
    nproc: sh('nproc'),
    memory: sh("free -h | awk '/^Mem:/{print $2\" total, \"$7\" available\"}'"),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    node: process.version,
    serverNode: serverNodeVersion(),
    mosquitto: sh("/usr/sbin/mosquitto -h 2>&1 | head -1"),
  };
}

function table(results: CellResult[]): string {
  const key = (r: CellResult): string => `${r.mode}|${r.devices}|${r.qos}`;
  const cells = [...new Set(results.map(key))];
  const rows = ['| load | QoS | target | acked samples/s (median) | x Mosquitto (median of per-run ratios) | end to end samples/s, x Mosquitto (drain s) | p50 / p99 ms | broker CPU us/msg (cores) | generator CPU us/msg (cores) | RSS MB | runs |', '|---|---|---|---|---|---|---|---|---|---|---|'];
  const names = [...new Set(results.map((r) => r.target))];
  for (const c of cells) {
    const [mode, devices, qos] = c.split('|');
    for (const tName of names) {
      const rs = results.filter((r) => key(r) === c && r.target === tName);
      if (rs.length === 0) continue;
      const ratios = rs
        .map((r) => {
          const m = results.find((x) => key(x) === c && x.run === r.run && x.target === 'mosquitto');
          return m && m.rate > 0 ? r.rate / m.rate : null;
        })
        .filter((x): x is number => x !== null);
      const lat = qos === '1' ? `${median(rs.map((r) => r.p50Ms ?? 0)).toFixed(2)} / ${median(rs.map((r) => r.p99Ms ?? 0)).toFixed(2)}` : 'n/a';
      const cpu = `${median(rs.map((r) => r.brokerCpuUsPerMsg)).toFixed(1)} (${median(rs.map((r) => r.brokerCores)).toFixed(2)})` + (isKafka(tName) ? ` (+JVM ${median(rs.map((r) => r.kafkaCpuUsPerMsg ?? 0)).toFixed(1)})` : '');
      const brokerRate = qos === '0' && tName !== 'mosquitto' ? ` (accepted ${Math.round(median(rs.map((r) => r.brokerRate ?? 0)))}/s)` : '';
      const e2eRatios = rs
        .map((r) => {
          const m = results.find((x) => key(x) === c && x.run === r.run && x.target === 'mosquitto');
          return m && m.rate > 0 && r.e2eRate !== null ? r.e2eRate / m.rate : null;
        })
        .filter((x): x is number => x !== null);
      const e2e = e2eRatios.length ? `${Math.round(median(rs.map((r) => r.e2eRate ?? 0)))}, ${median(e2eRatios).toFixed(2)} (${median(rs.map((r) => r.drainSecs ?? 0)).toFixed(1)})` : 'n/a';
      rows.push(`| ${mode === 'paced-1hz' ? `${devices} devices at 1 Hz` : `${devices} devices, saturating`} | ${qos} | ${tName} | ${Math.round(median(rs.map((r) => r.rate)))}${brokerRate} | ${tName === 'mosquitto' ? '1' : ratios.length ? median(ratios).toFixed(2) : 'n/a'} | ${e2e} | ${lat} | ${cpu} | ${median(rs.map((r) => r.genCpuUsPerMsg)).toFixed(1)} (${median(rs.map((r) => (r.genCpuUsPerMsg * r.rate) / 1e6)).toFixed(2)}) | ${Math.round(median(rs.map((r) => r.rssMb)))} | ${rs.length} |`);
    }
  }
  return rows.join('\n');
}

/** Self time per function and per package from a V8 .cpuprofile. */
export function summarizeProfile(file: string, top = 25): string {
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[]; startTime: number; endTime: number; samples: number[] };
  const totalHits = prof.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  const pkgOf = (url: string, fn: string): string => {
    if (!url) return fn.startsWith('(') ? fn : '(native)';
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (nm) return nm[1] as string;
    if (url.startsWith('node:')) return url;
    const m = /\/(dist\/)?([^/]+)\/[^/]+\.js$/.exec(url);
    return m ? `vitals:${m[2]}` : url;
  };
  for (const n of prof.nodes) {
    const h = n.hitCount ?? 0;
    if (!h) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const short = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, '')}:${lineNumber + 1}` : '';
    const k = `${functionName || '(anonymous)'} ${short}`.trim();
    byFn.set(k, (byFn.get(k) ?? 0) + h);
    const p = pkgOf(url, functionName);
    byPkg.set(p, (byPkg.get(p) ?? 0) + h);
  }
  const pct = (h: number): string => `${((100 * h) / totalHits).toFixed(1)}%`;
  const fmt = (m: Map<string, number>, n: number): string =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, h]) => `  ${pct(h).padStart(6)}  ${k}`)
      .join('\n');
  return `${path.basename(file)}: ${totalHits} samples over ${((prof.endTime - prof.startTime) / 1e6).toFixed(1)} s\nby package / area:\n${fmt(byPkg, 15)}\ntop functions (self time):\n${fmt(byFn, top)}`;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.summarize) {
    console.log(summarizeProfile(a.summarize));
    return;
  }
  const info = machine(); // before pinning: nproc counts the CPUs this process may use
  // Generator on CPU 1; brokers go on CPU 0 (PERF_NOTES method). Every thread (`-a`): V8's GC helpers
  // and libuv's pool start before this line and would otherwise float onto the broker's CPU.
  spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  console.log(`ingest bench: ${JSON.stringify(info)}`);
  const resultsDir = path.join(ROOT, 'load', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const stamp = info.date?.replace(/[:.]/g, '-') ?? String(Date.now());
  const profileDir = a.profile ? path.join(resultsDir, `prof-${stamp}`) : null;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-ingest-bench-'));
  let kafka: PrivateKafka | null = null;
  const results: CellResult[] = [];
  const maxDevices = Math.max(...a.devices, a.paced ? 1000 : 0);
  try {
    let kafkaRef: { brokers: string; pid: () => number | null } | null = a.kafkaBrokers ? { brokers: a.kafkaBrokers, pid: () => null } : null;
    if (a.targets.some(isKafka) && !kafkaRef) {
      kafka = await startPrivateKafka({ root: ROOT, dir: path.join(work, 'kafka'), heapMb: 768, progress: (l) => console.log(l) });
      kafkaRef = kafka;
    }
    for (let run = 1; run <= a.runs; run++) {
      const targets: Target[] = [];
      try {
        for (const name of a.targets) {
          if (name === 'mosquitto') targets.push(await startMosquitto());
          else targets.push(await startVitals(name, work, maxDevices, isKafka(name) ? kafkaRef : null, profileDir, a.baselineDist, a.tunedNodeArgs));
        }
        const cells: Array<{ devices: number; qos: 0 | 1; mode: CellResult['mode'] }> = [];
        // Paced first: after a saturating cell the embedded rules and sink still work off a backlog.
        if (a.paced) cells.push({ devices: 1000, qos: 1, mode: 'paced-1hz' });
        for (const devices of a.devices) for (const qos of a.qos) cells.push({ devices, qos, mode: 'saturate' });
        // Mosquitto first, then the others in an order rotated each run: a target measured late in a
        // run meets a busier Kafka (log segments, JVM GC), and A/B figures must not carry that bias.
        const rest = targets.filter((t) => t.name !== 'mosquitto');
        const shift = rest.length > 0 ? (run - 1) % rest.length : 0;
        const order = [...targets.filter((t) => t.name === 'mosquitto'), ...rest.slice(shift), ...rest.slice(0, shift)];
        for (const c of cells) {
          for (const t of order) {
            const r = await runCell(t, run, c.devices, c.qos, c.mode, a);
            results.push(r);
            console.log(JSON.stringify(r));
          }
        }
      } finally {
        for (const t of targets) await t.stop().catch(() => undefined);
      }
    }
  } finally {
    await kafka?.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const file = path.join(resultsDir, `ingest-bench-${stamp}.json`);
  fs.writeFileSync(file, JSON.stringify({ machine: info, args: a, results }, null, 2));
  const summary = table(results);
  console.log(`\n${summary}\n\nraw: ${path.relative(ROOT, file)}`);
  if (a.md) {
    const mdFile = path.join(ROOT, 'BENCHMARKS.md');
    const when = `${info.date?.slice(0, 10)}, ${info.nproc} cores (${info.cpu}), ${info.memory}, load average at start ${info.loadavg}; ${a.runs} runs, ${a.warmup} s warm-up + ${a.duration} s per cell`;
    fs.writeFileSync(mdFile, replaceSection(fs.readFileSync(mdFile, 'utf8'), 'ingest', `${when}. Raw: \`${path.relative(ROOT, file)}\`.\n\n${summary}`));
    console.log('BENCHMARKS.md: ingest section updated');
  }
  if (profileDir && fs.existsSync(profileDir)) for (const f of fs.readdirSync(profileDir)) console.log(`\n${summarizeProfile(path.join(profileDir, f))}`);
}

const isEntry = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
