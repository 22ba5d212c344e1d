/** Small secrets kept in the data dir, created on first use (mode 0600, never overwritten). */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Read `name` from the data dir, creating it with `bytes` random bytes (base64url) if missing.
 * Two processes starting at once agree: the loser of the exclusive create reads the winner's.
 */
export async function dataDirSecret(dataDir: string, name: string, bytes = 32): Promise<string> {
  const existing = await existingDataDirSecret(dataDir, name);
  if (existing) return existing;
  const file = path.join(dataDir, name);
  await mkdir(dataDir, { recursive: true });
  const v = randomBytes(bytes).toString('base64url');
  try {
    await writeFile(file, v, { mode: 0o600, flag: 'wx' });
    return v;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return dataDirSecret(dataDir, name, bytes);
    throw e;
  }
}

/** Read `name` from the data dir; null when it was never created (tools must not create a server's secret). */
export async function existingDataDirSecret(dataDir: string, name: string): Promise<string | null> {
  try {
    return (await readFile(path.join(dataDir, name), 'utf8')).trim() || null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
