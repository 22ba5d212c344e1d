/**
 * HAProxy for the load-balancer tests (test/haproxy.test.ts): a `haproxy` on PATH or in /usr/sbin
 * first, else the binary .ci/run unpacks from Debian's `haproxy` package (and its two libraries the
 * machine lacks) into .cache/haproxy with apt-get download and dpkg-deb -x: nothing installed, no
 * daemon started, as for promtool.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const CACHED_ROOT = path.resolve(import.meta.dirname, '../.cache/haproxy/root');

export interface Haproxy {
  bin: string;
  /** Environment to run it with (the unpacked libraries). */
  env: NodeJS.ProcessEnv;
}

export function findHaproxy(): Haproxy | null {
  const candidates: Haproxy[] = [
    { bin: 'haproxy', env: process.env },
    { bin: '/usr/sbin/haproxy', env: process.env },
    { bin: path.join(CACHED_ROOT, 'usr/sbin/haproxy'), env: { ...process.env, LD_LIBRARY_PATH: path.join(CACHED_ROOT, 'usr/lib/x86_64-linux-gnu') } },
  ];
  for (const c of candidates) {
    if (c.bin.startsWith('/') && !existsSync(c.bin)) continue;
    if (spawnSync(c.bin, ['-v'], { encoding: 'utf8', env: c.env }).status === 0) return c;
  }
  return null;
}

/** `haproxy -c -f file`: exit status and output. */
export function haproxyCheck(h: Haproxy, file: string): { ok: boolean; output: string } {
  const r = spawnSync(h.bin, ['-c', '-f', file], { encoding: 'utf8', env: h.env, timeout: 30_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
