/**
 * Prometheus's own checker, for the scrape config, the dashboard's PromQL and the /metrics text.
 * .ci/run unpacks it from Debian's `prometheus` package into .cache/promtool (apt-get download and
 * dpkg-deb -x: nothing installed, no daemon started); a promtool on PATH is used first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const CACHED = path.resolve(import.meta.dirname, '../.cache/promtool/root/usr/bin/promtool');

export function findPromtool(): string | null {
  const onPath = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (onPath.status === 0) return 'promtool';
  return existsSync(CACHED) ? CACHED : null;
}

export function promtool(bin: string, args: string[], input?: string): { ok: boolean; output: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', input, timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
