// Process plumbing shared by the Kafka and ClickHouse provisioners: detached spawns with pid files,
// liveness checks that survive pid reuse, graceful stop, port probes, a cross-process lock, and
// config templates. Linux-first (reads /proc), with portable fallbacks.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** Receives one human-readable progress line (the CLI writes them to stderr). */
export type Progress = (line: string) => void;

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads a pid file; null when missing or garbage. */
export function readPid(pidFile: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(pidFile, 'utf8').trim();
  } catch {
    return null;
  }
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** Zombies still answer kill(pid, 0); a stopped service must not look alive. */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** The command line of a pid, or null when /proc is unavailable (non-Linux). */
function commandLine(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return null;
  }
}

/**
 * True when `pid` is a live, non-zombie process whose command line contains `marker`.
 * The marker (e.g. our config file path) guards against a recycled pid after a reboot or crash.
 */
export function isOurProcess(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: alive but not ours to signal, so certainly not a process we started.
    return false;
  }
  if (isZombie(pid)) return false;
  const cmd = commandLine(pid);
  return cmd === null ? true : cmd.includes(marker);
}

/** The pid recorded in `pidFile` if that process is still ours, else null. */
export function runningPid(pidFile: string, marker: string): number | null {
  const pid = readPid(pidFile);
  return pid !== null && isOurProcess(pid, marker) ? pid : null;
}

/** Options for {@link spawnDetached}. */
export interface DetachedSpawn {
  command: string;
  args: string[];
  cwd: string;
  /** stdout and stderr are both appended here. */
  logFile: string;
  pidFile: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a process in its own session with output to a log file and records its pid, so the
 * caller (e.g. `vitals services up`) can exit while the service keeps running.
 */
export async function spawnDetached(spec: DetachedSpawn): Promise<number> {
  const out = fs.openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', out, out],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start ${spec.command}: ${err.message}`)));
      child.once('spawn', () => resolve(child.pid ?? -1));
    });
    child.unref();
    fs.writeFileSync(spec.pidFile, `${pid}\n`);
    return pid;
  } finally {
    fs.closeSync(out);
  }
}

/**
 * SIGTERM, wait up to `graceMs` for exit, then SIGKILL. Returns how it ended.
 * Safe to call for a pid that has already exited.
 */
export async function stopProcess(pid: number, marker: string, graceMs: number): Promise<'term' | 'kill' | 'gone'> {
  if (!isOurProcess(pid, marker)) return 'gone';
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(100);
    if (!isOurProcess(pid, marker)) return 'term';
  }
  signal(pid, 'SIGKILL');
  for (let i = 0; i < 50 && isOurProcess(pid, marker); i++) await sleep(100);
  return 'kill';
}

/**
 * Stop the service whose pid file is `pidFile` (SIGTERM, `graceMs` grace, then SIGKILL) and remove
 * the file; a no-op, said so, when it is not running.
 */
export async function stopService(name: string, pidFile: string, marker: string, graceMs: number, progress: Progress): Promise<void> {
  const pid = runningPid(pidFile, marker);
  if (pid === null) {
    fs.rmSync(pidFile, { force: true });
    progress(`${name}: not running`);
    return;
  }
  const started = Date.now();
  const how = await stopProcess(pid, marker, graceMs);
  fs.rmSync(pidFile, { force: true });
  progress(`${name}: stopped pid ${pid} (${how === 'kill' ? 'SIGKILL after SIGTERM timed out' : 'SIGTERM'}) in ${seconds(started)}`);
}

/** Time since `since` (epoch ms) for a progress line: "3.2 s". */
export function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone between the check and the signal: that is the goal anyway.
  }
}

/** True when nothing listens on 127.0.0.1:`port` (we can bind it ourselves). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws a message naming the port when something other than our service holds it. */
export async function assertPortsFree(service: string, ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    if (!(await isPortFree(port))) {
      throw new Error(
        `${service}: port 127.0.0.1:${port} is already in use by another process (not the one \`vitals services\` ` +
          `started from this checkout). Stop it (find it with \`ss -ltnp 'sport = :${port}'\`), or point the tests ` +
          `at it by exporting KAFKA_BROKERS and CLICKHOUSE_URL.`,
      );
    }
  }
}

/** The last `lines` lines of a text file, for error messages ('' when unreadable). */
export function tailFile(file: string, lines = 20): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return '';
  }
}

/** Finds an executable on PATH, then in `extraDirs` (e.g. /usr/sbin, not on non-root PATHs). */
export function findExecutable(name: string, extraDirs: readonly string[] = []): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(path.delimiter), ...extraDirs].filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

/** Result of {@link runCommand}. */
export interface CommandResult {
  code: number;
  /** Last lines of combined stdout/stderr, for error messages. */
  tail: string;
}

/**
 * Runs a command to completion, handing each output line to `onLine` (which may drop it).
 * Never rejects for a non-zero exit; the caller decides what a failure means.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const recent: string[] = [];
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        recent.push(line);
        if (recent.length > 30) recent.shift();
        opts.onLine?.(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (err) => resolve({ code: 127, tail: err.message }));
    child.once('close', (code) => {
      if (partial !== '') recent.push(partial);
      resolve({ code: code ?? 1, tail: recent.join('\n') });
    });
  });
}

/** Copies a template, replacing every `{{KEY}}` with `vars[KEY]`; fails on a placeholder left over. */
export function renderTemplate(template: string, dest: string, vars: Record<string, string>): void {
  const text = fs.readFileSync(template, 'utf8').replace(/\{\{([A-Z_]+)\}\}/g, (whole, key: string) => {
    const value = vars[key];
    if (value === undefined) throw new Error(`${template}: no value for placeholder ${whole}`);
    return value;
  });
  // Write-then-rename: a crash mid-write never leaves a half config behind.
  fs.writeFileSync(`${dest}.tmp`, text);
  fs.renameSync(`${dest}.tmp`, dest);
}

/**
 * Runs `fn` while holding an exclusive lock file (pid inside), so two concurrent
 * `vitals services up` (or two vitest runs) do not both start a broker. A lock whose
 * owner died is taken over.
 */
export async function withLock<T>(lockFile: string, progress: Progress, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readPid(lockFile);
    if (owner === null || !isAlive(owner)) {
      fs.rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the services lock ${lockFile} (held by pid ${owner})`);
    if (!announced) progress(`waiting for another \`vitals services\` run (pid ${owner}) to finish`);
    announced = true;
    await sleep(250);
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
