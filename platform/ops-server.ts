/**
 * The ops port of a split role (`vitals ingest|rules|sink`): `/healthz`, `/readyz` and `/metrics`
 * for orchestrators and Prometheus. Plain node:http, not fastify: these roles serve nothing else
 * over HTTP, and the port must answer from the first moment, while the bus is still connecting.
 * The gateway serves the same three routes on its own HTTP port (dashboard-gateway/app.ts).
 */
import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from './log.js';
import { listenOn } from './listen.js';

export interface Check {
  ok: boolean;
  detail?: string;
}

export interface Readiness {
  ok: boolean;
  checks: Record<string, Check>;
}

export interface OpsServer {
  /** The bound port (the kernel's pick when asked for 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * The /readyz body: the checks by name, and each failing one as "name: detail" (`bus: connecting`,
 * `store: unreachable: …`) so a probe's log line says what is missing without parsing JSON.
 */
export function readinessBody(r: Readiness): { status: 'ready' | 'not ready'; checks: Record<string, Check>; failing: string[] } {
  const failing = Object.entries(r.checks)
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => `${name}: ${c.detail ?? 'not ready'}`);
  return { status: r.ok ? 'ready' : 'not ready', checks: r.checks, failing };
}

/**
 * Serve the ops routes on `host:port` (0: any free port). Binding fails loudly: an ops port in use
 * is a configuration problem, not something to run without.
 */
export async function startOpsServer(opts: { host: string; port: number; metrics: Registry; ready: () => Promise<Readiness>; log: Logger }): Promise<OpsServer> {
  const send = (res: http.ServerResponse, status: number, type: string, body: string): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'application/json', JSON.stringify({ error: { code: 'VTL_ERR_BAD_REQUEST', message: 'GET only' } }));
    const json = (status: number, body: unknown): void => send(res, status, 'application/json', JSON.stringify(body));
    const fail = (e: unknown): void => {
      opts.log.warn({ route: url, err: (e as Error).message }, 'ops endpoint failed');
      json(500, { error: { code: 'VTL_ERR_INTERNAL', message: 'internal error' } });
    };
    if (url === '/healthz') return json(200, { status: 'ok' });
    if (url === '/readyz') {
      opts.ready().then((r) => json(r.ok ? 200 : 503, readinessBody(r)), fail);
      return;
    }
    if (url === '/metrics') {
      opts.metrics.metrics().then((text) => send(res, 200, opts.metrics.contentType, text), fail);
      return;
    }
    json(404, { error: { code: 'VTL_ERR_NOT_FOUND', message: 'not found; ops routes: /healthz, /readyz, /metrics' } });
  });
  // Probes and scrapers keep connections open; do not let them hold a stop.
  server.keepAliveTimeout = 5000;
  const port = await listenOn(server, opts.port, opts.host, 'ops');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
