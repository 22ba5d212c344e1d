/**
 * The server side of the HL7 benchmark, its own process (spawned by load/hl7-bench.ts):
 *   - `echo`: the baseline, a bare MLLP receiver that answers every frame with a fixed AA on
 *     receipt (the same framer; nothing parsed, nothing durable): what the transport costs;
 *   - `all` / `ingest`: `runTarget` exactly as `vitals start` / `vitals ingest` run it (config
 *     from the environment, VITALS_HL7_PORT=0), plus one gateway `bench-gw` (allowed from
 *     loopback) and `monitors` monitors `bench-mon-<i>` with patients, written to the registry topic.
 * Prints one JSON line `{"ready":true,"hl7Port":…,"pid":…}`; ends when stdin closes.
 */
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { runTarget, type Running } from '../cli/runtime.js';
import type { ModuleName } from '../cli/modules.js';
import { TOPICS } from '../core/ports.js';
import type { DeviceRecord } from '../core/registry.js';
import { MllpFramer, mllpFrame } from '../ingest/hl7/mllp-framer.js';
import type { IngestService } from '../ingest/ingest.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/log.js';

export const BENCH_GATEWAY = 'bench-gw';
export const benchMonitorId = (i: number): string => `bench-mon-${i}`;

const ECHO_ACK = mllpFrame('MSH|^~\\&|ECHO|ECHO|||20260101000000+0000||ACK^R01^ACK|1|P|2.6\rMSA|AA|1\r');

function startEcho(): Promise<{ port: number; stop(): Promise<void> }> {
  const server = net.createServer({ noDelay: true }, (s) => {
    const framer = new MllpFramer(1024 * 1024);
    s.on('error', () => undefined);
    s.on('data', (chunk: Buffer) => {
      const r = framer.push(chunk);
      if (r.error) return void s.destroy();
      for (let i = 0; i < r.frames.length; i++) s.write(ECHO_ACK);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address() as net.AddressInfo;
      resolve({ port: addr.port, stop: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}

async function startVitals(target: ModuleName, monitors: number): Promise<{ port: number; stop(): Promise<void> }> {
  const cfg = loadConfig({ ...process.env, VITALS_HL7_PORT: '0', VITALS_MQTT_PORT: '0', VITALS_HTTP_PORT: '0', VITALS_OPS_PORT: '0', VITALS_SIM_PATIENTS: '0' });
  if (!cfg.ok) throw new Error(cfg.errors.join('; '));
  const running: Running = await runTarget(target, cfg.config, createLogger({ level: cfg.config.logLevel }));
  const ctx = running.ctx;
  const ingest = running.services.get('ingest') as IngestService | undefined;
  if (!ctx || !ingest?.hl7Port) throw new Error(`target ${target} runs no HL7 listener`);
  const now = Date.now();
  const base = { v: 1 as const, tokenHash: 'none', bed: null, createdAt: now, updatedAt: now };
  const recs: DeviceRecord[] = [
    { ...base, deviceId: BENCH_GATEWAY, kind: 'hl7-gateway', allowFrom: ['127.0.0.1'], patientId: null, ward: null },
    ...Array.from({ length: monitors }, (_, i): DeviceRecord => ({ ...base, deviceId: benchMonitorId(i), kind: 'hl7-monitor', gatewayId: BENCH_GATEWAY, patientId: `BENCH-HL7-P-${i}`, ward: `W${i % 4}` })),
  ];
  await ctx.bus.publish(TOPICS.registry, recs.map((r) => ({ key: r.deviceId, value: JSON.stringify(r) })));
  return { port: ingest.hl7Port, stop: () => running.stop() };
}

async function main(): Promise<void> {
  const target = process.argv[2] ?? 'all';
  const monitors = Number(process.argv[3] ?? 20);
  const srv = target === 'echo' ? await startEcho() : await startVitals(target as ModuleName, monitors);
  // Give the registry view a moment to apply the records before the generator connects.
  await new Promise((r) => setTimeout(r, 500));
  process.stdout.write(`${JSON.stringify({ ready: true, hl7Port: srv.port, pid: process.pid })}\n`);
  const stop = (): void => void srv.stop().then(() => process.exit(0));
  createInterface({ input: process.stdin }).on('close', stop);
  process.on('SIGTERM', stop);
}

// The generator imports the ids above: run only as the entry point.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`hl7-bench-server: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
