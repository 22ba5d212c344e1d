/**
 * The Bus port's behaviour, as one vitest suite that every adapter must pass
 * (memory.test.ts, kafka.int.test.ts). Each test uses its own topics and group ids,
 * so tests never see each other's records, even on a shared broker.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus, BusRecord, OutgoingRecord, Subscription, TopicSpec } from '../../core/ports.js';

/** Options for {@link busContract}. */
export interface BusContractOptions {
  /** Partitions of the test topics (adapters that keep one partition ignore it). Default 3. */
  partitions?: number;
  /** How long to wait for records to arrive. Default 30 s (a real broker's first join is slow). */
  arrivalTimeoutMs?: number;
  /** How long to watch for records that must not arrive. Default 500 ms. */
  quietMs?: number;
  /**
   * Test topics are bundled (TopicSpec.bundled; compacted ones never are). Records of one bundle
   * share their offset, and lag is an estimate (bundles times the records per bundle published).
   */
  bundled?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A handler that records what it was given. */
function collector(): { records: BusRecord[]; batches: number; handler: (rs: BusRecord[]) => Promise<void> } {
  const c = {
    records: [] as BusRecord[],
    batches: 0,
    handler: async (rs: BusRecord[]): Promise<void> => {
      c.batches++;
      c.records.push(...rs);
    },
  };
  return c;
}

function values(rs: readonly BusRecord[]): string[] {
  return rs.map((r) => r.value ?? '<null>');
}

function sorted(xs: readonly string[]): string[] {
  return [...xs].sort();
}

/**
 * Register the Bus contract suite for one adapter.
 * @param name - suite name (the adapter)
 * @param make - builds a fresh, connected bus; called once for the suite and again by lifecycle tests
 */
export function busContract(name: string, make: () => Promise<Bus>, options: BusContractOptions = {}): void {
  const partitions = options.partitions ?? 3;
  const arrival = options.arrivalTimeoutMs ?? 30_000;
  const quiet = options.quietMs ?? 500;
  const bundled = options.bundled ?? false;

  describe(`Bus contract: ${name}`, () => {
    let bus: Bus;
    const subs: Subscription[] = [];

    const topic = async (extra: Partial<TopicSpec> = {}): Promise<string> => {
      const spec: TopicSpec = { name: `contract.${randomUUID().slice(0, 8)}`, partitions, ...(bundled ? { bundled: true } : {}), ...extra };
      await bus.ensureTopics([spec]);
      return spec.name;
    };
    const group = (): string => `contract-${randomUUID().slice(0, 8)}`;
    const track = (s: Subscription): Subscription => {
      subs.push(s);
      return s;
    };
    const stop = async (s: Subscription): Promise<void> => {
      await s.stop();
      subs.splice(subs.indexOf(s), 1);
    };
    const rec = (key: string, value: string | null, timestamp?: number): OutgoingRecord =>
      timestamp === undefined ? { key, value } : { key, value, timestamp };

    beforeAll(async () => {
      bus = await make();
    });

    afterAll(async () => {
      await Promise.all(subs.map((s) => s.stop()));
      await bus?.close();
    });

    it('lag(): a group held back reports what it has not read, and 0 once it has (flow control reads this)', async () => {
      const t = await topic();
      const g = group();
      let release: () => void = () => undefined;
      const gate = new Promise<void>((res) => (release = res));
      const c = collector();
      track(await bus.consume({ groupId: g, topics: [t], handler: async (rs) => { await gate; await c.handler(rs); } }));
      await bus.publish(t, Array.from({ length: 30 }, (_, i) => rec(`k${i}`, `v${i}`)));
      const groupLag = async (): Promise<number | undefined> => (await bus.lag()).find((l) => l.consumer === g && l.topic === t)?.lag;
      let held: number | undefined;
      const deadline = Date.now() + arrival;
      // Bundled: Kafka counts bundles; the adapter scales them by its own records per bundle, an estimate.
      const settled = (n: number | undefined): boolean => (bundled ? n !== undefined && n >= 1 && n <= 60 : n === 30);
      while (!settled((held = await groupLag())) && Date.now() < deadline) await sleep(100);
      expect(held, 'lag while held').toSatisfy(settled);
      expect((await bus.lag()).find((l) => l.consumer === g)?.required).toBe(true);
      release();
      await waitFor(() => c.records.length === 30, arrival, 'released records');
      while ((held = await groupLag()) !== 0 && Date.now() < deadline + arrival) await sleep(100);
      expect(held).toBe(0);
    });

    it('ensureTopics is idempotent', async () => {
      const t = await topic();
      await bus.ensureTopics([{ name: t, partitions }]);
      await bus.ensureTopics([{ name: t, partitions }, { name: t, partitions }]);
      expect(await bus.healthy()).toBe(true);
    });

    it('delivers keyed records in per-key order, each exactly once, with record metadata', async () => {
      const t = await topic();
      const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
      const perKey = 15;
      const before = Date.now();
      // Publish calls issued in order without awaiting: order per key must still hold.
      const sends: Promise<void>[] = [];
      for (let seq = 0; seq < perKey; seq++) {
        sends.push(bus.publish(t, keys.map((k) => rec(k, `${k}:${seq}`))));
      }
      await Promise.all(sends);
      const c = collector();
      const sub = track(await bus.consume({ groupId: group(), topics: [t], handler: c.handler }));
      await waitFor(() => c.records.length >= keys.length * perKey, arrival, 'all keyed records');
      await sleep(quiet);
      expect(c.records).toHaveLength(keys.length * perKey);
      for (const k of keys) {
        const got = c.records.filter((r) => r.key === k).map((r) => r.value);
        expect(got).toEqual(Array.from({ length: perKey }, (_, seq) => `${k}:${seq}`));
      }
      const r0 = c.records[0] as BusRecord;
      expect(r0.topic).toBe(t);
      expect(typeof r0.partition).toBe('number');
      expect(r0.offset).toMatch(/^\d+$/);
      expect(r0.timestamp).toBeGreaterThanOrEqual(before - 1000);
      // Offsets increase within a partition (records of one bundle share theirs).
      const byPartition = new Map<number, bigint[]>();
      for (const r of c.records) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), BigInt(r.offset)]);
      for (const offs of byPartition.values()) {
        for (let i = 1; i < offs.length; i++) expect(bundled ? (offs[i] as bigint) >= (offs[i - 1] as bigint) : (offs[i] as bigint) > (offs[i - 1] as bigint)).toBe(true);
      }
      await stop(sub);
    });

