/**
 * The flow gate's release when a lane opens: a few held publishes per turn of the event loop, so a
 * crowd of held backfill batches cannot stall the loop, and none once the lane is held again.
 * The gate reads only the bus's lag report, so a lag source stands in for the bus here.
 */
import { describe, expect, it } from 'vitest';
import { TOPICS, type Bus, type ConsumerLag } from '../core/ports.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { FlowGate, RELEASE_PER_TURN } from './flow-gate.js';

function gateWithLag(): { gate: FlowGate; setLag(n: number): void } {
  let lag = 0;
  const bus = { lag: async (): Promise<ConsumerLag[]> => [{ consumer: 'vitals-sink', topic: TOPICS.backlog, lag, required: true }] } as unknown as Bus;
  const gate = new FlowGate(bus, { maxLag: 1000, pollMs: 60_000 }, createMetricsRegistry(), createLogger({ level: 'silent' }));
  return { gate, setLag: (n) => void (lag = n) };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('flow gate release', () => {
  it('lets held publishes through a few per event-loop turn, not all at once', async () => {
    const { gate, setLag } = gateWithLag();
    setLag(900); // backlog lane held (over half the bound)
    await gate.poll();
    let through = 0;
    const held = Array.from({ length: 5 * RELEASE_PER_TURN }, () => gate.admit(['backlog']));
    expect(held.every((p) => p !== null)).toBe(true);
    for (const p of held) void p?.then(() => through++);
    setLag(0);
    await gate.poll();
    await Promise.resolve();
    await Promise.resolve();
    expect(through).toBe(RELEASE_PER_TURN);
    for (let i = 0; i < 5 && through < held.length; i++) await turn();
    expect(through).toBe(held.length);
  });

  it('stops releasing when the lane is held again; the rest go when it reopens', async () => {
    const { gate, setLag } = gateWithLag();
    setLag(900);
    await gate.poll();
    let through = 0;
    const held = Array.from({ length: 4 * RELEASE_PER_TURN }, () => gate.admit(['backlog']));
    for (const p of held) void p?.then(() => through++);
    setLag(0);
    await gate.poll();
    await Promise.resolve();
    await Promise.resolve();
    setLag(900);
    await gate.poll();
    for (let i = 0; i < 5; i++) await turn();
    expect(through).toBe(RELEASE_PER_TURN);
    setLag(0);
    await gate.poll();
    for (let i = 0; i < 6; i++) await turn();
    expect(through).toBe(held.length);
  });

  it('stop() lets every held publish through at once (shutdown)', async () => {
    const { gate, setLag } = gateWithLag();
    setLag(900);
    await gate.poll();
    let through = 0;
    for (let i = 0; i < 3 * RELEASE_PER_TURN; i++) void gate.admit(['backlog'])?.then(() => through++);
    gate.stop();
    await Promise.resolve();
    await Promise.resolve();
    expect(through).toBe(3 * RELEASE_PER_TURN);
  });
});
