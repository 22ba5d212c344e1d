/** The unauthenticated budgets, on in-memory streams read the way aedes reads sockets. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../platform/metrics.js';
import { metricValue } from '../test/e2e/ingest-helpers.js';
import { ConnectionGuard, type GuardLimits } from './conn-guard.js';

const limits: GuardLimits = { maxConnectBytes: 1024, maxPacketBytes: 8192, preAuthBytesPerSocket: 4096, preAuthBytesTotal: 10_000, newConnPerSecPerAddress: 100, preAuthPerAddress: 3 };
let now = 0;
const clock = { now: () => now };

/** A stream read with 'readable' + read(), as aedes does, then watched. */
function socket(guard: ConnectionGuard, address = '10.0.0.1'): PassThrough {
  const s = new PassThrough();
  s.on('readable', () => {
    while (s.read() !== null);
  });
  guard.watch(s, address);
  return s;
}
const connect = Buffer.from([0x10, 0x00]);
/** A 2 KiB PUBLISH (remaining length 2048). */
const publish = Buffer.concat([Buffer.from([0x30, 0x80, 0x10]), Buffer.alloc(2048)]);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ConnectionGuard', () => {
  it('closes a socket that sends more than its budget before authenticating; not after', async () => {
    const metrics = createMetricsRegistry();
    const g = new ConnectionGuard(limits, clock, metrics);
    const a = socket(g);
    a.write(Buffer.concat([connect, publish, publish]));
    await tick();
    expect(a.destroyed).toBe(true);
    expect(await metricValue(metrics, 'vitals_ingest_connections_refused_total', { reason: 'preauth_bytes' })).toBe(1);
    const b = socket(g);
    b.write(connect);
    await tick();
    g.authenticated(b);
    for (let i = 0; i < 10; i++) b.write(publish);
    await tick();
    expect(b.destroyed).toBe(false);
    expect(await metricValue(metrics, 'vitals_ingest_preauth_bytes')).toBe(0);
    g.stop();
  });

  it('bounds the bytes all unauthenticated sockets hold together', async () => {
    const metrics = createMetricsRegistry();
    const g = new ConnectionGuard({ ...limits, preAuthPerAddress: 100 }, clock, metrics);
    const socks = Array.from({ length: 6 }, (_, i) => socket(g, `10.0.0.${i}`));
    for (const s of socks) s.write(Buffer.concat([connect, publish]));
    await tick();
    // 2,053 bytes each: four fit in 10,000, the fifth and sixth do not.
    expect(socks.filter((s) => s.destroyed).length).toBe(2);
    expect(await metricValue(metrics, 'vitals_ingest_connections_refused_total', { reason: 'preauth_memory' })).toBe(2);
    // Closing the rest gives their budget back.
    for (const s of socks) s.destroy();
    await tick();
    expect(await metricValue(metrics, 'vitals_ingest_preauth_bytes')).toBe(0);
    g.stop();
  });

  it('limits unauthenticated sockets per address and new connections per second', async () => {
    const metrics = createMetricsRegistry();
    const g = new ConnectionGuard(limits, clock, metrics);
    const open = [0, 1, 2].map(() => (g.admit('10.0.0.9') ? socket(g, '10.0.0.9') : null));
    expect(open.every(Boolean)).toBe(true);
    expect(g.admit('10.0.0.9')).toBe(false);
    expect(g.admit('10.0.0.10')).toBe(true);
    g.authenticated(open[0] as PassThrough);
    expect(g.admit('10.0.0.9')).toBe(true);
    const fast = new ConnectionGuard({ ...limits, newConnPerSecPerAddress: 1 }, clock, metrics);
    expect([1, 2, 3, 4, 5].map(() => fast.admit('10.0.0.11'))).toEqual([true, true, true, true, false]);
    now += 1000;
    expect(fast.admit('10.0.0.11')).toBe(true);
    expect(await metricValue(metrics, 'vitals_ingest_connections_refused_total', { reason: 'address_unauthenticated' })).toBe(1);
    expect(await metricValue(metrics, 'vitals_ingest_connections_refused_total', { reason: 'address_rate' })).toBe(1);
    g.stop();
    fast.stop();
  });
});