    it('a new member of a group resumes after the committed offset: nothing redelivered, nothing skipped', async () => {
      const t = await topic();
      const g = group();
      await bus.publish(t, Array.from({ length: 30 }, (_, i) => rec(`k${i % 4}`, `first-${i}`)));
      const a = collector();
      const subA = track(await bus.consume({ groupId: g, topics: [t], handler: a.handler }));
      await subA.caughtUp;
      expect(sorted(values(a.records))).toEqual(sorted(Array.from({ length: 30 }, (_, i) => `first-${i}`)));
      await stop(subA);

      await bus.publish(t, Array.from({ length: 20 }, (_, i) => rec(`k${i % 4}`, `second-${i}`)));
      const b = collector();
      const subB = track(await bus.consume({ groupId: g, topics: [t], handler: b.handler }));
      await subB.caughtUp;
      await waitFor(() => b.records.length >= 20, arrival, 'records published while the group was away');
      await sleep(quiet);
      expect(sorted(values(b.records))).toEqual(sorted(Array.from({ length: 20 }, (_, i) => `second-${i}`)));
      await stop(subB);
    });

    it('a member stopped mid-stream hands over without gaps or duplicates of committed batches', async () => {
      const t = await topic();
      const g = group();
      const total = 200;
      await bus.publish(t, Array.from({ length: total }, (_, i) => rec(`k${i % 7}`, `v-${i}`)));
      const seenA: BusRecord[] = [];
      let resolveFirst!: () => void;
      const firstDone = new Promise<void>((res) => (resolveFirst = res));
      const subA = track(
        await bus.consume({
          groupId: g,
          topics: [t],
          handler: async (rs) => {
            seenA.push(...rs);
            resolveFirst();
          },
        }),
      );
      await firstDone;
      await stop(subA);
      const b = collector();
      const subB = track(await bus.consume({ groupId: g, topics: [t], handler: b.handler }));
      await waitFor(() => seenA.length + b.records.length >= total, arrival, 'the rest of the records');
      await sleep(quiet);
      const all = [...values(seenA), ...values(b.records)];
      expect(sorted(all)).toEqual(sorted(Array.from({ length: total }, (_, i) => `v-${i}`)));
      await stop(subB);
    });

