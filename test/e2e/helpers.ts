/** Shared helpers for whole-process tests: real MQTT clients, real WebSocket clients, real HTTP. */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { loadSigningKey, signToken } from '../../platform/jwt.js';
import type { Role } from '../../core/access.js';

/**
 * The built CLI the whole-process tests spawn. `npm test` builds first; a test run by hand on a tree that was
 * never built used to time out waiting for a server that could not start, so say why at once instead.
 */
export function builtCli(): string {
  const cli = path.resolve(import.meta.dirname, '../../dist/cli/main.js');
  if (!existsSync(cli)) throw new Error(`${path.relative(process.cwd(), cli)} is missing: these tests run the built CLI; run \`npm run build\` first (\`npm test\` does)`);
  return cli;
}

/** A loopback port nothing listens on right now: bind, read, close. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `vitals-${prefix}-`));
}

export async function tokenFor(dataDir: string, role: Role, wards: string[], sub = `test-${role}`, ttlSec = 600): Promise<string> {
  return signToken(await loadSigningKey(dataDir), { sub, role, wards }, ttlSec);
}

export async function http(base: string, token: string | null, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : null,
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function connectDevice(port: number, deviceId: string, token: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: deviceId, username: deviceId, password: token, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    const failed = (e: Error): void => {
      c.off('connect', connected);
      c.end(true);
      reject(e);
    };
    // The front door may close a socket without an error (e.g. too many unauthenticated sockets from one address); with no reconnect, that attempt would otherwise never settle.
    const closed = (): void => failed(new Error(`${deviceId}: closed before CONNACK`));
    const connected = (): void => {
      // The error listener stays (as before): an 'error' with no listener would throw.
      c.off('close', closed);
      resolve(c);
    };
    c.once('connect', connected);
    c.once('error', failed);
    c.once('close', closed);
  });
}

/** A dashboard WebSocket that records every message it gets. */
export class WsClient {
  readonly messages: any[] = [];
  closed: { code: number; reason: string } | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.messages.push(JSON.parse(d.toString())));
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  static open(port: number, token: string | null, headers = true): Promise<WsClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, token && headers ? { headers: { authorization: `Bearer ${token}` } } : {});
    const c = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  waitFor(what: string, pred: (m: any) => boolean, timeoutMs = 15_000): Promise<any> {
    return waitFor(what, () => this.messages.find(pred), timeoutMs, 20);
  }

  close(): void {
    this.ws.close();
  }
}
