/**
 * A private, throwaway ClickHouse server for tests that stop the database (outage tests,
 * benchmarks that must not disturb others): own ports, own state directory, same config
 * templates as `vitals services` (infra/clickhouse). The shared server on 28123/29000 is
 * never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable, renderTemplate, runCommand } from '../../dev-services/process-control.js';
import { freePort } from '../../platform/free-port.js';

export interface PrivateClickHouse {
  url: string;
  httpPort: number;
  tcpPort: number;
  dir: string;
  /** Start (or start again, same ports and data) and wait for /ping. */
  start(): Promise<void>;
  /** Stop with a signal: SIGKILL is a crash, SIGTERM a clean shutdown. Resolves once it exited. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Stop and delete the state directory. */
  destroy(): Promise<void>;
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export { freePort };

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.text()).startsWith('Ok.');
  } catch {
    return false;
  }
}

/**
 * Prepare a private server (not started yet).
 * @returns the handle; call start()
 */
export async function createPrivateClickHouse(): Promise<PrivateClickHouse> {
  const server = findExecutable('clickhouse-server', ['/usr/sbin', '/usr/bin', '/usr/local/bin']);
  if (server === null) throw new Error('clickhouse-server is not installed (run `vitals services up` once, or apt-get install clickhouse-server)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-private-ch-'));
  const httpPort = await freePort();
  let tcpPort = await freePort();
  while (tcpPort === httpPort) tcpPort = await freePort();
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'logs']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const config = path.join(dir, 'config.xml');
  renderTemplate(path.join(REPO, 'infra/clickhouse/config.xml'), config, { STATE_DIR: dir });
  // The template pins the shared server's ports; a private server must never take them.
  const text = fs
    .readFileSync(config, 'utf8')
    .replace('<http_port>28123</http_port>', `<http_port>${httpPort}</http_port>`)
    .replace('<tcp_port>29000</tcp_port>', `<tcp_port>${tcpPort}</tcp_port>`);
  if (!text.includes(`<http_port>${httpPort}</http_port>`) || !text.includes(`<tcp_port>${tcpPort}</tcp_port>`)) throw new Error('infra/clickhouse/config.xml: port elements not found');
  fs.writeFileSync(config, text);
  const major = /^(?:\d+:)?(\d+)\./.exec((await runCommand('dpkg-query', ['-W', '-f=${Version}', 'clickhouse-server'])).tail.trim())?.[1];
  const extra = major !== undefined && Number(major) < 19 ? '<allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>' : '';
  renderTemplate(path.join(REPO, 'infra/clickhouse/users.xml'), path.join(dir, 'users.xml'), { EXTRA_PROFILE_SETTINGS: extra });
  const url = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const handle: PrivateClickHouse = {
    url,
    httpPort,
    tcpPort,
    dir,
    async start() {
      if (child) return;
      const out = fs.openSync(path.join(dir, 'logs', 'stdout.log'), 'a');
      const c = spawn(server, [`--config-file=${config}`], { cwd: dir, stdio: ['ignore', out, out] });
      fs.closeSync(out);
      child = c;
      exited = new Promise((res) => c.once('exit', () => res()));
      void exited.then(() => {
        if (child === c) child = null;
      });
      const deadline = Date.now() + 30_000;
      while (!(await ping(url))) {
        if (child !== c) throw new Error(`private clickhouse exited during start; see ${dir}/logs`);
        if (Date.now() > deadline) throw new Error(`private clickhouse did not answer /ping within 30 s; see ${dir}/logs`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGTERM') {
      const c = child;
      if (!c) return;
      c.kill(signal);
      const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      child = null;
    },
    async destroy() {
      await handle.stop('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
