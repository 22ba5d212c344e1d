import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from './log.js';
import { counter } from './metrics.js';
import { readinessBody, startOpsServer, type OpsServer, type Readiness } from './ops-server.js';

const log = createLogger({ level: 'silent' });

describe('ops server', () => {
  let server: OpsServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('names each failing check in the /readyz body', () => {
    const body = readinessBody({ ok: false, checks: { bus: { ok: false, detail: 'connecting' }, store: { ok: true }, sink: { ok: false } } });
    expect(body.status).toBe('not ready');
    expect(body.failing).toEqual(['bus: connecting', 'sink: not ready']);
    expect(readinessBody({ ok: true, checks: { bus: { ok: true } } })).toMatchObject({ status: 'ready', failing: [] });
  });

  it('serves /healthz, /readyz (503 until ready) and /metrics on an ephemeral port', async () => {
    const metrics = new Registry();
    counter(metrics, 'x_things_total', 'things').inc(3);
    let state: Readiness = { ok: false, checks: { bus: { ok: false, detail: 'unreachable: connect ECONNREFUSED' } } };
    server = await startOpsServer({ host: '127.0.0.1', port: 0, metrics, ready: async () => state, log });
    expect(server.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${server.port}`;

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as { failing: string[] }).failing).toEqual(['bus: unreachable: connect ECONNREFUSED']);

    state = { ok: true, checks: { bus: { ok: true } } };
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    const m = await fetch(`${base}/metrics`);
    expect(m.headers.get('content-type')).toContain('text/plain');
    expect(await m.text()).toMatch(/^x_things_total 3$/m);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('a readiness check that throws is a 500, not a crash', async () => {
    server = await startOpsServer({ host: '127.0.0.1', port: 0, metrics: new Registry(), ready: () => Promise.reject(new Error('boom')), log });
    expect((await fetch(`http://127.0.0.1:${server.port}/readyz`)).status).toBe(500);
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
  });

  it('refuses a port in use with an error naming it', async () => {
    server = await startOpsServer({ host: '127.0.0.1', port: 0, metrics: new Registry(), ready: async () => ({ ok: true, checks: {} }), log });
    await expect(startOpsServer({ host: '127.0.0.1', port: server.port, metrics: new Registry(), ready: async () => ({ ok: true, checks: {} }), log })).rejects.toThrow(`ops port ${server.port}`);
  });
});
