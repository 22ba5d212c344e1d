/**
 * The dashboard socket with real `ws` clients against listening gateways fed from the
 * embedded bus: per-patient vitals coalescing, resume after a disconnect, a deliberately
 * slow (paused) client under the soft and the hard limit, the heartbeat, and two gateway
 * instances on one bus.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayService } from './gateway.js';
import { Client, publishAlert, publishSample, startHarness, until, type Harness } from '../test/support/gateway-harness.js';

const seqs = (c: Client): number[] => c.of('alert').map((m) => m.seq as number);
const pause = (c: Client): void => (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
const resume = (c: Client): void => (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();

describe('dashboard WebSocket', () => {
  let h: Harness;
  let nurse: string;
  beforeAll(async () => {
    h = await startHarness();
    nurse = await h.token({ sub: 'n1', role: 'nurse', wards: ['4B', '6C', '7D'] });
  });
  afterAll(async () => h?.close());

  it('coalesces vitals per patient to at most a few per second, latest wins, even for a fast client', async () => {
    const gw = await h.gateway();
    const c = await Client.subscribed(gw.url, nurse, { wards: ['4B'] });
    const t0 = Date.now();
    // 100 samples in about a second for one patient, each with a new HR.
    for (let i = 0; i < 100; i++) {
      await publishSample(h.bus, 'P-FAST', '4B', { hr: 60 + i }, t0 + i);
      await new Promise((r) => setTimeout(r, 10));
    }
    // Then one SpO2-only and one HR-only sample back to back: merged, not one lost.
    await publishSample(h.bus, 'P-FAST', '4B', { spo2: 93 }, t0 + 200);
    await publishSample(h.bus, 'P-FAST', '4B', { hr: 170 }, t0 + 201);
    const last = await c.waitFor('latest value', (m) => m.type === 'vitals' && m.metrics.hr === 170);
    expect(last.metrics.spo2).toBe(93);
    const got = c.of('vitals').filter((m) => m.patientId === 'P-FAST');
    const elapsedSec = (Date.now() - t0) / 1000;
    expect(got.length).toBeLessThanOrEqual(Math.ceil(elapsedSec * 4) + 2);
    expect(got.length).toBeLessThan(30);
    // Messages of one patient leave at least the interval (250 ms) apart; each may wait up to the
    // batched-write window (100 ms) on the socket, so they arrive more than 150 ms apart.
    const arrivals = c.messages.map((m, i) => ({ m, t: c.arrivals[i] as number })).filter((x) => x.m.type === 'vitals' && x.m.patientId === 'P-FAST');
    for (let i = 1; i < arrivals.length; i++) expect((arrivals[i] as { t: number }).t - (arrivals[i - 1] as { t: number }).t).toBeGreaterThan(140);
    // Another patient is not held back by the first one's interval.
    await publishSample(h.bus, 'P-OTHER', '4B', { hr: 71 });
    await c.waitFor('other patient at once', (m) => m.type === 'vitals' && m.patientId === 'P-OTHER', 1000);
    c.close();
  });

  it('resume: a client that was away gets every missed alert event in order, no duplicates, then live', async () => {
    const gw = await h.gateway();
    const a = await Client.subscribed(gw.url, nurse, { wards: ['6C'] });
    await publishAlert(h.bus, { id: 'r-0', patientId: 'P-6C', ward: '6C' });
    const first = await a.waitFor('first', (m) => m.type === 'alert' && m.alert.id === 'r-0');
    a.close();
    await a.waitClosed();
    // While away: five events in 6C (and noise in another ward).
    for (let i = 1; i <= 5; i++) {
      await publishAlert(h.bus, { id: `r-${i}`, patientId: 'P-6C', ward: '6C' }, i === 3 ? 'escalated' : 'raised');
      await publishAlert(h.bus, { id: `noise-${i}`, patientId: 'P-7D', ward: '7D' });
    }
    await until('hub has them', () => gw.hub.state.openAlerts.has('noise-5'));
    const b = await Client.subscribed(gw.url, nurse, { wards: ['6C'] });
    b.send({ op: 'resume', since: first.seq });
    const resumed = await b.waitFor('resumed', (m) => m.type === 'resumed');
    const missed = b.of('alert');
    expect(missed.map((m) => m.alert.id)).toEqual(['r-1', 'r-2', 'r-3', 'r-4', 'r-5']);
    expect(missed[2].event).toBe('escalated');
    const s = seqs(b);
    expect(s.every((x, i) => i === 0 || x > (s[i - 1] as number))).toBe(true);
    expect(s[0]).toBeGreaterThan(first.seq);
    // `resumed.seq` is where the client now stands in the log (events of other wards count too).
    expect(resumed.seq).toBeGreaterThanOrEqual(s[s.length - 1] as number);
    // Then live, without repeating anything.
    await publishAlert(h.bus, { id: 'r-6', patientId: 'P-6C', ward: '6C' });
    await b.waitFor('live', (m) => m.type === 'alert' && m.alert.id === 'r-6');
    expect(b.of('alert').map((m) => m.alert.id)).toEqual(['r-1', 'r-2', 'r-3', 'r-4', 'r-5', 'r-6']);
    expect(new Set(seqs(b)).size).toBe(seqs(b).length);
    b.close();
  });

  it('a slow (paused) client gets every alert in order while its vitals are coalesced', async () => {
    const gw = await h.gateway({}, { ws: { softLimit: 16 * 1024, hardLimit: 256 * 1024 * 1024 } });
    const slow = await Client.subscribed(gw.url, nurse, { wards: ['7D'] });
    const fromSeq = gw.hub.state.latestSeq();
    pause(slow);
    const pad = 'x'.repeat(16 * 1024); // 1,500 x 16 KiB: far beyond what the kernel buffers hold
    for (let i = 0; i < 1500; i++) {
      await publishAlert(h.bus, { id: `s-${i}`, patientId: `P-7D-${i % 10}`, ward: '7D', message: pad });
      await publishSample(h.bus, `P-7D-${i % 10}`, '7D', { hr: 50 + (i % 100), rr: i });
    }
    await until('hub caught up', () => gw.hub.state.openAlerts.has('s-1499'), 30_000);
    resume(slow);
    await slow.waitFor('last alert', (m) => m.type === 'alert' && m.alert.id === 's-1499', 30_000);
    const ids = slow.of('alert').map((m) => m.alert.id);
    expect(ids).toEqual(Array.from({ length: 1500 }, (_, i) => `s-${i}`));
    const s = seqs(slow);
    expect(s[0]).toBeGreaterThan(fromSeq);
    expect(s.every((x, i) => i === 0 || x > (s[i - 1] as number))).toBe(true);
    // Vitals: far fewer than the 1,500 published, and each patient's latest value arrives.
    await until('latest vitals', () => {
      const v = slow.of('vitals');
      return Array.from({ length: 10 }, (_, p) => 1490 + p).every((rr) => v.some((m) => m.metrics.rr === rr));
    }, 5000);
    expect(slow.of('vitals').length).toBeLessThan(300);
    expect(slow.closed).toBeNull();
    slow.close();
  });

  it('past the hard limit a paused client is closed with 4008, and resumes without a gap or a duplicate', async () => {
    const gw = await h.gateway({}, { ws: { softLimit: 16 * 1024, hardLimit: 512 * 1024 } });
    const slow = await Client.subscribed(gw.url, nurse, { wards: ['7D'] });
    const before = gw.hub.state.latestSeq();
    pause(slow);
    const pad = 'y'.repeat(16 * 1024);
    const ids: string[] = [];
    for (let i = 0; i < 1500; i++) {
      ids.push(`h-${i}`);
      await publishAlert(h.bus, { id: `h-${i}`, patientId: 'P-7D-H', ward: '7D', message: pad });
    }
    await until('hub caught up', () => gw.hub.state.openAlerts.has('h-1499'), 30_000);
    resume(slow);
    const closed = await slow.waitClosed(30_000);
    expect(closed.code).toBe(4008);
    const got = slow.of('alert');
    expect(got.length).toBeLessThan(1500);
    const lastSeq = got.length ? (got[got.length - 1].seq as number) : before;
    // Reconnect, subscribe, resume from the last seq received.
    const again = await Client.subscribed(gw.url, nurse, { wards: ['7D'] });
    again.send({ op: 'resume', since: lastSeq });
    await again.waitFor('resumed', (m) => m.type === 'resumed', 30_000);
    const all = [...got, ...again.of('alert')].map((m) => m.alert.id);
    expect(all).toEqual(ids);
    again.close();
  });

  it('the heartbeat drops a connection that stops answering pings and keeps a live one', async () => {
    const gw = await h.gateway({}, { ws: { heartbeatMs: 150 } });
    const dead = await Client.open(gw.url, nurse, { autoPong: false });
    const live = await Client.open(gw.url, nurse);
    await until('both connected', () => gw.clients() === 2);
    const closed = await dead.waitClosed(3000);
    expect(closed.code).toBe(1006); // terminated, no close handshake
    await new Promise((r) => setTimeout(r, 500));
    expect(live.closed).toBeNull();
    expect(gw.clients()).toBe(1);
    live.close();
  });

  it('two gateway instances on one bus serve their own clients and agree on seq numbers', async () => {
    const g1: GatewayService = await h.gateway();
    const g2: GatewayService = await h.gateway();
    const c1 = await Client.subscribed(g1.url, nurse, { wards: ['4B'] });
    const c2 = await Client.subscribed(g2.url, nurse, { wards: ['4B'] });
    expect(g1.clients()).toBe(1);
    expect(g2.clients()).toBe(1);
    expect(c1.of('snapshot')[0].seq).toBe(c2.of('snapshot')[0].seq);
    for (let i = 0; i < 10; i++) await publishAlert(h.bus, { id: `m-${i}`, patientId: 'P-4B-M', ward: '4B' });
    await c1.waitFor('c1 last', (m) => m.type === 'alert' && m.alert.id === 'm-9');
    await c2.waitFor('c2 last', (m) => m.type === 'alert' && m.alert.id === 'm-9');
    const pairs = (c: Client) => c.of('alert').map((m) => `${m.alert.id}@${m.seq}`);
    expect(pairs(c1)).toEqual(pairs(c2));
    expect(pairs(c1)).toHaveLength(10);
    // A client of one instance can resume on the other from the seq the first gave it.
    c1.close();
    const moved = await Client.subscribed(g2.url, nurse, { wards: ['4B'] });
    moved.send({ op: 'resume', since: c1.of('alert')[4].seq });
    await moved.waitFor('resumed', (m) => m.type === 'resumed');
    expect(moved.of('alert').map((m) => m.alert.id)).toEqual(['m-5', 'm-6', 'm-7', 'm-8', 'm-9']);
    c2.close();
    moved.close();
  });
});
