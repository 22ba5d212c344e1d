/**
 * Processes under test: Vitalstream embedded (`vitals start`), Vitalstream split roles on Kafka +
 * ClickHouse, and a Mosquitto baseline; plus CPU and memory of a set of pids from /proc.
 * Loopback only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SHIPPED_NODE_FLAGS } from '../../ingest/node-flags.js';
import { freePort } from '../../platform/free-port.js';
import { parseDocument, stringify } from 'yaml';

const CLK_TCK = 100;

/** CPU seconds (user + system) and RSS bytes of a pid, from /proc; null when it is gone. */
export function procSample(pid: number): { cpuSec: number; rssBytes: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSec = (Number(f[11]) + Number(f[12])) / CLK_TCK;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return { cpuSec, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
  } catch {
    return null;
  }
}

/**
 * CPU seconds per thread group of the pids: `main` (the event loop thread) and the other threads by
 * name (libuv-worker, V8 workers, native library threads); shows where a server's CPU goes.
 */
export function threadsSample(pids: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = Number(tid) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '').trim() || 'thread';
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) / CLK_TCK;
      } catch {
        /* thread ended */
      }
    }
  }
  return out;
}

/** Summed over pids. */
export function procsSample(pids: number[]): { cpuSec: number; rssBytes: number } {
  let cpuSec = 0;
  let rssBytes = 0;
  for (const p of pids) {
    const s = procSample(p);
    if (s) {
      cpuSec += s.cpuSec;
      rssBytes += s.rssBytes;
    }
  }
  return { cpuSec, rssBytes };
}

export { freePort };

export interface Target {
  kind: 'embedded' | 'split' | 'mosquitto';
  mqttPort: number;
  httpPort: number;
  dataDir: string;
  pids(): number[];
  /** Split mode: the processes of each role (rules may run several instances), and the local Kafka and ClickHouse servers. */
  roles?(): Record<string, number[]>;
  stop(): Promise<void>;
  /** Last lines printed, for diagnosis. */
  tail(): string;
}

function startProc(cmd: string, args: string[], env: Record<string, string>, out: string[]): ChildProcess {
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer): void => {
    out.push(String(d));
    if (out.length > 200) out.splice(0, out.length - 100);
  };
  p.stdout?.on('data', keep);
  p.stderr?.on('data', keep);
  return p;
}

function stopProc(p: ChildProcess, graceMs = 20_000): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
    setTimeout(() => p.kill('SIGKILL'), graceMs).unref();
  });
}