    it('does not commit a batch whose handler threw: the batch comes again, then the group moves on', async () => {
      const t = await topic();
      const g = group();
      await bus.publish(t, [rec('a', 'one'), rec('a', 'two'), rec('a', 'three')]);
      let calls = 0;
      const ok: BusRecord[] = [];
      const sub = track(
        await bus.consume({
          groupId: g,
          topics: [t],
          handler: async (rs) => {
            calls++;
            if (calls === 1) throw new Error('transient failure in the handler');
            ok.push(...rs);
          },
        }),
      );
      await waitFor(() => ok.length >= 3, arrival, 'the retried batch');
      expect(calls).toBeGreaterThanOrEqual(2);
      expect(values(ok)).toEqual(['one', 'two', 'three']);
      await stop(sub);

      // Committed after the retry succeeded: a new member gets only what comes next.
      await bus.publish(t, [rec('a', 'four')]);
      const c = collector();
      const sub2 = track(await bus.consume({ groupId: g, topics: [t], handler: c.handler }));
      await waitFor(() => c.records.length >= 1, arrival, 'the next record');
      await sleep(quiet);
      expect(values(c.records)).toEqual(['four']);
      await stop(sub2);
    });

    it('a handler that keeps failing commits nothing: the next member gets every record again', async () => {
      const t = await topic();
      const g = group();
      await bus.publish(t, [rec('a', 'x1'), rec('b', 'x2')]);
      let attempts = 0;
      const sub = track(
        await bus.consume({
          groupId: g,
          topics: [t],
          handler: async () => {
            attempts++;
            throw new Error('permanent failure in the handler');
          },
        }),
      );
      await waitFor(() => attempts >= 2, arrival, 'a retry');
      await stop(sub);
      const c = collector();
      const sub2 = track(await bus.consume({ groupId: g, topics: [t], handler: c.handler }));
      await waitFor(() => c.records.length >= 2, arrival, 'redelivery');
      expect(sorted(values(c.records))).toEqual(['x1', 'x2']);
      await stop(sub2);
    });

    it('two groups each get every record', async () => {
      const t = await topic();
      await bus.publish(t, Array.from({ length: 25 }, (_, i) => rec(`k${i % 5}`, `r${i}`)));
      const a = collector();
      const b = collector();
      const subA = track(await bus.consume({ groupId: group(), topics: [t], handler: a.handler }));
      const subB = track(await bus.consume({ groupId: group(), topics: [t], handler: b.handler }));
      await Promise.all([subA.caughtUp, subB.caughtUp]);
      const want = sorted(Array.from({ length: 25 }, (_, i) => `r${i}`));
      expect(sorted(values(a.records))).toEqual(want);
      expect(sorted(values(b.records))).toEqual(want);
      await Promise.all([stop(subA), stop(subB)]);
    });

    it('a group with fromBeginning false starts at the end', async () => {
      const t = await topic();
      await bus.publish(t, [rec('a', 'old')]);
      const c = collector();
      const sub = track(await bus.consume({ groupId: group(), topics: [t], fromBeginning: false, handler: c.handler }));
      await sub.caughtUp;
      await bus.publish(t, [rec('a', 'new')]);
      await waitFor(() => c.records.length >= 1, arrival, 'the new record');
      await sleep(quiet);
      expect(values(c.records)).toEqual(['new']);
      await stop(sub);
    });

    it('consumes several topics in one subscription', async () => {
      const t1 = await topic();
      const t2 = await topic();
      await Promise.all([bus.publish(t1, [rec('a', 'in-1')]), bus.publish(t2, [rec('a', 'in-2')])]);
      const c = collector();
      const sub = track(await bus.consume({ groupId: group(), topics: [t1, t2], handler: c.handler }));
      await sub.caughtUp;
      expect(sorted(c.records.map((r) => `${r.topic === t1 ? 1 : 2}:${r.value}`))).toEqual(['1:in-1', '2:in-2']);
      await stop(sub);
    });

    it('tail from earliest replays everything and commits nothing', async () => {
      const t = await topic();
      await bus.publish(t, Array.from({ length: 40 }, (_, i) => rec(`k${i % 3}`, `e${i}`)));
      const c = collector();
      const sub = track(await bus.tail({ topics: [t], from: 'earliest', handler: c.handler }));
      await sub.caughtUp;
      expect(sorted(values(c.records))).toEqual(sorted(Array.from({ length: 40 }, (_, i) => `e${i}`)));
      await stop(sub);
      const again = collector();
      const sub2 = track(await bus.tail({ topics: [t], from: 'earliest', handler: again.handler }));
      await sub2.caughtUp;
      expect(again.records).toHaveLength(40);
      await stop(sub2);
    });

