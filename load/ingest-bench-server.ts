/**
 * The server side of the ingest benchmark, run as its own process by load/ingest-bench.ts:
 * `runTarget(target)` exactly as `vitals start` / `vitals ingest` run it (config from the
 * environment), plus bench-only device provisioning straight onto the registry topic.
 *
 * Provisioning: the device API hashes each token with scrypt N=16384 (~40 ms of CPU), so 1,000
 * devices would take most of a minute to create and as long again to first connect. The bench
 * writes records whose hash uses N=1024 instead (verifyDeviceToken reads N from the stored hash);
 * the per-message path it measures is unchanged.
 *
 * Protocol on stdio: prints one JSON line `{"ready":true,"mqttPort":…}` when it serves; then
 * answers each stdin line `stats` with `{"cpuUs":…,"rssMb":…,"samples":…,"rejected":…,"stored":…,"lag":…}`
 * (`lag`: records the required consumers have not read yet, summed).
 */
import { randomBytes, scrypt as scryptCb } from 'node:crypto';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { runTarget } from '../cli/runtime.js';
import type { ModuleName } from '../cli/modules.js';
import { TOPICS } from '../core/ports.js';
import type { DeviceRecord } from '../core/registry.js';
import type { IngestService } from '../ingest/ingest.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/log.js';
import { BENCH_TOKEN, benchDeviceId } from './ingest-mqtt-gen.js';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, keylen: number, opts: { N: number; r: number; p: number }) => Promise<Buffer>;


async function cheapHash(token: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(token, salt, 32, { N: 1024, r: 8, p: 1 });
  return `scrypt$1024$8$1$${salt.toString('base64')}$${hash.toString('base64')}`;
}

async function main(): Promise<void> {
  const target = (process.argv[2] ?? 'all') as ModuleName;
  const devices = Number(process.argv[3] ?? 1000);
  const cfg = loadConfig(process.env);
  if (!cfg.ok) throw new Error(cfg.errors.join('; '));
  const log = createLogger({ level: cfg.config.logLevel });
  const running = await runTarget(target, cfg.config, log);
  const ctx = running.ctx;
  if (!ctx) throw new Error('no context');
  const ingest = running.services.get('ingest') as IngestService | undefined;
  if (!ingest) throw new Error(`target ${target} runs no ingest`);

  const tokenHash = await cheapHash(BENCH_TOKEN);
  const now = Date.now();
  const records = Array.from({ length: devices }, (_, i) => {
    const rec: DeviceRecord = { v: 1, deviceId: benchDeviceId(i), tokenHash, patientId: `BENCH-P-${i}`, ward: `W${i % 20}`, bed: String(i), createdAt: now, updatedAt: now };
    return { key: rec.deviceId, value: JSON.stringify(rec) };
  });
  for (let i = 0; i < records.length; i += 500) await ctx.bus.publish(TOPICS.registry, records.slice(i, i + 500));

  const counter = async (name: string): Promise<number> => {
    const m = ctx.metrics.getSingleMetric(name);
    if (!m) return 0;
    return (await m.get()).values.reduce((a, v) => a + v.value, 0);
  };
  process.stdout.write(`${JSON.stringify({ ready: true, mqttPort: ingest.port, pid: process.pid })}\n`);

  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() !== 'stats') return;
    void (async () => {
      const u = process.cpuUsage();
      // Required consumers' unread records (rules, sink): 0 means everything accepted is scored and stored.
      const lag = (await ctx.bus.lag()).reduce((acc, l) => acc + (l.required ? l.lag : 0), 0);
      const out = {
        cpuUs: u.user + u.system,
        rssMb: Math.round(process.memoryUsage().rss / 1048576),
        samples: await counter('vitals_ingest_samples_total'),
        rejected: await counter('vitals_ingest_rejected_total'),
        stored: await counter('vitals_sink_rows_total'),
        lag,
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    })();
  });
  // stdin closed (the bench ended or died): stop like SIGTERM does, so --cpu-prof writes its file.
  rl.on('close', () => {
    void running.stop().then(() => process.exit(0));
  });
  process.on('SIGTERM', () => void running.stop().then(() => process.exit(0)));
}

main().catch((e: unknown) => {
  process.stderr.write(`ingest-bench-server: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
