/**
 * The README as a new user follows it, on this checkout: every fenced bash block is run as written.
 * - `npm ci` and `npm test` are the CI steps themselves: .ci/run runs them on a fresh clone, and this
 *   test runs inside `npm test` (running it here would recurse). The test checks .ci/run has them.
 * - `npm start` is started once, as typed (embedded bus and store), on free ports and a fresh data dir given through the
 *   environment variables the README names (VITALS_HTTP_PORT, VITALS_MQTT_PORT, VITALS_DATA_DIR), with
 *   2 simulated patients instead of 24 to spare the shared CI machine.
 * - Every other block runs in bash (-e -o pipefail) with the same environment, against that server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bashBlocks, commandKind } from '../doc-commands.js';
import { freePort, tempDir, waitFor } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

let server: ChildProcess | null = null;
afterAll(async () => {
  if (!server || server.exitCode !== null || server.pid === undefined) return;
  // npm start -> sh -> node: stop the whole process group, as Ctrl-C does.
  process.kill(-server.pid, 'SIGINT');
  await new Promise((r) => {
    const t = setTimeout(() => {
      if (server?.pid !== undefined && server.exitCode === null) process.kill(-server.pid, 'SIGKILL');
      r(null);
    }, 15_000);
    server?.once('exit', () => r(clearTimeout(t)));
  });
});

describe('README commands, as typed', () => {
  it('run on this checkout: the CI steps are in .ci/run, npm start serves, the device block delivers a sample', { timeout: 300_000 }, async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const blocks = bashBlocks(readme);
    const commands = blocks.flatMap((b) => b.commands);
    expect(commands).toContain('npm test');

    const ci = await readFile(path.join(ROOT, '.ci/run'), 'utf8');
    for (const step of commands.filter((c) => commandKind(c) === 'ci-step')) {
      expect(ci, `.ci/run must run the README's "${step}"`).toMatch(new RegExp(`^${step.replace(/\s+/g, '\\s+')}(\\s|$)`, 'm'));
    }

    const servers = commands.filter((c) => commandKind(c) === 'server');
    expect(servers, 'the README shows how to start the server').toEqual(['npm start']);
    const dataDir = await tempDir('readme');
    // The README's `npm start` is the embedded default: the suite's KAFKA_BROKERS / CLICKHOUSE_URL
    // (shared servers) must not leak into it.
    const { KAFKA_BROKERS: _k, CLICKHOUSE_URL: _c, VITALS_TOPIC_PREFIX: _p, VITALS_CLICKHOUSE_DATABASE: _d, ...inherited } = process.env;
    const env = {
      ...inherited,
      VITALS_HTTP_PORT: String(await freePort()),
      VITALS_MQTT_PORT: String(await freePort()),
      VITALS_HL7_PORT: String(await freePort()),
      VITALS_DATA_DIR: dataDir,
      VITALS_SIM_PATIENTS: '2',
      VITALS_LOG_LEVEL: 'warn',
    };
    let banner = '';
    server = spawn('bash', ['-c', servers[0] ?? ''], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout?.on('data', (d) => (banner += String(d)));
    server.stderr?.on('data', (d) => (banner += String(d)));
    await waitFor('the start banner', () => banner.includes('Stop with Ctrl-C') || server?.exitCode != null, 180_000, 200);
    expect(server.exitCode, banner).toBeNull();
    expect(banner).toContain('bus: embedded, store: embedded duckdb');
    expect(banner).toContain(`Dashboard:  http://127.0.0.1:${env.VITALS_HTTP_PORT}/`);
    expect(banner).toContain(`MQTT:       mqtt://127.0.0.1:${env.VITALS_MQTT_PORT}`);
    expect(banner, 'no deprecation warning at start').not.toMatch(/DeprecationWarning|FSTDEP/);

    const clientBlocks = blocks.filter((b) => b.commands.some((c) => commandKind(c) === 'client'));
    expect(clientBlocks.map((b) => b.heading)).toContain('A device in three commands');
    for (const b of clientBlocks) {
      expect(b.commands.every((c) => commandKind(c) === 'client'), `block under "${b.heading}" mixes server and client commands`).toBe(true);
      const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', b.text], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
      expect(r.status, `README block under "${b.heading}" failed:\n${r.stdout}\n${r.stderr}\nserver:\n${banner}`).toBe(0);
      // A block that publishes a sample shows it back: every metric of the payload, with its value.
      const published = /mosquitto_pub .*-m '(\{[^']*\})'/.exec(b.text)?.[1];
      if (published) {
        const latest = JSON.parse(r.stdout) as Record<string, { value: number }>;
        for (const [metric, value] of Object.entries(JSON.parse(published) as Record<string, number>)) expect(latest[metric]?.value, metric).toBe(value);
      }
    }
  });
});
