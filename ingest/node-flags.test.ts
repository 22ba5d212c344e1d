import { describe, expect, it } from 'vitest';
import { hasSemiSpaceFlag, SHIPPED_NODE_FLAGS } from './node-flags.js';

describe('hasSemiSpaceFlag', () => {
  it('finds the flag on the command line or in NODE_OPTIONS, in either spelling', () => {
    expect(hasSemiSpaceFlag([], undefined)).toBe(false);
    expect(hasSemiSpaceFlag(['--enable-source-maps'], '--max-old-space-size=512')).toBe(false);
    expect(hasSemiSpaceFlag(['--max-semi-space-size=64'], undefined)).toBe(true);
    expect(hasSemiSpaceFlag([], '--enable-source-maps  --max-semi-space-size=32')).toBe(true);
    expect(hasSemiSpaceFlag(['--max_semi_space_size=16'], '')).toBe(true);
  });
});

describe('the documented ways to start a role pass the shipped node flags', () => {
  it('is on the vitals executable line, npm start and npm run vitals (the image entrypoint: test/compose.test.ts)', async () => {
    const { readFile } = await import('node:fs/promises');
    const root = new URL('../', import.meta.url);
    const shebang = (await readFile(new URL('cli/main.ts', root), 'utf8')).split('\n')[0];
    const flags = SHIPPED_NODE_FLAGS.join(' ');
    expect(shebang).toBe(`#!/usr/bin/env -S node ${flags}`);
    const scripts = (JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start']).toContain(`node ${flags} dist/cli/main.js start`);
    expect(scripts['vitals']).toBe(`node ${flags} dist/cli/main.js`);
  });
});
