/**
 * `npm run bench`: the standard benchmark set, machine-readable JSON in load/results/ and the
 * tables of BENCHMARKS.md (sections "End to end and scale" and "Alert quality").
 *
 *   npm run bench                    # standard set: 3 paired runs per case, scale search, alert quality
 *   npm run bench -- --quick         # CI smoke: one small paired run and a small cohort, < 2 min
 *   npm run bench -- --split         # also the split roles on KAFKA_BROKERS + CLICKHOUSE_URL (2 rules instances)
 *   npm run bench -- --split-only --devices 2000 --no-quality   # the split deployment alone, per-role CPU
 *   npm run bench -- --scale 1000,2000,5000 --runs 5 --no-quality
 *   npm run bench -- --qos '' --scale 5000 --scale-seconds 600 --no-quality --no-md   # one 10-minute scale step
 *   npm run bench -- --qos 1 --seconds 1800 --scale "" --no-quality --no-md --no-baseline   # the 30-minute embedded run, QoS 1 only
 *   npm run bench -- --ingest-kafka  # only: Mosquitto vs `vitals ingest` into Kafka, same generator (load/ingest-bench.ts)
 *   BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- ...   # Node flags for the servers under test
 *   BENCH_SERVER_NODE=.cache/node24/node_modules/.bin/node npm run bench -- ...   # the servers on another Node (the target, 24)
 *
 * Each Vitalstream run is paired with a Mosquitto run driven by the same generator in the same
 * invocation (skipped, and said so, when mosquitto is not installed). Timing never fails the run;
 * it exits 1 only when numbers are not sane (nothing published, no alert seen, every probe lost,
 * an undetected scripted deterioration). Loopback only; every run is bounded in time.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deterioratingCohort, stableCohort } from '../device-sim/cohort.js';
import { qualityRun } from '../device-sim/offline.js';
import { formatReport, type QualityReport } from '../device-sim/score.js';
import { runLoad, type LoadOptions, type LoadResult } from './lib/e2e-load.js';
import { hasMosquitto, serverNodeVersion, startMosquitto, startVitals } from './lib/procs.js';
import { e2eMarkdown, qualityMarkdown, replaceSection } from './lib/report.js';

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (path.basename(dir) === 'dist') return path.dirname(dir);
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    split: { type: 'boolean', default: false },
    'split-only': { type: 'boolean', default: false },
    'rules-instances': { type: 'string' },
    runs: { type: 'string' },
    devices: { type: 'string' },
    dashboards: { type: 'string' },
    seconds: { type: 'string' },
    scale: { type: 'string' },
    /** Measured seconds per scale step (default 45; issue 11 asks for >= 600 so growth shows). */
    'scale-seconds': { type: 'string' },
    'no-quality': { type: 'boolean', default: false },
    'no-e2e': { type: 'boolean', default: false },
    'no-baseline': { type: 'boolean', default: false },
    'no-md': { type: 'boolean', default: false },
    'ingest-kafka': { type: 'boolean', default: false },
    /** Embedded cases to run: 1, 0, both (default `1,0`; `--quick` runs 1) or none (''). */
    qos: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args['ingest-kafka']) {
  // Issue 12 item 3: acknowledged QoS 1 rate into Kafka beside Mosquitto's and ingest's own
  // ceiling on the embedded bus, medians of 3 (or --runs); 1 and 4 producer lanes.
  const { spawnSync } = await import('node:child_process');
  const bench = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ingest-bench.js');
  const r = spawnSync(process.execPath, [bench, '--targets', 'mosquitto,ingest,kafka', '--devices', '100', '--qos', '1', '--no-paced', '--runs', args.runs ?? '3', '--kafka-producers', '1,4'], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (args.help) {
  process.stdout.write(`${(await readFile(fileURLToPath(import.meta.url), 'utf8').catch(() => '')).split('*/')[0]?.replace(/^\/\*\*?|^ \* ?/gm, '') ?? ''}\n`);
  process.exit(0);
}

const root = findRoot();
const splitOnly = args['split-only'];
const withSplit = args.split || splitOnly;
const rulesInstances = Number(args['rules-instances'] ?? 2);
const quick = args.quick;
const runs = Number(args.runs ?? (quick ? 1 : 3));
const base: LoadOptions = {
  devices: Number(args.devices ?? (quick ? 200 : 1000)),
  dashboards: Number(args.dashboards ?? (quick ? 4 : 20)),
  qos: 1,
  seconds: Number(args.seconds ?? (quick ? 15 : 60)),
  warmupSeconds: quick ? 5 : 10,
  wardSize: 40,
  probes: quick ? 4 : 20,
  probeEverySec: 2,
};
const scaleSteps = args.scale !== undefined ? args.scale.split(',').filter(Boolean).map(Number) : quick ? [] : [1000, 2000, 3000, 5000];
const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number) / 2 + (s[Math.ceil((s.length - 1) / 2)] as number) / 2;
};

