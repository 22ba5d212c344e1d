// `npm run test:unit`: the tests that need no Kafka or ClickHouse, hence no global setup (which
// would provision both). Integration (*.int.test.ts) and whole-process (test/e2e/) suites run
// under vitest.config.ts.
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  test: {
    ...base.test,
    globalSetup: [],
    exclude: [...(base.test?.exclude ?? []), '**/*.int.test.ts', 'test/e2e/**'],
  },
});
