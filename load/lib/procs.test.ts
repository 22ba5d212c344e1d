import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasMosquitto, startMosquitto } from './procs.js';

describe('the Mosquitto baseline', () => {
  it('refuses with the install hint when no mosquitto binary is found, before spawning anything', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'vitals-no-mosq-'));
    try {
      expect(hasMosquitto([empty])).toBe(false);
      await expect(startMosquitto([empty])).rejects.toThrow(/apt-get install mosquitto/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
