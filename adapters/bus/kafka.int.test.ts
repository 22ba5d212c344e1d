import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Bus, BusRecord, Subscription } from '../../core/ports.js';
import kafkajs from 'kafkajs';
import { busContract } from '../../test/support/bus-contract.js';
import { MAX_BUNDLE_RECORDS } from './kafka/bundle.js';
import { createKafkaBus, describeKafkaTopics, laneOf, mapKafkaError } from './kafka.js';

// The full suite runs against a real broker: the global setup starts one (or uses the given
// KAFKA_BROKERS). Unset means the setup did not run: fail loudly rather than skip.
const brokersEnv = process.env['KAFKA_BROKERS'];

describe('Kafka bus environment', () => {
  it('KAFKA_BROKERS is set (test/global-setup.ts provides it)', () => {
    expect(brokersEnv, 'KAFKA_BROKERS must point at a real Kafka for the integration suite').toBeTruthy();
  });
});

const brokers = (brokersEnv ?? '').split(',').filter(Boolean);

busContract('kafka', () => createKafkaBus({ brokers, clientId: 'vitals-contract', connectTimeoutMs: 15_000, retryBackoffMs: { initial: 50, max: 500 } }), {
  partitions: 3,
});

// The same contract with every (non-compacted) test topic bundled, as samples and backlog are.
busContract('kafka, bundled topics', () => createKafkaBus({ brokers, clientId: 'vitals-contract-bundled', connectTimeoutMs: 15_000, retryBackoffMs: { initial: 50, max: 500 } }), {
  partitions: 3,
  bundled: true,
});

describe('Kafka bundles', () => {
  it('a bundle is delivered as its records, in order, and committed only after all of them were handled', async () => {
    const bus = await createKafkaBus({ brokers, clientId: 'vitals-bundles', connectTimeoutMs: 15_000, retryBackoffMs: { initial: 50, max: 200 } });
    const t = `contract.bundle.${randomUUID().slice(0, 8)}`;
    const g = `bundle-${randomUUID().slice(0, 8)}`;
    const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    const subs: Subscription[] = [];
    try {
      await admin.connect();
      await bus.ensureTopics([{ name: t, partitions: 1, bundled: true }]);
      // One publish of 60 records of several keys: they share the partition, so they travel as bundles.
      const sent = Array.from({ length: 60 }, (_, i) => ({ key: `patient-${i % 5}`, value: `{"i":${i},"note":"é漢"}`, timestamp: 1_796_600_000_000 + i }));
      await bus.publish(t, sent);
      const [end] = await admin.fetchTopicOffsets(t);
      expect(Number(end?.high)).toBeLessThan(sent.length); // bundled: fewer Kafka records than records
      expect(Number(end?.high)).toBeGreaterThanOrEqual(Math.ceil(sent.length / MAX_BUNDLE_RECORDS));

      // The handler fails once, half-way through what it was given: everything is redelivered.
      const calls: BusRecord[][] = [];
      let failed = false;
      subs.push(
        await bus.consume({
          groupId: g,
          topics: [t],
          handler: async (rs) => {
            calls.push(rs);
            if (!failed) {
              failed = true;
              throw new Error('store down after half of them');
            }
          },
        }),
      );
      const handled = (): BusRecord[] => calls.slice(1).flat();
      const deadline = Date.now() + 30_000;
      while (handled().length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(failed).toBe(true);
      expect((calls[0] ?? []).length).toBeGreaterThan(1);
      const got = handled();
      expect(got.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp }))).toEqual(sent);
      // Records of one bundle share its offset; offsets never go back.
      const offsets = got.map((r) => BigInt(r.offset));
      for (let i = 1; i < offsets.length; i++) expect((offsets[i] as bigint) >= (offsets[i - 1] as bigint)).toBe(true);
      expect(new Set(offsets).size).toBe(Number(end?.high));
      await (subs.pop() as Subscription).stop();

      // Committed after all were handled: the group's next member gets only what came later.
      await bus.publish(t, [{ key: 'patient-0', value: 'later' }]);
      const next: BusRecord[] = [];
      subs.push(await bus.consume({ groupId: g, topics: [t], handler: async (rs) => void next.push(...rs) }));
      const until = Date.now() + 30_000;
      while (next.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500));
      expect(next.map((r) => r.value)).toEqual(['later']);
    } finally {
      await Promise.all(subs.map((s) => s.stop()));
      await admin.disconnect();
      await bus.close();
    }
  });
});