    it('tail from latest sees only records published after it started', async () => {
      const t = await topic();
      await bus.publish(t, Array.from({ length: 5 }, (_, i) => rec(`k${i}`, `before-${i}`)));
      const c = collector();
      const sub = track(await bus.tail({ topics: [t], from: 'latest', handler: c.handler }));
      await sub.caughtUp;
      expect(c.records).toHaveLength(0);
      await bus.publish(t, Array.from({ length: 5 }, (_, i) => rec(`k${i}`, `after-${i}`)));
      await waitFor(() => c.records.length >= 5, arrival, 'records published after the tail');
      await sleep(quiet);
      expect(sorted(values(c.records))).toEqual(sorted(Array.from({ length: 5 }, (_, i) => `after-${i}`)));
      await stop(sub);
    });

    it('tail from a timestamp starts at the first record with timestamp >= it', async () => {
      const t = await topic();
      // Recent timestamps: a broker's time-based retention must not delete them mid-test.
      const t0 = Date.now() - 60_000;
      await bus.publish(t, Array.from({ length: 10 }, (_, i) => rec(`k${i % 3}`, `ts-${i}`, t0 + i * 1000)));
      const c = collector();
      const sub = track(await bus.tail({ topics: [t], from: { timestamp: t0 + 5000 }, handler: c.handler }));
      await sub.caughtUp;
      expect(sorted(values(c.records))).toEqual(sorted(['ts-5', 'ts-6', 'ts-7', 'ts-8', 'ts-9']));
      expect(c.records.every((r) => r.timestamp >= t0 + 5000)).toBe(true);
      expect(c.records.find((r) => r.value === 'ts-5')?.timestamp).toBe(t0 + 5000);
      await stop(sub);

      // A time after every record: nothing now, new records later.
      const late = collector();
      const sub2 = track(await bus.tail({ topics: [t], from: { timestamp: Date.now() + 3_600_000 }, handler: late.handler }));
      await sub2.caughtUp;
      expect(late.records).toHaveLength(0);
      await stop(sub2);
    });

    it('a partition-owning consumer rebuilds each partition before reading it and starts where the owner chose', async () => {
      const t1 = await topic();
      const t2 = await topic();
      const t0 = Date.now() - 60_000;
      // Same keys on both topics: co-partitioned, as samples and actions are by patient.
      for (const t of [t1, t2]) await bus.publish(t, Array.from({ length: 12 }, (_, i) => rec(`k${i % 4}`, `${t}-${i}`, t0 + i * 1000)));
      const assigned: number[] = [];
      const c = collector();
      let deliveredBeforeAssigned = false;
      const sub = track(
        await bus.consume({
          groupId: group(),
          topics: [t1, t2],
          partitioned: {
            onAssigned: async (parts) => {
              if (c.records.length > 0) deliveredBeforeAssigned = true;
              await sleep(50);
              assigned.push(...parts);
              return { timestamp: t0 + 6000 };
            },
            onRevoked: async () => undefined,
          },
          handler: async (rs) => {
            if (assigned.length === 0) deliveredBeforeAssigned = true;
            await c.handler(rs);
          },
        }),
      );
      await sub.caughtUp;
      expect(deliveredBeforeAssigned).toBe(false);
      expect(assigned.length).toBeGreaterThan(0);
      const expected = [t1, t2].flatMap((t) => Array.from({ length: 6 }, (_, i) => `${t}-${i + 6}`));
      expect(sorted(values(c.records))).toEqual(sorted(expected));
      expect(c.records.every((r) => assigned.includes(r.partition))).toBe(true);
      // Live records keep coming to the owner.
      await bus.publish(t2, [rec('k1', 'live')]);
      await waitFor(() => c.records.some((r) => r.value === 'live'), arrival, 'a live record');
      await stop(sub);
    });

    it('caughtUp resolves on an empty topic (consume and tail)', async () => {
      const t = await topic();
      const c = collector();
      const sub = track(await bus.consume({ groupId: group(), topics: [t], handler: c.handler }));
      const tl = track(await bus.tail({ topics: [t], from: 'earliest', handler: c.handler }));
      await Promise.all([sub.caughtUp, tl.caughtUp]);
      expect(c.records).toHaveLength(0);
      await Promise.all([stop(sub), stop(tl)]);
    });

