import { chmod, mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTarget, type Running } from '../cli/runtime.js';
import { loadConfig } from './config.js';
import { secureDataDir } from './data-dir.js';
import { createLogger } from './log.js';

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

/** Every path under `dir` with its permission bits. */
async function modes(dir: string): Promise<Array<[string, number, boolean]>> {
  const { readdir } = await import('node:fs/promises');
  const out: Array<[string, number, boolean]> = [];
  const walk = async (p: string): Promise<void> => {
    const st = await stat(p);
    out.push([path.relative(dir, p) || '.', st.mode & 0o777, st.isDirectory()]);
    if (st.isDirectory()) for (const n of await readdir(p)) await walk(path.join(p, n));
  };
  await walk(dir);
  return out;
}

describe('data dir permissions', () => {
  let running: Running | null = null;
  afterAll(async () => running?.stop());

  it('tightens a dir and files readable by others, and says which', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-perm-'));
    await chmod(dir, 0o755);
    await mkdir(path.join(dir, 'bus'), { mode: 0o755 });
    await writeFile(path.join(dir, 'bus', 'seg.log'), 'x', { mode: 0o644 });
    await chmod(path.join(dir, 'bus'), 0o755);
    await chmod(path.join(dir, 'bus', 'seg.log'), 0o644);
    const fixed = await secureDataDir(dir);
    expect(fixed.sort()).toEqual(['.', 'bus', path.join('bus', 'seg.log')].sort());
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(path.join(dir, 'bus', 'seg.log'))).toBe(0o600);
  });

  it('a running embedded deployment leaves nothing in its data dir readable by others', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-perm-run-'));
    process.umask(0o022); // what a shell usually hands a service
    const cfg = loadConfig({ VITALS_DATA_DIR: dir, VITALS_MQTT_PORT: '0', VITALS_HTTP_PORT: '0', VITALS_SIM_PATIENTS: '0', KAFKA_BROKERS: '', CLICKHOUSE_URL: '', VITALS_LOG_LEVEL: 'silent' });
    if (!cfg.ok) throw new Error(cfg.errors.join('; '));
    running = await runTarget('all', cfg.config, createLogger({ level: 'silent' }));
    const all = await modes(dir);
    expect(all.length).toBeGreaterThan(3);
    expect(all.filter(([, m, isDir]) => m !== (isDir ? 0o700 : 0o600)).map(([p, m]) => `${p} ${m.toString(8)}`)).toEqual([]);
  });
});
