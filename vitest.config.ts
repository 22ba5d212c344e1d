import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', '.cache/**'],
    // Starts (or finds) real Kafka and ClickHouse for the *.int.test.ts suites.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2 cores, and real brokers under test: keep parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
    // Split roles (ingest, rules, sink) bind an ops port; any free one, so parallel tests never clash.
    env: { VITALS_OPS_PORT: '0' },
  },
});
