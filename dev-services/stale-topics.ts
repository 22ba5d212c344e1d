// Topics that test runs leave on the local dev broker. Every test suite makes topics under a
// prefix of its own and never deletes them; after a few weeks of `npm test` the broker held
// 14,000 partitions (954 MB) and took longer than its 90-s start deadline to load them, so
// `vitals services up` failed. The test setup deletes the ones idle for a day (docs/testing.md).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { KAFKA_BROKERS, kafkaPaths } from './kafka.js';

/** Names the test suites and benches give their topics (a prefix, then `.` or `-`). */
const TEST_TOPIC = /^(contract|fc|it|copart|handover|bench|e2e)[.-]/;
export const STALE_AFTER_MS = 24 * 3600_000;

/** A partition directory `<topic>-<n>` and when it last changed. */
export interface PartitionDir {
  name: string;
  mtimeMs: number;
}

/**
 * Test topics none of whose partitions changed for `staleAfterMs`: a suite still running writes
 * its topics within minutes, so only leftovers qualify. Product and internal topics never do.
 */
export function staleTestTopics(dirs: readonly PartitionDir[], now: number, staleAfterMs = STALE_AFTER_MS): string[] {
  const newest = new Map<string, number>();
  for (const d of dirs) {
    const m = /^(.+)-\d+$/.exec(d.name);
    const topic = m?.[1];
    if (!topic || !TEST_TOPIC.test(topic)) continue;
    newest.set(topic, Math.max(newest.get(topic) ?? 0, d.mtimeMs));
  }
  return [...newest].filter(([, t]) => now - t > staleAfterMs).map(([topic]) => topic).sort();
}

/** Delete the stale test topics of this checkout's local broker; returns how many. */
export async function pruneStaleTestTopics(root: string, now = Date.now()): Promise<number> {
  const data = kafkaPaths(root).data;
  let names: string[];
  try {
    names = await fs.promises.readdir(data);
  } catch {
    return 0; // no local broker data: nothing of ours to prune
  }
  const dirs = await Promise.all(names.map(async (name) => ({ name, mtimeMs: (await fs.promises.stat(path.join(data, name))).mtimeMs })));
  const stale = staleTestTopics(dirs, now);
  if (stale.length === 0) return 0;
  const admin = new Kafka({ clientId: 'vitals-services-prune', brokers: [KAFKA_BROKERS], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    // Another prune (a second test run, the stale-topics test) may delete some first: only what is
    // still there, and a topic gone meanwhile is not an error.
    const existing = new Set(await admin.listTopics());
    const todo = stale.filter((t) => existing.has(t));
    for (let i = 0; i < todo.length; i += 200) {
      await admin.deleteTopics({ topics: todo.slice(i, i + 200), timeout: 30_000 }).catch((e: unknown) => {
        // kafkajs retries this one, then throws it wrapped.
        const x = e as { type?: string; originalError?: { type?: string } };
        if ((x.type ?? x.originalError?.type) !== 'UNKNOWN_TOPIC_OR_PARTITION') throw e;
      });
    }
  } finally {
    await admin.disconnect();
  }
  return stale.length;
}
