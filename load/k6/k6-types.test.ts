/** k6 itself is not installable here: the scripts are type-checked against @types/k6 instead. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('k6 scripts', () => {
  it('type-check against @types/k6', () => {
    const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
    const project = fileURLToPath(new URL('./tsconfig.json', import.meta.url));
    expect(() => execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'pipe' })).not.toThrow();
  });
});
