import { describe, expect, it } from 'vitest';
import { hasSemiSpaceFlag } from './node-flags.js';

describe('hasSemiSpaceFlag', () => {
  it('finds the flag on the command line or in NODE_OPTIONS, in either spelling', () => {
    expect(hasSemiSpaceFlag([], undefined)).toBe(false);
    expect(hasSemiSpaceFlag(['--enable-source-maps'], '--max-old-space-size=512')).toBe(false);
    expect(hasSemiSpaceFlag(['--max-semi-space-size=64'], undefined)).toBe(true);
    expect(hasSemiSpaceFlag([], '--enable-source-maps  --max-semi-space-size=32')).toBe(true);
    expect(hasSemiSpaceFlag(['--max_semi_space_size=16'], '')).toBe(true);
  });
});
