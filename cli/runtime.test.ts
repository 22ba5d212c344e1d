// Start-up retries (cli/runtime.ts): a store that is not up yet is retried until it is or a
// SIGTERM stops the start; a store that cannot work (a bad setting) fails the start at once.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isVitalsError } from '../core/errors.js';
import { loadConfig, type Config } from '../platform/config.js';
import { freePort } from '../platform/free-port.js';
import { createLogger } from '../platform/log.js';
import { runTarget, StartAborted } from './runtime.js';

async function sinkConfig(env: Record<string, string>): Promise<Config> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-runtime-'));
  const cfg = loadConfig({ VITALS_DATA_DIR: dir, KAFKA_BROKERS: '', CLICKHOUSE_URL: '', VITALS_OPS_PORT: '0', VITALS_LOG_LEVEL: 'silent', ...env });
  if (!cfg.ok) throw new Error(cfg.errors.join('; '));
  return cfg.config;
}

function capturingLogger(): { log: ReturnType<typeof createLogger>; lines: () => Array<{ msg: string; attempt?: number }> } {
  const out: string[] = [];
  const log = createLogger({ level: 'warn', destination: { write: (s: string) => void out.push(s) } });
  return { log, lines: () => out.map((l) => JSON.parse(l) as { msg: string; attempt?: number }) };
}

describe('runTarget start-up retries', () => {
  it('a non-retriable failure (a bad store setting) fails the start at once, without retrying', async () => {
    const config = { ...(await sinkConfig({})), duckdbThreads: 0 };
    const { log, lines } = capturingLogger();
    const t0 = Date.now();
    const err = await runTarget('sink', config, log).then(
      (r) => r.stop().then(() => null),
      (e: unknown) => e,
    );
    expect(isVitalsError(err) && err.code).toBe('VTL_ERR_CONFIG');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(lines().filter((l) => /retrying/.test(l.msg))).toEqual([]);
  }, 20_000);

  it('when the bus fails for good, the store stops retrying and the start fails with the bus error', async () => {
    const config = await sinkConfig({ CLICKHOUSE_URL: `http://127.0.0.1:${await freePort()}` });
    // A file where the bus wants its directory: the embedded bus cannot open (not a passing condition).
    await writeFile(path.join(config.dataDir, 'bus'), '');
    const { log, lines } = capturingLogger();
    const t0 = Date.now();
    const err = await runTarget('sink', config, log).then(
      (r) => r.stop().then(() => null),
      (e: unknown) => e,
    );
    expect((err as NodeJS.ErrnoException).code).toBe('EEXIST');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(lines().filter((l) => l.msg === 'bus not reachable at start; retrying')).toEqual([]);
  }, 20_000);

  it('an unreachable store is retried with backoff, and an abort during a wait stops at once', async () => {
    const config = await sinkConfig({ CLICKHOUSE_URL: `http://127.0.0.1:${await freePort()}` });
    const { log, lines } = capturingLogger();
    const ac = new AbortController();
    const started = runTarget('sink', config, log, ac.signal).then(
      (r) => r.stop().then(() => null),
      (e: unknown) => e,
    );
    // Attempt 3 waits 400-800 ms: abort early in that wait.
    while (!lines().some((l) => l.msg === 'store not reachable at start; retrying' && l.attempt === 3)) await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    ac.abort();
    expect(await started).toBeInstanceOf(StartAborted);
    expect(Date.now() - t0).toBeLessThan(350);
  }, 30_000);
});
