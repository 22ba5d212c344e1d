/**
 * Start-up failures, as an operator meets them: a port already in use, and Kafka or
 * ClickHouse unreachable (the process retries and /readyz says which; nothing crashes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { builtCli, freePort, http, tempDir, waitFor } from './helpers.js';

const CLI = builtCli();
const children: ChildProcess[] = [];

function run(args: string[], env: Record<string, string>): { p: ChildProcess; out: () => string } {
  const chunks: string[] = [];
  const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, VITALS_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout?.on('data', (d) => chunks.push(String(d)));
  p.stderr?.on('data', (d) => chunks.push(String(d)));
  children.push(p);
  return { p, out: () => chunks.join('') };
}


afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('start-up failures', () => {
  it('a port already in use: a clear message naming the port, non-zero exit', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const { p, out } = run(['start'], { KAFKA_BROKERS: '', CLICKHOUSE_URL: '', VITALS_DATA_DIR: await tempDir('port'), VITALS_MQTT_PORT: String(port), VITALS_HTTP_PORT: String(await freePort()), VITALS_SIM_PATIENTS: '0' });
      const code = await new Promise<number | null>((r) => p.once('exit', r));
      expect(code).not.toBe(0);
      expect(out()).toContain(`MQTT port ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  }, 60_000);

  it('Kafka and ClickHouse unreachable: the gateway keeps retrying and /readyz names both', async () => {
    const httpPort = await freePort();
    const { p, out } = run(['gateway'], {
      VITALS_DATA_DIR: await tempDir('unreach'),
      VITALS_HTTP_PORT: String(httpPort),
      KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
      CLICKHOUSE_URL: `http://127.0.0.1:${await freePort()}`,
    });
    const ready = await waitFor('a /readyz answer', async () => {
      const r = await http(`http://127.0.0.1:${httpPort}`, null, 'GET', '/readyz').catch(() => null);
      return r && r.json?.checks?.bus?.detail?.startsWith('unreachable') && r.json?.checks?.store?.detail?.startsWith('unreachable') ? r : null;
    }, 40_000, 250);
    expect(ready.status).toBe(503);
    expect(ready.json.checks.bus.ok).toBe(false);
    expect(ready.json.checks.store.ok).toBe(false);
    expect((await http(`http://127.0.0.1:${httpPort}`, null, 'GET', '/healthz')).status).toBe(200);
    // Still alive after several retries.
    await new Promise((r) => setTimeout(r, 2000));
    expect(p.exitCode).toBeNull();
    expect(out()).toMatch(/not reachable at start; retrying/);
    // SIGTERM while still waiting for the infrastructure is a clean stop.
    p.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => p.once('exit', r));
    expect(code).toBe(0);
  }, 90_000);
});
