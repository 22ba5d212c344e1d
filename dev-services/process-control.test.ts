import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  assertPortsFree,
  isPortFree,
  readPid,
  renderTemplate,
  runCommand,
  runningPid,
  spawnDetached,
  stopProcess,
  stopService,
  withLock,
} from './process-control.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-services-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('renderTemplate', () => {
  it('replaces every placeholder', () => {
    fs.writeFileSync(path.join(dir, 't'), 'a={{STATE_DIR}}/x\nb={{STATE_DIR}}\nc={{EXTRA}}\n');
    renderTemplate(path.join(dir, 't'), path.join(dir, 'out'), { STATE_DIR: '/s', EXTRA: '' });
    expect(fs.readFileSync(path.join(dir, 'out'), 'utf8')).toBe('a=/s/x\nb=/s\nc=\n');
  });

  it('refuses a placeholder it has no value for', () => {
    fs.writeFileSync(path.join(dir, 't'), 'a={{MISSING}}');
    expect(() => renderTemplate(path.join(dir, 't'), path.join(dir, 'out'), {})).toThrow(/MISSING/);
    expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);
  });
});

describe('ports', () => {
  it('reports a taken port by number', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      expect(await isPortFree(port)).toBe(false);
      await expect(assertPortsFree('kafka', [port])).rejects.toThrow(`port 127.0.0.1:${port} is already in use`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await isPortFree(port)).toBe(true);
  });
});

describe('detached processes', () => {
  /** A detached node process that idles, its command line carrying `marker`. */
  const spawnIdle = (pidFile: string, marker: string): Promise<number> =>
    spawnDetached({ command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)', marker], cwd: dir, logFile: path.join(dir, 'out.log'), pidFile });

  it('spawns detached with a pid file, recognises it by marker, and stops it with SIGTERM', async () => {
    const pidFile = path.join(dir, 'p.pid');
    const marker = `vitals-test-marker-${process.pid}`;
    const pid = await spawnIdle(pidFile, marker);
    expect(readPid(pidFile)).toBe(pid);
    expect(runningPid(pidFile, marker)).toBe(pid);
    // A live pid whose command line lacks the marker is somebody else's (pid reuse).
    expect(runningPid(pidFile, 'not-our-marker')).toBeNull();
    expect(await stopProcess(pid, marker, 5_000)).toBe('term');
    expect(runningPid(pidFile, marker)).toBeNull();
    expect(await stopProcess(pid, marker, 5_000)).toBe('gone');
  });

  it('falls back to SIGKILL when SIGTERM is ignored', async () => {
    const marker = `vitals-test-stubborn-${process.pid}`;
    const pid = await spawnDetached({
      command: process.execPath,
      args: ['-e', "process.on('SIGTERM', () => {}); require('fs').writeFileSync('ready', ''); setInterval(() => {}, 1000)", marker],
      cwd: dir,
      logFile: path.join(dir, 'out.log'),
      pidFile: path.join(dir, 'p.pid'),
    });
    // Wait until it has installed its handler (a fixed sleep lost that race on a loaded machine).
    for (let i = 0; i < 200 && !fs.existsSync(path.join(dir, 'ready')); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await stopProcess(pid, marker, 500)).toBe('kill');
    expect(runningPid(path.join(dir, 'p.pid'), marker)).toBeNull();
  });

  it('stops a service by its pid file and removes the file, or says it was not running', async () => {
    const pidFile = path.join(dir, 's.pid');
    const marker = `vitals-test-service-${process.pid}`;
    const pid = await spawnIdle(pidFile, marker);
    const lines: string[] = [];
    await stopService('svc', pidFile, marker, 5_000, (l) => lines.push(l));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^svc: stopped pid ${pid} \\(SIGTERM\\) in \\d+\\.\\d s$`))]);
    expect(fs.existsSync(pidFile)).toBe(false);
    expect(runningPid(pidFile, marker)).toBeNull();
    // A stale pid file of a process that is gone is removed too.
    fs.writeFileSync(pidFile, String(pid));
    await stopService('svc', pidFile, marker, 5_000, (l) => lines.push(l));
    expect(lines[1]).toBe('svc: not running');
    expect(fs.existsSync(pidFile)).toBe(false);
  });

  it('reports a command that cannot start', async () => {
    await expect(
      spawnDetached({ command: path.join(dir, 'nope'), args: [], cwd: dir, logFile: path.join(dir, 'l'), pidFile: path.join(dir, 'p') }),
    ).rejects.toThrow(/cannot start/);
  });
});

describe('runCommand', () => {
  it('returns the exit code and the last output lines', async () => {
    const lines: string[] = [];
    const result = await runCommand(process.execPath, ['-e', 'console.log("a\\nb"); console.error("c"); process.exit(3)'], {
      onLine: (l) => lines.push(l),
    });
    expect(result.code).toBe(3);
    expect([...lines].sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('withLock', () => {
  it('serialises callers and takes over a lock whose owner died', async () => {
    const lock = path.join(dir, 'l.lock');
    fs.writeFileSync(lock, '999999999\n'); // no such pid
    const order: string[] = [];
    const first = withLock(lock, () => undefined, 5_000, async () => {
      order.push('first-start');
      await new Promise((resolve) => setTimeout(resolve, 300));
      order.push('first-end');
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const waits: string[] = [];
    const second = withLock(lock, (l) => waits.push(l), 5_000, async () => {
      order.push('second');
    });
    await Promise.all([first, second]);
    expect(order).toEqual(['first-start', 'first-end', 'second']);
    expect(waits[0]).toMatch(/waiting for another/);
    expect(fs.existsSync(lock)).toBe(false);
  });
});
