/**
 * The embedded bus at a trickle: process CPU per record with one group and one tail reading
 * (trivial handlers), records published `--per-turn` at a time every `--every-ms`, as ingest
 * publishes one device message at a time. `--no-publish` runs the same timer without publishing:
 * what waking up alone costs on this machine (BENCHMARKS.md, "Where the rest goes: waking up").
 *
 *   node dist/load/bus-trickle-bench.js [--seconds 15] [--per-turn 1] [--every-ms 1] [--no-publish]
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createMemoryBus } from '../adapters/bus/memory.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    'per-turn': { type: 'string', default: '1' },
    'every-ms': { type: 'string', default: '1' },
    'no-publish': { type: 'boolean', default: false },
  },
});
const seconds = Number(args.seconds);
const perTurn = Number(args['per-turn']);
const everyMs = Number(args['every-ms']);

/** utime/stime clock ticks of each of this process's threads. */
async function threadTicks(): Promise<string> {
  const tids = await readdir('/proc/self/task');
  const parts = await Promise.all(
    tids.map(async (tid) => {
      const f = (await readFile(`/proc/self/task/${tid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
      return `${tid}:${f[11]}/${f[12]}`;
    }),
  );
  return parts.join(' ');
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-bus-trickle-'));
const bus = await createMemoryBus({ dataDir: dir });
await bus.ensureTopics([{ name: 's', partitions: 1 }]);
let grouped = 0;
let groupCalls = 0;
let tailed = 0;
let tailCalls = 0;
await bus.consume({ groupId: 'g', topics: ['s'], handler: async (rs) => void ((grouped += rs.length), (groupCalls += 1)) });
await bus.tail({ topics: ['s'], from: 'latest', handler: async (rs) => void ((tailed += rs.length), (tailCalls += 1)) });
// A canonical sample's JSON, as ingest logs it.
const value = JSON.stringify({ v: 1, deviceId: 'dev-0001', patientId: 'pat-0001', ward: 'w1', ts: Date.now(), recvTs: Date.now(), source: 'mqtt', metrics: { hr: 72, spo2: 97, rr: 16, temp: 36.9 }, traceId: '0b6f0a3c-1d2e-4f5a-8b9c-0d1e2f3a4b5c-0' });

const cpu0 = process.cpuUsage();
const t0 = Date.now();
let n = 0;
await new Promise<void>((done) => {
  const tick = setInterval(() => {
    for (let i = 0; i < perTurn; i++, n++) {
      if (!args['no-publish']) void bus.publish('s', [{ key: `p${n % 1000}`, value, timestamp: Date.now() }]);
    }
    if (Date.now() - t0 >= seconds * 1000) {
      clearInterval(tick);
      setTimeout(done, 300);
    }
  }, everyMs);
});
const cpu = process.cpuUsage(cpu0);
console.log(
  `records ${n}${args['no-publish'] ? ' (not published: timer only)' : ''}; group ${grouped} in ${groupCalls} calls, tail ${tailed} in ${tailCalls} calls; ` +
    `process CPU per record ${((cpu.user + cpu.system) / n).toFixed(1)} µs (user ${(cpu.user / n).toFixed(1)}, system ${(cpu.system / n).toFixed(1)})`,
);
console.log(`threads (utime/stime ticks): ${await threadTicks()}`);
await bus.close();
await rm(dir, { recursive: true, force: true });
