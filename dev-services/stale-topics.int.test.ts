// On the local broker this checkout manages: a test topic idle for over a day is deleted by the
// prune the test setup runs, a fresh one is kept.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaPaths } from './kafka.js';
import { pruneStaleTestTopics } from './stale-topics.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Partition directories are only ours to age when the broker is this checkout's own.
const managed = process.env['VITALS_SERVICES_MANAGED'] === '1';
const run = `${Date.now().toString(36)}${process.pid}`;

describe('stale test topics on the local broker', () => {
  it.skipIf(!managed)('deletes a test topic idle for two days and keeps a fresh one', async () => {
    const admin = new Kafka({ clientId: 'stale-topics-test', brokers: [process.env['KAFKA_BROKERS'] as string], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const old = `contract.prune-old-${run}`;
      const fresh = `contract.prune-fresh-${run}`;
      await admin.createTopics({ topics: [old, fresh].map((topic) => ({ topic, numPartitions: 2 })), waitForLeaders: true });
      const data = kafkaPaths(root).data;
      const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
      for (const p of [0, 1]) await fs.promises.utimes(path.join(data, `${old}-${p}`), twoDaysAgo, twoDaysAgo);
      expect(await pruneStaleTestTopics(root)).toBeGreaterThanOrEqual(1);
      const left = await admin.listTopics();
      expect(left).not.toContain(old);
      expect(left).toContain(fresh);
      await admin.deleteTopics({ topics: [fresh] });
    } finally {
      await admin.disconnect();
    }
  });
});
