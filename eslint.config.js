// Lint: strict TypeScript rules, and the domain layer (core/) and the rules engine
// (stream-rules/engine/) stay pure: no node:* modules, no adapters, no frameworks, no clock.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The purity rule for a folder of pure code (its tests excepted). `levels`: the relative prefixes
 * by which its files reach the repo root; `edges`: top-level folders it may not import;
 * `extra`: further no-restricted-imports patterns.
 */
function pure(files, name, levels, edges, extra = []) {
  return {
    files,
    ignores: files.map((f) => f.replace(/\*\.ts$/, '*.test.ts')),
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'net', 'http', 'crypto', 'path', 'os'], message: `${name} is pure: no I/O modules` },
          { group: ['aedes', 'kafkajs', 'fastify', 'ws', 'mqtt', '@clickhouse/*', '@duckdb/*', 'pino'], message: `${name} is pure: adapters and frameworks live at the edges` },
          { group: edges.flatMap((d) => levels.map((l) => `${l}${d}/*`)), message: `${name} may not depend on the edges` },
          ...extra,
        ],
      }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: `${name} takes time as a parameter` }],
    },
  };
}

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
  // core/ and the rules engine (stream-rules/engine/) are pure, under the same rule; the edges are
  // written relative to where their files sit (core/x.ts and core/hl7/x.ts: one and two levels up).
  pure(['core/**/*.ts'], 'core/', ['../', '../../'], ['adapters', 'ingest', 'stream-rules', 'dashboard-gateway', 'cli']),
  // The engine may import core/ and its own folder, nothing else of stream-rules/ (the role and the
  // tools around it do I/O).
  pure(['stream-rules/engine/**/*.ts'], 'stream-rules/engine/', ['../../'], ['adapters', 'ingest', 'dashboard-gateway', 'cli'], [
    { regex: '^\\.\\./[^.]', message: 'stream-rules/engine/ may not depend on the rules role or tools around it' },
  ]),
);
