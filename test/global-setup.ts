// vitest globalSetup: makes real Kafka and ClickHouse available to the integration suites
// (*.int.test.ts) through KAFKA_BROKERS and CLICKHOUSE_URL.
//
// - Both variables already set (CI service containers, docker compose, a shared dev box):
//   use them and start nothing.
// - Otherwise: `servicesUp` starts (or finds, in well under a second) the local services under
//   .cache/services and we export their endpoints. Workers inherit process.env as it is when
//   they are forked, which is after this function resolves.
//
// The services are deliberately left running at teardown: the next test run reuses them
// instantly, and CI machines are discarded anyway. Stop them with `vitals services down`.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { servicesUp } from '../dev-services/index.js';
import { pruneStaleTestTopics } from '../dev-services/stale-topics.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Set to "1" when this setup started (or found) the local services rather than using given endpoints. */
const MANAGED_ENV = 'VITALS_SERVICES_MANAGED';

/** vitest globalSetup entry point. */
export default async function setup(): Promise<void> {
  const given = process.env['KAFKA_BROKERS'] && process.env['CLICKHOUSE_URL'];
  if (given) {
    process.env[MANAGED_ENV] = '0';
    return;
  }
  const endpoints = await servicesUp({
    root: repoRoot,
    progress: (line) => process.stderr.write(`[services] ${line}\n`),
  });
  process.env['KAFKA_BROKERS'] = endpoints.kafkaBrokers;
  process.env['CLICKHOUSE_URL'] = endpoints.clickhouseUrl;
  process.env[MANAGED_ENV] = '1';
  // Test topics of earlier runs pile up on the local broker until it cannot start in time; the
  // ones idle for a day go, in the background (nothing of this run's is that old).
  void pruneStaleTestTopics(repoRoot).then(
    (n) => n > 0 && process.stderr.write(`[services] deleted ${n} test topics idle for over a day\n`),
    (e: unknown) => process.stderr.write(`[services] could not prune old test topics: ${(e as Error).message}\n`),
  );
}
