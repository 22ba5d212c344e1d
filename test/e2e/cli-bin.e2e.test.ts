/**
 * The CLI as npm installs it: `npx vitals` runs node_modules/.bin/vitals, a symlink to dist/cli/main.js.
 * The entry check once compared paths without resolving links, so every command printed nothing and exited 0.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSigningKey } from '../../platform/jwt.js';
import { builtCli, tempDir } from './helpers.js';

const CLI = builtCli();

describe('vitals through a symlinked bin', () => {
  it('prints help and mints a token, as `npx vitals` does', async () => {
    const dir = await tempDir('bin');
    const bin = path.join(dir, 'node_modules', '.bin');
    await mkdir(bin, { recursive: true });
    await symlink(CLI, path.join(bin, 'vitals'));
    const run = (args: string[]): string =>
      execFileSync(process.execPath, [path.join(bin, 'vitals'), ...args], {
        encoding: 'utf8',
        env: { ...process.env, VITALS_DATA_DIR: path.join(dir, 'data') },
      });
    expect(run(['--help'])).toMatch(/^Usage: vitals <command>/);
    expect(run(['--version']).trim()).toMatch(/^\d+\.\d+\.\d+/);
    await loadSigningKey(path.join(dir, 'data')); // the key a first server start creates
    expect(run(['token', '--role', 'nurse', '--ward', '4B']).trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });
});

describe('vitals tools start fast', () => {
  it('--version, --help and token load no role: no fastify, Aedes, kafkajs, DuckDB or ClickHouse client', async () => {
    const dir = await tempDir('cli-light');
    // Preloaded into the CLI process: at exit, list the heavy packages CommonJS loaded (ESM imports of them land there too).
    const probe = path.join(dir, 'probe.cjs');
    await writeFile(
      probe,
      "process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify([...new Set(Object.keys(require.cache).map((k) => (/node_modules\\/((@[^/]+\\/)?[^/]+)\\//.exec(k) || [])[1]).filter((p) => /^(fastify|aedes|kafkajs|@duckdb\\/node-api|@clickhouse\\/client|mqtt)$/.test(p || '')))]) + '\\n'));\n",
    );
    await loadSigningKey(dir);
    for (const args of [['--version'], ['--help'], ['token', '--role', 'admin'], ['sim', '--help']]) {
      const r = spawnSync(process.execPath, ['--require', probe, CLI, ...args], { encoding: 'utf8', env: { ...process.env, VITALS_DATA_DIR: dir } });
      expect(r.status, r.stderr).toBe(0);
      expect(/LOADED (.*)/.exec(r.stderr)?.[1], args.join(' ')).toBe('[]');
    }
    // The probe does see them when they load (the gateway's app imports fastify).
    const start = spawnSync(process.execPath, ['--require', probe, '--input-type=module', '-e', `await import(${JSON.stringify(path.resolve(import.meta.dirname, '../../dist/dashboard-gateway/app.js'))})`], { encoding: 'utf8' });
    expect(/LOADED (.*)/.exec(start.stderr)?.[1]).toContain('fastify');
  });
});