/** Late probes beside the event-loop stalls around them: tells a server stall from a generator stall. */
function logStalls(r: LoadResult): void {
  const late = r.stalls.lateProbes.map((p) => `${p.atSec}s:${p.ms ?? 'lost'}`).join(' ');
  const slow = r.stalls.slices.filter((s) => (s.serverLoopMaxMs ?? 0) > 200 || s.generatorLoopMaxMs > 200).map((s) => `${s.endSec}s:${s.serverLoopMaxMs ?? '-'}/${s.generatorLoopMaxMs}`);
  const worst = (k: 'serverLoopMaxMs' | 'generatorLoopMaxMs'): number => Math.max(0, ...r.stalls.slices.map((s) => s[k] ?? 0));
  log(`  late probes (s into window: ms): ${late || 'none'}; event-loop max ms server ${worst('serverLoopMaxMs')}, generator ${worst('generatorLoopMaxMs')}; 5-s slices over 200 ms (server/generator): ${slow.join(' ') || 'none'}`);
}

interface Pair {
  vitals: LoadResult;
  baseline: LoadResult | null;
}

async function once(kind: 'embedded' | 'split' | 'mosquitto', o: LoadOptions, tag: string): Promise<LoadResult> {
  const target = kind === 'mosquitto' ? await startMosquitto() : await startVitals(root, kind, rulesInstances);
  try {
    return await runLoad(target, o, tag);
  } catch (e) {
    throw new Error(`${kind} run failed: ${(e as Error).message}\n${target.tail()}`, { cause: e });
  } finally {
    await target.stop();
  }
}

async function pairs(kind: 'embedded' | 'split', o: LoadOptions, n: number, label: string): Promise<Pair[]> {
  const out: Pair[] = [];
  const mosq = !args['no-baseline'] && hasMosquitto();
  for (let i = 0; i < n; i++) {
    const tag = `${Date.now().toString(36)}${i}`;
    log(`${label} run ${i + 1}/${n}: ${kind} ${o.devices} devices QoS ${o.qos}, ${o.dashboards} dashboards, ${o.seconds} s`);
    const vitals = await once(kind, o, tag);
    log(`  alert p50/p99 ${vitals.latencyMs.alert.p50}/${vitals.latencyMs.alert.p99} ms, ${vitals.publishPerSec} msg/s, server ${vitals.server.cpuCores} cores ${vitals.server.rssMB} MB`);
    log(`  by tenth of the window: server µs/msg ${vitals.server.tenths.map((t) => t.cpuUsPerMessage).join(' ')}; RSS MB ${vitals.server.tenths.map((t) => t.rssMB).join(' ')}`);
    for (const thread of Object.keys(vitals.server.tenths[0]?.threadsUsPerMessage ?? {})) {
      log(`    thread ${thread}: µs/msg ${vitals.server.tenths.map((t) => t.threadsUsPerMessage[thread] ?? 0).join(' ')}`);
    }
    logStalls(vitals);
    let baseline: LoadResult | null = null;
    if (mosq) {
      baseline = await once('mosquitto', o, `${tag}m`);
      log(`  mosquitto p50/p99 ${baseline.latencyMs.alert.p50}/${baseline.latencyMs.alert.p99} ms, server ${baseline.server.cpuCores} cores`);
    }
    out.push({ vitals, baseline });
  }
  return out;
}

export interface CaseSummary {
  label: string;
  target: string;
  options: LoadOptions;
  runs: number;
  median: {
    alertP50: number;
    alertP99: number;
    alertMax: number;
    vitalsP99: number;
    pubackP99: number;
    publishPerSec: number;
    dashboardMessagesPerSec: number;
    serverCpuCores: number;
    serverUsPerMessage: number;
    serverRssMB: number;
    rssPerDeviceKB: number;
    generatorCpuCores: number;
  };
  /** Split mode: per role (and the local Kafka/ClickHouse), medians over the runs. */
  roles?: Record<string, { cpuCores: number; cpuUsPerMessage: number; rssMB: number }>;
  baseline: { p50: number; p99: number; serverCpuCores: number; serverUsPerMessage: number; rssMB: number } | null;
  /** Medians of per-pair ratios, Vitalstream / Mosquitto. */
  ratio: { p99: number; cpuPerMessage: number } | null;
  probesLost: number;
}