    it('caughtUp resolves only after every pre-existing record was handled and the handler resolved', async () => {
      const t = await topic();
      const n = 60;
      await bus.publish(t, Array.from({ length: n }, (_, i) => rec(`k${i % 6}`, `c${i}`)));
      for (const mode of ['consume', 'tail'] as const) {
        let handled = 0;
        let inHandler = false;
        const handler = async (rs: BusRecord[]): Promise<void> => {
          inHandler = true;
          await sleep(20); // a slow handler: caughtUp must wait for it
          handled += rs.length;
          inHandler = false;
        };
        const sub = track(
          mode === 'consume'
            ? await bus.consume({ groupId: group(), topics: [t], handler })
            : await bus.tail({ topics: [t], from: 'earliest', handler }),
        );
        await sub.caughtUp;
        expect(handled, mode).toBe(n);
        expect(inHandler, mode).toBe(false);
        await stop(sub);
      }
    });

    it('tombstones on a compacted topic arrive as null', async () => {
      const t = await topic({ partitions: 1, compacted: true });
      await bus.publish(t, [rec('dev-1', '{"ward":"4B"}'), rec('dev-2', '{"ward":"5C"}')]);
      await bus.publish(t, [rec('dev-1', null)]);
      const c = collector();
      const sub = track(await bus.tail({ topics: [t], from: 'earliest', handler: c.handler }));
      await sub.caughtUp;
      const last = new Map<string, string | null>();
      for (const r of c.records) last.set(r.key, r.value);
      expect(last.get('dev-1')).toBeNull();
      expect(last.get('dev-2')).toBe('{"ward":"5C"}');
      const tomb = c.records.find((r) => r.key === 'dev-1' && r.value === null);
      expect(tomb).toBeDefined();
      expect(tomb?.value).toBeNull();
      await stop(sub);
    });

    it('1000 concurrent publishes all arrive exactly once', async () => {
      const t = await topic();
      const n = 1000;
      await Promise.all(Array.from({ length: n }, (_, i) => bus.publish(t, [rec(`k${i % 50}`, `p${i}`)])));
      const c = collector();
      const sub = track(await bus.consume({ groupId: group(), topics: [t], handler: c.handler }));
      await sub.caughtUp;
      await sleep(quiet);
      expect(c.records).toHaveLength(n);
      expect(new Set(values(c.records)).size).toBe(n);
      await stop(sub);
    });

    it('rejects work on a topic that was never ensured, without a retriable code', async () => {
      const missing = `contract.missing.${randomUUID().slice(0, 8)}`;
      await expect(bus.publish(missing, [rec('a', 'b')])).rejects.toMatchObject({ code: 'VTL_ERR_NOT_FOUND', retriable: false });
      await expect(bus.tail({ topics: [missing], from: 'earliest', handler: async () => undefined })).rejects.toMatchObject({ code: 'VTL_ERR_NOT_FOUND' });
      await expect(bus.consume({ groupId: group(), topics: [missing], handler: async () => undefined })).rejects.toMatchObject({ code: 'VTL_ERR_NOT_FOUND' });
    });

    it('a publish to a missing topic fails alone: one to an existing topic in the same turn is written', async () => {
      const t = await topic();
      const missing = `contract.missing.${randomUUID().slice(0, 8)}`;
      const [bad, good] = await Promise.allSettled([bus.publish(missing, [rec('a', 'lost')]), bus.publish(t, [rec('a', 'kept')])]);
      expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'VTL_ERR_NOT_FOUND' } });
      expect(good.status).toBe('fulfilled');
      const c = collector();
      const sub = track(await bus.tail({ topics: [t], from: 'earliest', handler: c.handler }));
      await sub.caughtUp;
      expect(values(c.records)).toEqual(['kept']);
      await stop(sub);
    });

    it('rejects a publish with an invalid record', async () => {
      const t = await topic();
      await expect(bus.publish(t, [{ key: 1 as unknown as string, value: 'x' }])).rejects.toThrow();
    });

    it('close() stops readers, then refuses work; a second close is a no-op', async () => {
      const other = await make();
      const spec: TopicSpec = { name: `contract.${randomUUID().slice(0, 8)}`, partitions };
      await other.ensureTopics([spec]);
      await other.publish(spec.name, [rec('a', 'before-close')]);
      const c = collector();
      const sub = await other.consume({ groupId: group(), topics: [spec.name], handler: c.handler });
      const tl = await other.tail({ topics: [spec.name], from: 'earliest', handler: c.handler });
      await Promise.all([sub.caughtUp, tl.caughtUp]);
      expect(await other.healthy()).toBe(true);
      const started = Date.now();
      await other.close();
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(await other.healthy()).toBe(false);
      await expect(other.publish(spec.name, [rec('a', 'after-close')])).rejects.toThrow();
      await other.close();
      // Stopping a subscription of a closed bus is harmless.
      await sub.stop();
      await tl.stop();
    });
  });
}
