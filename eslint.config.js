// Lint: strict TypeScript rules, and the domain layer (core/) stays pure:
// no node:* modules, no adapters, no frameworks.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'dashboard-gateway/web/assets/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Tests read loosely typed JSON off sockets; `any` there keeps assertions readable.
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['core/**/*.ts'],
    ignores: ['core/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'net', 'http', 'crypto', 'path', 'os'], message: 'core/ is pure: no I/O modules' },
          { group: ['aedes', 'kafkajs', 'fastify', 'ws', 'mqtt', '@clickhouse/*', '@duckdb/*', 'pino'], message: 'core/ is pure: adapters and frameworks live at the edges' },
          // One and two levels up: core/rules/ holds the engine's per-rule-type evaluators.
          {
            group: ['adapters', 'ingest', 'stream-rules', 'dashboard-gateway', 'cli'].flatMap((d) => [`../${d}/*`, `../../${d}/*`]),
            message: 'core/ may not depend on the edges',
          },
        ],
      }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'core/ takes time as a parameter' }],
    },
  },
);
