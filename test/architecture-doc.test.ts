// docs/architecture.md's layout table names the folders as they are: every folder it lists exists,
// and every top-level folder of code is listed.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Top-level folders that hold no code of ours, or are documentation. */
const NOT_LAYOUT = new Set(['docs', 'node_modules', 'dist', 'test-results']);

function layoutRows(): Array<{ folder: string; what: string }> {
  const doc = readFileSync(path.join(root, 'docs/architecture.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Layout'), doc.indexOf('\n## ', doc.indexOf('## Layout') + 1));
  return [...section.matchAll(/^\| `([^`]+)\/` \|([^|]*)\|/gm)].map((m) => ({ folder: m[1] as string, what: m[2] as string }));
}

function layoutFolders(): string[] {
  return layoutRows().map((r) => r.folder);
}

describe('docs/architecture.md layout', () => {
  const listed = layoutFolders();

  it('lists only folders that exist', () => {
    expect(listed.length).toBeGreaterThan(5);
    expect(listed.filter((f) => !existsSync(path.join(root, f)) || !statSync(path.join(root, f)).isDirectory())).toEqual([]);
  });

  it('names only files that exist in the folder of their row', () => {
    const missing = layoutRows().flatMap(({ folder, what }) =>
      [...what.matchAll(/`([A-Za-z0-9._-]+\.ts)`/g)].map((m) => path.join(folder, m[1] as string)).filter((f) => !existsSync(path.join(root, f))),
    );
    expect(missing).toEqual([]);
  });

  it('lists every top-level folder', () => {
    const top = readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.') && !NOT_LAYOUT.has(d.name))
      .map((d) => d.name);
    const covered = (f: string): boolean => listed.some((l) => l === f || l.startsWith(`${f}/`));
    expect(top.filter((f) => !covered(f))).toEqual([]);
  });
});
