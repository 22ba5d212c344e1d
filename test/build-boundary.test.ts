// What `npm run build` compiles into dist/ must not import the test framework: walk the
// product program (tsconfig.json's files and everything they import, as tsc would) and
// look at each file's import specifiers.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Module specifiers a source file imports or re-exports, statically or with import(). */
function specifiers(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) out.push(n.moduleSpecifier.text);
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) out.push(n.arguments[0].text);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** tsconfig.json's root files plus the relative imports they reach. */
function productProgram(): string[] {
  const cfg = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(String(d.messageText)); } });
  if (!cfg) throw new Error('tsconfig.json did not parse');
  const seen = new Set<string>();
  const queue = cfg.fileNames.filter((f) => f.endsWith('.ts')).map((f) => path.resolve(f));
  while (queue.length > 0) {
    const f = queue.pop() as string;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const s of specifiers(f)) {
      if (!s.startsWith('.')) continue;
      const ts_ = path.resolve(path.dirname(f), s.replace(/\.js$/, '.ts'));
      if (existsSync(ts_)) queue.push(ts_);
    }
  }
  return [...seen];
}

describe('build boundary', () => {
  const files = productProgram();

  it('walks the real product program', () => {
    const rel = files.map((f) => path.relative(root, f));
    expect(rel).toContain('cli/main.ts');
    expect(rel).toContain('sink/sink.ts');
  });

  it('no file compiled into dist/ imports vitest or is a test', () => {
    const offenders = files.filter((f) => f.endsWith('.test.ts') || specifiers(f).some((s) => s === 'vitest' || s.startsWith('vitest/') || s.startsWith('@vitest/')));
    expect(offenders.map((f) => path.relative(root, f))).toEqual([]);
  });
});

describe('unit test configuration', () => {
  it('runs no global setup (it would provision Kafka and ClickHouse) and leaves out the suites that need them', async () => {
    const unit = (await import('../vitest.unit.config.js')).default;
    const full = (await import('../vitest.config.js')).default;
    expect(full.test?.globalSetup).toEqual(['test/global-setup.ts']);
    expect(unit.test?.globalSetup ?? []).toEqual([]);
    expect(unit.test?.exclude).toEqual(expect.arrayContaining(['**/*.int.test.ts', 'test/e2e/**']));
  });
});
