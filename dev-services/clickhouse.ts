// Local ClickHouse server on 127.0.0.1 (HTTP 28123, native TCP 29000), run from the Debian
// package (18.16 on Debian 12) with a generated config, all state under
// <root>/.cache/services/clickhouse. Creates no databases or tables: the schema belongs to the store.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Progress } from './process-control.js';
import {
  assertPortsFree,
  findExecutable,
  runCommand,
  renderTemplate,
  runningPid,
  seconds,
  sleep,
  spawnDetached,
  stopProcess,
  stopService,
  tailFile,
} from './process-control.js';

/** HTTP endpoint of the local server. */
export const CLICKHOUSE_URL = 'http://127.0.0.1:28123';
const CLICKHOUSE_PORTS = [28123, 29000] as const;
const PACKAGE = 'clickhouse-server';
// Debian installs the server in /usr/sbin, which is not on a non-root PATH.
const EXTRA_BIN_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/bin'];
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 15_000;

/** Where the ClickHouse service keeps its files. */
export interface ClickHousePaths {
  dir: string;
  config: string;
  users: string;
  logs: string;
  stdout: string;
  errorLog: string;
  pid: string;
}

/** Paths for the checkout at `root`. */
export function clickhousePaths(root: string): ClickHousePaths {
  const dir = path.join(root, '.cache', 'services', 'clickhouse');
  const logs = path.join(dir, 'logs');
  return {
    dir,
    config: path.join(dir, 'config.xml'),
    users: path.join(dir, 'users.xml'),
    logs,
    stdout: path.join(logs, 'stdout.log'),
    errorLog: path.join(logs, 'clickhouse-server.err.log'),
    pid: path.join(dir, 'clickhouse.pid'),
  };
}

/** Pid of our running server, or null. The config path in its command line identifies it. */
export function clickhousePid(root: string): number | null {
  const p = clickhousePaths(root);
  return runningPid(p.pid, p.config);
}

/** True when our server process is alive and `GET /ping` answers "Ok.". */
export async function clickhouseHealthy(root: string): Promise<boolean> {
  return clickhousePid(root) !== null && (await ping());
}

/** Makes sure our server runs and answers; idempotent. Installs the Debian package if needed (root only). */
export async function ensureClickHouse(root: string, progress: Progress): Promise<void> {
  const p = clickhousePaths(root);
  const existing = clickhousePid(root);
  if (existing !== null) {
    if (await ping()) {
      progress(`clickhouse: already running (pid ${existing}) on ${CLICKHOUSE_URL}`);
      return;
    }
    progress(`clickhouse: pid ${existing} is running but not answering yet; waiting`);
    await waitUntilReady(p, existing, Date.now() + READY_TIMEOUT_MS);
    progress(`clickhouse: ready (pid ${existing})`);
    return;
  }
  await assertPortsFree('clickhouse', CLICKHOUSE_PORTS);
  const server = await ensureInstalled(progress);
  const major = await serverMajorVersion(server);
  writeConfig(root, p, major);
  await startServer(server, p, major, progress);
}

/** Stops our server (SIGTERM, 15 s grace, then SIGKILL); a no-op when it is not running. */
export async function stopClickHouse(root: string, progress: Progress): Promise<void> {
  const p = clickhousePaths(root);
  await stopService('clickhouse', p.pid, p.config, STOP_GRACE_MS, progress);
}

/** The server binary; apt-installs the package when missing and we are root, else explains how. */
async function ensureInstalled(progress: Progress): Promise<string> {
  const found = findExecutable(PACKAGE, EXTRA_BIN_DIRS);
  if (found !== null) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `clickhouse: \`${PACKAGE}\` is not installed. Install the Debian package (\`sudo apt-get install -y ${PACKAGE}\`), ` +
        'or run the docker-compose alternative (`docker compose up -d kafka clickhouse`) and export ' +
        `KAFKA_BROKERS and CLICKHOUSE_URL (e.g. CLICKHOUSE_URL=${CLICKHOUSE_URL}).`,
    );
  }
  await aptInstall(progress);
  const installed = findExecutable(PACKAGE, EXTRA_BIN_DIRS);
  if (installed === null) throw new Error(`clickhouse: apt-get installed ${PACKAGE} but no ${PACKAGE} binary was found`);
  return installed;
}