function summarise(label: string, ps: Pair[]): CaseSummary {
  const v = ps.map((p) => p.vitals);
  const b = ps.map((p) => p.baseline).filter((x): x is LoadResult => x !== null);
  const m = (f: (r: LoadResult) => number): number => Math.round(median(v.map(f)) * 100) / 100;
  const mb = (f: (r: LoadResult) => number): number => Math.round(median(b.map(f)) * 100) / 100;
  const withB = ps.filter((p) => p.baseline !== null) as { vitals: LoadResult; baseline: LoadResult }[];
  return {
    label,
    target: v[0]?.target ?? '',
    options: v[0]?.options as LoadOptions,
    runs: v.length,
    median: {
      alertP50: m((r) => r.latencyMs.alert.p50),
      alertP99: m((r) => r.latencyMs.alert.p99),
      alertMax: m((r) => r.latencyMs.alert.max),
      vitalsP99: m((r) => r.latencyMs.vitals.p99),
      pubackP99: m((r) => r.latencyMs.puback.p99),
      publishPerSec: m((r) => r.publishPerSec),
      dashboardMessagesPerSec: m((r) => r.dashboardMessagesPerSec),
      serverCpuCores: m((r) => r.server.cpuCores),
      serverUsPerMessage: m((r) => r.server.cpuUsPerMessage),
      serverRssMB: m((r) => r.server.rssMB),
      rssPerDeviceKB: m((r) => r.server.rssPerDeviceKB),
      generatorCpuCores: m((r) => r.generator.cpuCores),
    },
    baseline: b.length
      ? { p50: mb((r) => r.latencyMs.alert.p50), p99: mb((r) => r.latencyMs.alert.p99), serverCpuCores: mb((r) => r.server.cpuCores), serverUsPerMessage: mb((r) => r.server.cpuUsPerMessage), rssMB: mb((r) => r.server.rssMB) }
      : null,
    ratio: withB.length
      ? {
          p99: Math.round(median(withB.map((p) => p.vitals.latencyMs.alert.p99 / Math.max(0.01, p.baseline.latencyMs.alert.p99))) * 10) / 10,
          cpuPerMessage: Math.round(median(withB.map((p) => p.vitals.server.cpuUsPerMessage / Math.max(0.01, p.baseline.server.cpuUsPerMessage))) * 10) / 10,
        }
      : null,
    probesLost: v.reduce((a, r) => a + r.probesLost, 0),
    ...(v[0]?.roles
      ? {
          roles: Object.fromEntries(
            Object.keys(v[0].roles).map((role) => [
              role,
              { cpuCores: m((r) => r.roles?.[role]?.cpuCores ?? Number.NaN), cpuUsPerMessage: m((r) => r.roles?.[role]?.cpuUsPerMessage ?? Number.NaN), rssMB: m((r) => r.roles?.[role]?.rssMB ?? Number.NaN) },
            ]),
          ),
        }
      : {}),
  };
}

function qosArg(v: string): (0 | 1)[] {
  const list = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (list.some((x) => x !== '0' && x !== '1')) throw new Error(`--qos takes 1, 0 or 1,0 (got "${v}")`);
  return list.map((x) => (x === '1' ? 1 : 0));
}

const started = new Date();
const problems: string[] = [];
const result: Record<string, unknown> = {
  startedAt: started.toISOString(),
  quick,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', memGB: Math.round(os.totalmem() / 2 ** 30), loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), node: process.version, serverNode: serverNodeVersion() },
  mosquitto: hasMosquitto() && !args['no-baseline'],
};

const cases: CaseSummary[] = [];
const raw: Record<string, Pair[]> = {};
if (!args['no-e2e']) {
  const qosList: (0 | 1)[] = splitOnly ? [] : args.qos !== undefined ? qosArg(args.qos) : quick ? [1] : [1, 0];
  for (const qos of qosList) {
    const label = `embedded QoS ${qos}`;
    const ps = await pairs('embedded', { ...base, qos }, runs, label);
    raw[label] = ps;
    cases.push(summarise(label, ps));
  }
  if (withSplit) {
    const label = `split QoS 1 (${rulesInstances} rules)`;
    const ps = await pairs('split', { ...base, qos: 1 }, runs, label);
    raw[label] = ps;
    cases.push(summarise(label, ps));
  }
  for (const c of cases) {
    if (c.median.publishPerSec <= 0) problems.push(`${c.label}: nothing published`);
    if (c.median.alertP50 <= 0 || !Number.isFinite(c.median.alertP99)) problems.push(`${c.label}: no alert reached a dashboard`);
  }
}

