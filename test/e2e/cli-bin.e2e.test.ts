/**
 * The CLI as npm installs it: `npx vitals` runs node_modules/.bin/vitals, a symlink to dist/cli/main.js.
 * The entry check once compared paths without resolving links, so every command printed nothing and exited 0.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSigningKey } from '../../platform/jwt.js';
import { tempDir } from './helpers.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli/main.js');

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