/** `apt-get install`, and once more after `apt-get update` if the package lists were stale or empty. */
async function aptInstall(progress: Progress): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  progress(`clickhouse: installing ${PACKAGE} with apt-get`);
  let result = await runCommand('apt-get', ['install', '-y', PACKAGE], { env });
  if (result.code !== 0) {
    progress('clickhouse: apt-get install failed; running apt-get update and retrying');
    await runCommand('apt-get', ['update'], { env });
    result = await runCommand('apt-get', ['install', '-y', PACKAGE], { env });
  }
  if (result.code !== 0) {
    throw new Error(
      `clickhouse: \`apt-get install -y ${PACKAGE}\` failed (exit ${result.code}). Install it by hand, or use ` +
        `\`docker compose up -d kafka clickhouse\`. Last output:\n${result.tail}`,
    );
  }
}

/**
 * The server's major version, or null if unknown. 18.x has no `--version` flag, so fall
 * back to the Debian package version.
 */
async function serverMajorVersion(server: string): Promise<number | null> {
  const own = await runCommand(server, ['--version']);
  const fromBinary = /version (\d+)\./i.exec(own.tail);
  if (own.code === 0 && fromBinary?.[1] !== undefined) return Number(fromBinary[1]);
  const dpkg = await runCommand('dpkg-query', ['-W', '-f=${Version}', PACKAGE]);
  const fromPackage = /^(?:\d+:)?(\d+)\./.exec(dpkg.tail.trim());
  return dpkg.code === 0 && fromPackage?.[1] !== undefined ? Number(fromPackage[1]) : null;
}

/** Renders config.xml and users.xml from infra/clickhouse into the state dir. */
function writeConfig(root: string, p: ClickHousePaths, major: number | null): void {
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'logs']) {
    fs.mkdirSync(path.join(p.dir, sub), { recursive: true });
  }
  const templates = path.join(root, 'infra', 'clickhouse');
  renderTemplate(path.join(templates, 'config.xml'), p.config, { STATE_DIR: p.dir });
  // LowCardinality is experimental on 18.x; current servers reject this setting as unknown.
  const extra = major !== null && major < 19 ? '<allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>' : '';
  renderTemplate(path.join(templates, 'users.xml'), p.users, { EXTRA_PROFILE_SETTINGS: extra });
}

/** Launches the server detached and polls /ping. */
async function startServer(server: string, p: ClickHousePaths, major: number | null, progress: Progress): Promise<void> {
  const started = Date.now();
  const pid = await spawnDetached({
    command: server,
    args: [`--config-file=${p.config}`],
    cwd: p.dir,
    logFile: p.stdout,
    pidFile: p.pid,
  });
  progress(`clickhouse: started ${PACKAGE} ${major ?? '(unknown version)'} pid ${pid}, waiting for ${CLICKHOUSE_URL}/ping`);
  try {
    await waitUntilReady(p, pid, started + READY_TIMEOUT_MS);
  } catch (err) {
    await stopProcess(pid, p.config, 5_000);
    fs.rmSync(p.pid, { force: true });
    throw err;
  }
  progress(`clickhouse: ready in ${seconds(started)}`);
}

async function waitUntilReady(p: ClickHousePaths, pid: number, deadline: number): Promise<void> {
  for (;;) {
    if (runningPid(p.pid, p.config) !== pid) {
      throw new Error(`clickhouse: server (pid ${pid}) exited during startup. ${logTails(p)}`);
    }
    if (await ping()) return;
    if (Date.now() > deadline) throw new Error(`clickhouse: no "Ok." from ${CLICKHOUSE_URL}/ping after ${READY_TIMEOUT_MS / 1000} s. ${logTails(p)}`);
    await sleep(100);
  }
}

/** GET /ping (unauthenticated on every version) answers "Ok." once queries are accepted. */
async function ping(): Promise<boolean> {
  try {
    const res = await fetch(`${CLICKHOUSE_URL}/ping`, { signal: AbortSignal.timeout(1_000) });
    return res.ok && (await res.text()).startsWith('Ok.');
  } catch {
    return false;
  }
}

function logTails(p: ClickHousePaths): string {
  return `Last lines of ${p.errorLog}:\n${tailFile(p.errorLog)}\nLast lines of ${p.stdout}:\n${tailFile(p.stdout)}`;
}