describe('Kafka bus specifics', () => {
  it('fails with a retriable error within connectTimeoutMs, also against a peer that never answers', async () => {
    // Worst case: the TCP connect succeeds and the request then hangs (kafkajs would wait 30 s).
    const sockets = new Set<net.Socket>();
    const blackHole = net.createServer((s) => void sockets.add(s));
    await new Promise<void>((res) => blackHole.listen(0, '127.0.0.1', res));
    const port = (blackHole.address() as net.AddressInfo).port;
    // And a port nobody listens on: taken from the OS, then released.
    const probe = net.createServer();
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
    const closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((res) => probe.close(() => res()));
    try {
      for (const broker of [`127.0.0.1:${port}`, `127.0.0.1:${closedPort}`]) {
        const t0 = Date.now();
        const err = await createKafkaBus({ brokers: [broker], connectTimeoutMs: 1500 }).catch((e: unknown) => e);
        expect(Date.now() - t0, broker).toBeLessThan(4000);
        expect(err, broker).toMatchObject({ code: 'VTL_ERR_BUS_UNAVAILABLE', retriable: true });
      }
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => blackHole.close(() => res()));
    }
  });

  it('maps kafkajs errors to retriable and non-retriable codes', () => {
    const retriesExceeded = Object.assign(new Error('retries'), {
      name: 'KafkaJSNumberOfRetriesExceeded',
      retriable: false,
      cause: Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError', retriable: true }),
    });
    expect(mapKafkaError(retriesExceeded, 'publish')).toMatchObject({ code: 'VTL_ERR_BUS_UNAVAILABLE', retriable: true });
    const tooLarge = Object.assign(new Error('too large'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false });
    expect(mapKafkaError(tooLarge, 'publish')).toMatchObject({ code: 'VTL_ERR_PAYLOAD_TOO_LARGE', retriable: false });
    const unknownTopic = Object.assign(new Error('unknown'), { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true });
    expect(mapKafkaError(unknownTopic, 'publish')).toMatchObject({ code: 'VTL_ERR_NOT_FOUND', retriable: false });
  });

  it('with several producers, concurrent publishes keep per-key order and land exactly once', async () => {
    const bus = await createKafkaBus({ brokers, clientId: 'vitals-lanes', producers: 3 });
    const t = `contract.lanes.${Date.now()}.${process.pid}`;
    const keys = Array.from({ length: 24 }, (_, i) => `patient-${i}`);
    // The keys really spread over the lanes (else this would test one producer).
    expect(new Set(keys.map((k) => laneOf(k, 3))).size).toBe(3);
    const got: BusRecord[] = [];
    try {
      await bus.ensureTopics([{ name: t, partitions: 4 }]);
      // 40 publishes of 24 records each, all in flight together, each key's sequence rising.
      await Promise.all(Array.from({ length: 40 }, (_, n) => bus.publish(t, keys.map((key) => ({ key, value: String(n) })))));
      const sub = await bus.consume({ groupId: `lanes-${Date.now()}`, topics: [t], handler: async (rs) => void got.push(...rs) });
      const deadline = Date.now() + 30_000;
      while (got.length < 40 * keys.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await sub.stop();
    } finally {
      await bus.close();
    }
    expect(got).toHaveLength(40 * keys.length);
    for (const key of keys) {
      expect(got.filter((r) => r.key === key).map((r) => Number(r.value)), key).toEqual(Array.from({ length: 40 }, (_, n) => n));
    }
  });

  it('stop() ends a failing handler backoff at once instead of waiting it out', async () => {
    // A minute between attempts: only a wait that stop() cuts short lets this finish in time.
    const bus = await createKafkaBus({ brokers, clientId: 'vitals-stop-wait', retryBackoffMs: { initial: 60_000, max: 60_000 } });
    const t = `contract.stopwait.${randomUUID().slice(0, 8)}`;
    let calls = 0;
    try {
      await bus.ensureTopics([{ name: t, partitions: 1 }]);
      await bus.publish(t, [{ key: 'k', value: 'v' }]);
      const sub = await bus.consume({
        groupId: `stopwait-${randomUUID().slice(0, 8)}`,
        topics: [t],
        handler: async () => {
          calls++;
          throw new Error('store down');
        },
      });
      const deadline = Date.now() + 30_000;
      while (calls === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500)); // well into the backoff
      const t0 = Date.now();
      await sub.stop();
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(calls).toBe(1);
    } finally {
      await bus.close();
    }
  });

  it('a partition owner whose rebuild fails is retried, and no record is handed over before it succeeds', async () => {
    const bus = await createKafkaBus({ brokers, clientId: 'vitals-handover-retry', connectTimeoutMs: 15_000 });
    const id = randomUUID().slice(0, 8);
    const t = `handover.${id}`;
    let failures = 0;
    let rebuilt = false;
    const got: BusRecord[] = [];
    const early: BusRecord[] = [];
    try {
      await bus.ensureTopics([{ name: t, partitions: 2 }]);
      await bus.publish(t, Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: String(i) })));
      const sub = await bus.consume({
        groupId: `handover-${id}`,
        topics: [t],
        partitioned: {
          onAssigned: async () => {
            if (failures < 2) {
              failures++;
              throw new Error('checkpoint store unavailable');
            }
            rebuilt = true;
            return 'earliest';
          },
          onRevoked: async () => undefined,
        },
        handler: async (rs) => {
          if (!rebuilt) early.push(...rs);
          got.push(...rs);
        },
      });
      await sub.caughtUp;
      await sub.stop();
    } finally {
      await bus.close();
    }
    expect(failures).toBe(2);
    expect(early).toEqual([]);
    expect(got.map((r) => Number(r.value)).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('creates topics with the compaction and retention configs of their specs', async () => {
    const bus = await createKafkaBus({ brokers, clientId: 'vitals-contract' });
    try {
      const name = `contract.cfg.${Date.now()}`;
      await bus.ensureTopics([{ name, partitions: 1, compacted: true }, { name: `${name}.r`, partitions: 2, retentionMs: 3_600_000 }]);
      await bus.ensureTopics([{ name, partitions: 1, compacted: true }]);
      const [compacted, retained] = await describeKafkaTopics(brokers, [name, `${name}.r`]);
      expect(compacted).toMatchObject({ partitions: 1, configs: { 'cleanup.policy': 'compact' } });
      expect(retained).toMatchObject({ partitions: 2, configs: { 'retention.ms': '3600000' } });
    } finally {
      await bus.close();
    }
  });

  it('partition-owning members split co-partitioned topics, keep a key on one member, and hand partitions over', async () => {
    const buses = await Promise.all([1, 2].map((i) => createKafkaBus({ brokers, clientId: `vitals-copart-${i}`, connectTimeoutMs: 15_000 })));
    const [b1, b2] = buses as [Bus, Bus];
    const id = randomUUID().slice(0, 8);
    const topics = [`copart.${id}.a`, `copart.${id}.b`];
    const groupId = `copart-${id}`;
    await b1.ensureTopics(topics.map((name) => ({ name, partitions: 4 })));
    const member = (bus: Bus) => {
      const m = { owned: new Set<number>(), got: [] as BusRecord[], revoked: [] as number[], sub: null as Subscription | null };
      const start = async (): Promise<void> => {
        m.sub = await bus.consume({
          groupId,
          topics,
          partitioned: {
            onAssigned: async (parts) => {
              for (const p of parts) m.owned.add(p);
              return 'earliest';
            },
            onRevoked: async (parts) => {
              m.revoked.push(...parts);
              for (const p of parts) m.owned.delete(p);
            },
          },
          handler: async (rs) => void m.got.push(...rs),
        });
      };
      return { m, start };
    };
    const a = member(b1);
    const b = member(b2);
    const waitUntil = async (cond: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 45_000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await a.start();
      await a.m.sub?.caughtUp;
      expect([...a.m.owned].sort()).toEqual([0, 1, 2, 3]);
      await b.start();
      await waitUntil(() => a.m.owned.size === 2 && b.m.owned.size === 2, 'a 2/2 split');
      expect([...a.m.owned, ...b.m.owned].sort()).toEqual([0, 1, 2, 3]);
      // Sticky: the first member gave up exactly what the second took.
      expect(a.m.revoked.sort()).toEqual([...b.m.owned].sort());
      for (const t of topics) await b1.publish(t, Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `${t}|k${i}` })));
      await waitUntil(() => a.m.got.length + b.m.got.length >= 80, 'all 80 records');
      for (let i = 0; i < 40; i++) {
        const holders = [a.m, b.m].filter((m) => m.got.some((r) => r.key === `k${i}`));
        expect(holders, `key k${i} on one member`).toHaveLength(1);
        expect(holders[0]?.got.filter((r) => r.key === `k${i}`)).toHaveLength(2);
      }
      await b.m.sub?.stop();
      await waitUntil(() => a.m.owned.size === 4, 'the survivor owning every partition');
    } finally {
      await Promise.all([a.m.sub?.stop(), b.m.sub?.stop()]);
      await Promise.all(buses.map((x) => x.close()));
    }
  });
});
