// `vitals services up|down|status`: a real single-node Kafka (KRaft) and a real ClickHouse on
// loopback for dev and tests, without Docker. Processes run detached with pid files under
// <root>/.cache/services, so `up` can exit and later runs (or vitest's global setup) reuse them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLICKHOUSE_URL, clickhouseHealthy, ensureClickHouse, stopClickHouse } from './clickhouse.js';
import { KAFKA_BROKERS, ensureKafka, kafkaHealthy, stopKafka } from './kafka.js';
import type { Progress } from './process-control.js';
import { withLock } from './process-control.js';

/** Where clients reach the local services. */
export interface ServicesEndpoints {
  kafkaBrokers: string;
  clickhouseUrl: string;
}

/** Options shared by every services call. */
export interface ServicesOptions {
  /** Repository root; state goes under root/.cache/services. */
  root: string;
  /** Receives progress lines (the CLI writes them to stderr). */
  progress?: (line: string) => void;
}

// Covers a first-time jar download (minutes) by another process holding the lock.
const LOCK_WAIT_MS = 15 * 60_000;

/**
 * Starts Kafka and ClickHouse if they are not already running, and waits until both serve
 * clients. Idempotent: when both are already up and healthy it returns at once.
 */
export async function servicesUp(opts: ServicesOptions): Promise<ServicesEndpoints> {
  const progress = opts.progress ?? noProgress;
  await withServicesLock(opts.root, progress, async () => {
    await allOrFirstError([ensureKafka(opts.root, progress), ensureClickHouse(opts.root, progress)]);
  });
  return endpoints();
}

/** Stops both services (SIGTERM, wait, SIGKILL fallback). Fine if they are not running. */
export async function servicesDown(opts: ServicesOptions): Promise<void> {
  const progress = opts.progress ?? noProgress;
  await withServicesLock(opts.root, progress, async () => {
    await allOrFirstError([stopKafka(opts.root, progress), stopClickHouse(opts.root, progress)]);
  });
}

/** Each service is 'running' only when its recorded pid is alive and it answers a client request. */
export async function servicesStatus(
  opts: ServicesOptions,
): Promise<{ kafka: 'running' | 'stopped'; clickhouse: 'running' | 'stopped'; endpoints: ServicesEndpoints }> {
  const [kafka, clickhouse] = await Promise.all([kafkaHealthy(opts.root), clickhouseHealthy(opts.root)]);
  return {
    kafka: kafka ? 'running' : 'stopped',
    clickhouse: clickhouse ? 'running' : 'stopped',
    endpoints: endpoints(),
  };
}

/** Shell lines that point clients at the services, e.g. for `eval "$(vitals services up)"`. */
export function exportLines(e: ServicesEndpoints): string {
  return `export KAFKA_BROKERS=${e.kafkaBrokers}\nexport CLICKHOUSE_URL=${e.clickhouseUrl}\n`;
}

function endpoints(): ServicesEndpoints {
  return { kafkaBrokers: KAFKA_BROKERS, clickhouseUrl: CLICKHOUSE_URL };
}

function noProgress(_line: string): void {}

function withServicesLock(root: string, progress: Progress, fn: () => Promise<void>): Promise<void> {
  const dir = path.join(root, '.cache', 'services');
  fs.mkdirSync(dir, { recursive: true });
  return withLock(path.join(dir, 'services.lock'), progress, LOCK_WAIT_MS, fn);
}

/**
 * Like Promise.all, but waits for every task to settle before rejecting, so the lock is not
 * released while one service is still starting or stopping.
 */
async function allOrFirstError(tasks: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length === 1) throw failures[0]?.reason;
  if (failures.length > 1) {
    throw new Error(failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n\n'));
  }
}