// Scale search: the largest patient count at 1 Hz whose p99 device-to-dashboard alert latency stays under 1 s.
const scale: { target: string; steps: { devices: number; seconds: number; alertP99: number; alertP50: number; serverCpuCores: number; rssMB: number; rssPerDeviceKB: number; probesLost: number; pass: boolean }[]; largestPassing: number | null }[] = [];
if (!args['no-e2e'] && scaleSteps.length) {
  for (const kind of splitOnly ? (['split'] as const) : args.split ? (['embedded', 'split'] as const) : (['embedded'] as const)) {
    const steps: (typeof scale)[number]['steps'] = [];
    for (const n of scaleSteps) {
      const o = { ...base, devices: n, seconds: args['scale-seconds'] !== undefined ? Number(args['scale-seconds']) : Math.min(base.seconds, 45) };
      log(`scale ${kind}: ${n} devices`);
      let r: LoadResult;
      try {
        r = await once(kind, o, `s${Date.now().toString(36)}`);
      } catch (e) {
        log(`  failed: ${(e as Error).message.split('\n')[0]}`);
        steps.push({ devices: n, seconds: o.seconds, alertP99: Number.NaN, alertP50: Number.NaN, serverCpuCores: Number.NaN, rssMB: Number.NaN, rssPerDeviceKB: Number.NaN, probesLost: -1, pass: false });
        break;
      }
      const pass = r.latencyMs.alert.count > 0 && r.latencyMs.alert.p99 < 1000 && r.probesLost === 0;
      steps.push({ devices: n, seconds: o.seconds, alertP99: r.latencyMs.alert.p99, alertP50: r.latencyMs.alert.p50, serverCpuCores: r.server.cpuCores, rssMB: r.server.rssMB, rssPerDeviceKB: r.server.rssPerDeviceKB, probesLost: r.probesLost, pass });
      log(`  p99 ${r.latencyMs.alert.p99} ms, ${r.server.cpuCores} cores, ${r.server.rssMB} MB: ${pass ? 'pass' : 'fail'}`);
      logStalls(r);
      if (!pass) break;
    }
    scale.push({ target: kind, steps, largestPassing: steps.filter((s) => s.pass).map((s) => s.devices).pop() ?? null });
  }
}

let quality: { report: QualityReport; perCohort: Record<string, { report: QualityReport; run: unknown }> } | null = null;
if (!args['no-quality']) {
  const specs = quick ? [stableCohort(5, 24), deterioratingCohort(2, 5)] : [stableCohort(50, 24), deterioratingCohort(10, 5)];
  log(`alert quality: ${specs.map((s) => `${s.name} ${s.patients} patients x ${s.hours} h`).join(', ')}`);
  quality = await qualityRun(specs);
  log(formatReport(quality.report));
  if (quality.report.clinical.detected < quality.report.clinical.events) problems.push('alert quality: a scripted deterioration was not alerted');
}

result.finishedAt = new Date().toISOString();
result.cases = cases;
result.scale = scale;
result.quality = quality ? { overall: { ...quality.report, events: undefined }, perCohort: Object.fromEntries(Object.entries(quality.perCohort).map(([k, v]) => [k, { ...v, report: { ...v.report, events: undefined } }])) } : null;
result.raw = raw;
result.problems = problems;

const outDir = path.join(root, 'load/results');
await mkdir(outDir, { recursive: true });
const file = path.join(outDir, `bench-${quick ? 'quick-' : ''}${started.toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
log(`results: ${path.relative(root, file)}`);

if (!quick && !args['no-md']) {
  const mdPath = path.join(root, 'BENCHMARKS.md');
  let md = await readFile(mdPath, 'utf8');
  // The split deployment alone has a section of its own, so it never replaces the embedded figures.
  if (cases.length || scale.length) md = replaceSection(md, splitOnly ? 'split' : 'e2e', e2eMarkdown(result, cases, scale, path.relative(root, file)));
  if (quality) md = replaceSection(md, 'quality', qualityMarkdown(quality.report, quality.perCohort, path.relative(root, file)));
  await writeFile(mdPath, md);
  log('BENCHMARKS.md tables updated');
}
process.stdout.write(`${JSON.stringify({ file: path.relative(root, file), cases: cases.map((c) => ({ label: c.label, ...c.median, baseline: c.baseline, ratio: c.ratio })), scale, problems })}\n`);
if (problems.length) {
  log(`not sane: ${problems.join('; ')}`);
  process.exit(1);
}
process.exit(0);
