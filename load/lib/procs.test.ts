import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasMosquitto, serverNode, serverNodeVersion, startMosquitto } from './procs.js';

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

describe('the runtime of the servers under test', () => {
  it('is this process\'s own unless BENCH_SERVER_NODE names another, whose version it reports', () => {
    const saved = process.env.BENCH_SERVER_NODE;
    try {
      delete process.env.BENCH_SERVER_NODE;
      expect(serverNode()).toBe(process.execPath);
      expect(serverNodeVersion()).toBe(process.version);
      // Another path to a node binary: asked for its version (a copy of this one answers with this version).
      process.env.BENCH_SERVER_NODE = process.argv0.includes('/') ? process.argv0 : 'node';
      expect(serverNode()).toBe(process.env.BENCH_SERVER_NODE);
      expect(serverNodeVersion()).toMatch(/^v\d+\.\d+\.\d+$/);
    } finally {
      if (saved === undefined) delete process.env.BENCH_SERVER_NODE;
      else process.env.BENCH_SERVER_NODE = saved;
    }
  });
});