async function waitReady(url: string, timeoutMs: number, procs: ChildProcess[], tail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (procs.some((p) => p.exitCode !== null)) throw new Error(`a process under test exited during start:\n${tail()}`);
    try {
      const r = await fetch(url);
      if (r.status === 200) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms:\n${tail()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Start Vitalstream: `embedded` is `vitals start` (one process, embedded bus and DuckDB, simulator
 * off); `split` is ingest, rules, sink and gateway as processes on KAFKA_BROKERS and CLICKHOUSE_URL
 * (a fresh ClickHouse database per run).
 */
/**
 * The shipped rules with one change for timing: `sbp-low` fires on a single reading (the shipped
 * rule waits for a confirming cuff reading 4-6 min later), so every probe flip raises or resolves an
 * alert at once and its delivery can be timed. Everything else is as shipped.
 */
export async function benchRulesFile(root: string, dir: string): Promise<string> {
  const doc = parseDocument(await readFile(path.join(root, 'stream-rules/default-rules.yaml'), 'utf8'));
  const rules = doc.toJS() as { version: string; rules: Array<Record<string, unknown>> };
  const sbp = rules.rules.find((r) => r.id === 'sbp-low');
  if (!sbp) throw new Error('the shipped rules have no sbp-low rule for the bench probe');
  sbp.for = '0s';
  delete sbp.maxGap;
  rules.version = `${rules.version}+bench-probe`;
  const file = path.join(dir, 'bench-rules.yaml');
  await writeFile(file, stringify(rules));
  return file;
}

/**
 * The Node runtime the servers under test run on: `BENCH_SERVER_NODE` (a path, e.g. Node 24 from
 * `.cache/node24`, the runtime the product targets) or this process's own. The generator stays on
 * this process's runtime, so a Mosquitto baseline in the same invocation is unchanged by it.
 */
export function serverNode(): string {
  return process.env.BENCH_SERVER_NODE || process.execPath;
}

/** The version of {@link serverNode} (e.g. `v24.22.3`), for the results' machine line. */
export function serverNodeVersion(): string {
  const node = serverNode();
  return node === process.execPath ? process.version : spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
}

/** PIDs of the local Kafka broker and ClickHouse server (shared with whatever else uses them). */
function infraPids(): Record<string, number[]> {
  const pgrep = (args: string[]): number[] => {
    const r = spawnSync('pgrep', args, { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.split('\n').filter(Boolean).map(Number) : [];
  };
  return { kafka: pgrep(['-f', 'kafka\\.Kafka']), clickhouse: pgrep(['-f', 'clickhouse-server']) };
}

export async function startVitals(root: string, kind: 'embedded' | 'split', rulesInstances = 2, envOverrides: Record<string, string> = {}): Promise<Target> {
  const cli = path.join(root, 'dist/cli/main.js');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vitals-bench-'));
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const env: Record<string, string> = {
    VITALS_DATA_DIR: dataDir,
    VITALS_HTTP_PORT: String(httpPort),
    VITALS_MQTT_PORT: String(mqttPort),
    // Split ingest, rules and sink each bind an ops port: any free one, so runs never clash.
    VITALS_OPS_PORT: '0',
    VITALS_SIM_PATIENTS: '0',
    VITALS_LOG_LEVEL: 'warn',
    VITALS_RULES_FILE: await benchRulesFile(root, dataDir),
    // The generator provisions thousands of devices through the API with one admin token.
    VITALS_API_RATE_USER: '1000000',
    VITALS_API_RATE_ADDRESS: '1000000',
    // The load generator publishes at 1 Hz per device; burst headroom for catch-up after a stall.
    VITALS_DEVICE_RATE: '50',
    // Thousands of devices connect from loopback at once.
    VITALS_MQTT_CONN_RATE: '100000',
    ...envOverrides,
  };
  const out: string[] = [];
  const procs: ChildProcess[] = [];
  const byRole: Record<string, ChildProcess[]> = {};
  // The flags the `vitals` executable's own line gives node (cli/main.ts), since the server is started
  // through node here; then extra ones, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (not allowed in NODE_OPTIONS).
  const nodeArgs = [...SHIPPED_NODE_FLAGS, ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  if (kind === 'embedded') {
    procs.push(startProc(serverNode(), [...nodeArgs, cli, 'start'], { ...env, KAFKA_BROKERS: '', CLICKHOUSE_URL: '' }, out));
  } else {
    const brokers = process.env.KAFKA_BROKERS;
    const ch = process.env.CLICKHOUSE_URL;
    if (!brokers || !ch) throw new Error('split mode needs KAFKA_BROKERS and CLICKHOUSE_URL (eval "$(npx vitals services up)")');
    // Ephemeral ops ports: several rules instances run side by side; a fresh topic prefix per run keeps runs apart.
    const run = Date.now();
    const splitEnv = { ...env, KAFKA_BROKERS: brokers, CLICKHOUSE_URL: ch, VITALS_CLICKHOUSE_DATABASE: `vitals_bench_${run}`, VITALS_TOPIC_PREFIX: `bench${run}.`, VITALS_OPS_PORT: '0' };
    const roles = ['gateway', 'ingest', ...Array.from({ length: rulesInstances }, () => 'rules'), 'sink'];
    for (const role of roles) {
      const p = startProc(serverNode(), [...nodeArgs, cli, role], splitEnv, out);
      procs.push(p);
      (byRole[role] ??= []).push(p);
    }
  }
  const tail = (): string => out.join('').split('\n').slice(-15).join('\n');
  try {
    await waitReady(`http://127.0.0.1:${httpPort}/readyz`, 120_000, procs, tail);
    // The MQTT listener of a split ingest comes up on its own.
    await waitPort(mqttPort, 60_000);
  } catch (e) {
    await Promise.all(procs.map((p) => stopProc(p, 2000)));
    throw e;
  }
  return {
    kind,
    mqttPort,
    httpPort,
    dataDir,
    pids: () => procs.map((p) => p.pid).filter((x): x is number => x !== undefined),
    ...(kind === 'split'
      ? { roles: () => ({ ...Object.fromEntries(Object.entries(byRole).map(([r, ps]) => [r, ps.map((p) => p.pid).filter((x): x is number => x !== undefined)])), ...infraPids() }) }
      : {}),
    stop: async () => void (await Promise.all(procs.map((p) => stopProc(p)))),
    tail,
  };
}

async function waitPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not listening after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Where a `mosquitto` binary is looked for: PATH, and /usr/sbin where Debian puts it. */
const MOSQUITTO_DIRS = (): string[] => (process.env.PATH ?? '').split(':').concat(['/usr/sbin']);

/** True when a `mosquitto` binary is in `dirs` (Debian: apt-get install mosquitto). */
export function hasMosquitto(dirs: readonly string[] = MOSQUITTO_DIRS()): boolean {
  for (const dir of dirs) {
    try {
      readFileSync(path.join(dir, 'mosquitto'));
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

/**
 * Mosquitto as the plain pub/sub baseline: TCP_NODELAY (as Vitalstream's listener), no inflight cap and a
 * deep queue so QoS 1 is not dropped for a slow subscriber (PERF_NOTES.md).
 */
export async function startMosquitto(searchDirs: readonly string[] = MOSQUITTO_DIRS()): Promise<Target> {
  // A clear refusal rather than spawn's unhandled ENOENT from deep inside a run.
  if (!hasMosquitto(searchDirs)) throw new Error('the Mosquitto baseline needs the mosquitto binary (Debian: apt-get install mosquitto), or leave mosquitto out of --targets');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-bench-mosq-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'set_tcp_nodelay true', 'max_inflight_messages 0', 'max_queued_messages 100000', 'persistence false', 'log_dest none', ''].join('\n'),
  );
  const out: string[] = [];
  const bin = hasMosquitto() && readable('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';
  const p = startProc(bin, ['-c', conf], {}, out);
  const tail = (): string => out.join('').split('\n').slice(-10).join('\n');
  try {
    await waitPort(port, 10_000);
  } catch (e) {
    await stopProc(p, 1000);
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}\n${tail()}`, { cause: e });
  }
  const stop = async (): Promise<void> => {
    await stopProc(p, 3000);
    await rm(dir, { recursive: true, force: true }); // its config only; left behind, these piled up in /tmp
  };
  return { kind: 'mosquitto', mqttPort: port, httpPort: 0, dataDir: dir, pids: () => (p.pid ? [p.pid] : []), stop, tail };
}

function readable(f: string): boolean {
  try {
    readFileSync(f);
    return true;
  } catch {
    return false;
  }
}
