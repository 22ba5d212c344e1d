/**
 * The data dir holds patient data (DuckDB, bus segments with MRNs), device token hashes and
 * the token signing key: only the service's user may read it. At start the dir is made 0700
 * and anything in it readable by others is tightened (0600 files, 0700 dirs) with a warning;
 * the process umask (077) keeps what it creates afterwards private too.
 */
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';

export const PRIVATE_UMASK = 0o077;

/** Make `dir` private; returns the paths (relative to it) whose permissions had to be tightened. */
export async function secureDataDir(dir: string): Promise<string[]> {
  process.umask(PRIVATE_UMASK);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const fixed: string[] = [];
  const walk = async (p: string, depth: number): Promise<void> => {
    const st = await lstat(p);
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) {
      // Group and others lose every bit; the owner keeps theirs (0644 -> 0600, 0755 -> 0700).
      await chmod(p, st.mode & 0o700);
      fixed.push(path.relative(dir, p) || '.');
    }
    if (st.isDirectory() && depth < 8) for (const name of await readdir(p)) await walk(path.join(p, name), depth + 1);
  };
  await walk(dir, 0);
  return fixed;
}
