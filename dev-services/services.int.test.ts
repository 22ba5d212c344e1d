// Integration test of the local services that test/global-setup.ts starts (or of the endpoints
// given in KAFKA_BROKERS / CLICKHOUSE_URL). Checks what the rest of the suite relies on: a
// consumer group that joins and receives everything, and a MergeTree round trip.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@clickhouse/client';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { servicesStatus, servicesUp } from './index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Status and idempotency only make sense for services this checkout manages, not given endpoints.
const managed = process.env['VITALS_SERVICES_MANAGED'] === '1';
const runId = `${Date.now().toString(36)}_${process.pid}`;

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set: test/global-setup.ts should have set it`);
  return value;
}

/** Rejects after `ms` so a stuck broker fails the test with a message instead of a bare timeout. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref()),
  ]);
}

describe('local services', () => {
  it.skipIf(!managed)('status reports both services running', async () => {
    const status = await servicesStatus({ root });
    expect(status).toEqual({
      kafka: 'running',
      clickhouse: 'running',
      endpoints: { kafkaBrokers: '127.0.0.1:29092', clickhouseUrl: 'http://127.0.0.1:28123' },
    });
  });

  describe('kafka', () => {
    const kafka = new Kafka({
      clientId: 'services-int-test',
      brokers: requiredEnv('KAFKA_BROKERS').split(','),
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    const producer = kafka.producer();
    // A short fetch wait: disconnect() waits for the in-flight fetch (default up to 5 s).
    const consumer = kafka.consumer({
      groupId: `svc-smoke-${runId}`,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 250,
    });
    const topic = `svc-smoke-${runId}`;

    afterAll(async () => {
      // Disconnecting the consumer leaves the group now instead of after the session timeout.
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    });

    it('creates a topic, joins a group, produces 10 and consumes all 10 with no lag left', async () => {
      await admin.connect();
      const created = await admin.createTopics({
        topics: [{ topic, numPartitions: 2, replicationFactor: 1 }],
        waitForLeaders: true,
      });
      expect(created).toBe(true);

      const received: string[] = [];
      let allReceived = (): void => undefined;
      const done = new Promise<void>((resolve) => (allReceived = resolve));
      // consumer.run() resolves before the group is joined; producing earlier would race the join.
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push(message.value?.toString() ?? '');
          if (received.length === 10) allReceived();
        },
      });
      await within(30_000, 'consumer GROUP_JOIN', joined);

      await producer.connect();
      const sent = Array.from({ length: 10 }, (_, i) => `m${i}`);
      await producer.send({ topic, messages: sent.map((value, i) => ({ key: `patient-${i % 3}`, value })) });
      await within(30_000, 'consuming 10 messages', done);
      expect([...received].sort()).toEqual([...sent].sort());

      await within(20_000, 'committed offsets to catch up', waitForZeroLag(topic, `svc-smoke-${runId}`));
    });

    /** kafkajs has no lag API: high watermark minus committed offset, summed over partitions. */
    async function waitForZeroLag(t: string, groupId: string): Promise<void> {
      for (;;) {
        const [high, committed] = await Promise.all([admin.fetchTopicOffsets(t), admin.fetchOffsets({ groupId, topics: [t] })]);
        const partitions = committed[0]?.partitions ?? [];
        const lag = high.reduce((sum, h) => {
          const c = Number(partitions.find((p) => p.partition === h.partition)?.offset ?? '-1');
          return sum + Number(h.high) - Math.max(c, 0);
        }, 0);
        if (lag === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  });

  describe('clickhouse', () => {
    const client = createClient({ url: requiredEnv('CLICKHOUSE_URL') });
    const db = `svc_test_${runId}`;

    afterAll(async () => {
      await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
      await client.close();
    });

    it('answers SELECT version()', async () => {
      const rows = await (await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json<{ v: string }>();
      expect(rows[0]?.v).toMatch(/^\d+\.\d+/);
    });

    it('round-trips rows through a MergeTree table in a throwaway database', async () => {
      await client.command({ query: `CREATE DATABASE ${db}` });
      await client.command({ query: `CREATE TABLE ${db}.t (id UInt32, name String) ENGINE = MergeTree ORDER BY tuple()` });
      const values = [
        { id: 1, name: 'alpha' },
        { id: 2, name: 'beta' },
        { id: 3, name: 'gamma' },
      ];
      await client.insert({ table: `${db}.t`, values, format: 'JSONEachRow' });
      const rows = await (
        await client.query({ query: `SELECT id, name FROM ${db}.t ORDER BY id`, format: 'JSONEachRow' })
      ).json<{ id: number; name: string }>();
      expect(rows).toEqual(values);
    });
  });

  it.skipIf(!managed)('servicesUp a second time finds the running services and returns quickly', async () => {
    const started = Date.now();
    const endpoints = await servicesUp({ root });
    const elapsed = Date.now() - started;
    expect(endpoints).toEqual({ kafkaBrokers: requiredEnv('KAFKA_BROKERS'), clickhouseUrl: requiredEnv('CLICKHOUSE_URL') });
    // Measured ~40 ms; the bound only has to separate "found it" from "started a broker" (seconds).
    expect(elapsed).toBeLessThan(2_000);
  });
});
