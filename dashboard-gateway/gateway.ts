/** The gateway role: HTTP(S) (fastify) and WebSocket (ws) on one port, fed from the bus. */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Context, Service } from '../platform/context.js';
import { VitalsError } from '../core/errors.js';
import { combinedVerifier, loadSigningKey, oidcVerifier, verifyToken, type Verify } from '../platform/jwt.js';
import { listenOn } from '../platform/listen.js';
import { sampledGauge } from '../platform/metrics.js';
import type { RegistryView } from '../platform/registry-view.js';
import { auditor, buildApp } from './app.js';
import { Hub } from './hub.js';
import { attachWebSocket } from './ws.js';
import { acknowledge } from './routes/alerts.js';

export interface GatewayService extends Service {
  port: number;
  url: string;
  /** Connected WebSocket clients. */
  clients(): number;
  /** The fastify app (tests use `inject`) and the live view behind it. */
  app: FastifyInstance;
  hub: Hub;
}

/** Options tests and benchmarks use; production takes the defaults. */
export interface GatewayOptions {
  ws?: { softLimit?: number; hardLimit?: number; heartbeatMs?: number; vitalsIntervalMs?: number; opsPerSec?: number; writeBatchMs?: number };
}

/** Whether locally signed tokens are accepted: on without OIDC, off with it unless asked for. */
export function localTokensOn(config: Context['config']): boolean {
  return config.localTokens ?? !(config.oidcIssuer && config.oidcAudience);
}

/**
 * OIDC tokens when an issuer and audience are configured; local HS256 tokens (the data-dir key)
 * when {@link localTokensOn}. With OIDC, the data-dir key is then no credential at all.
 */
export function buildVerifier(config: Context['config'], key: Uint8Array): Verify {
  const local: Verify | null = localTokensOn(config) ? (token) => verifyToken(key, token) : null;
  const refused: Verify = async () => ({ ok: false, reason: 'invalid' });
  if (!config.oidcIssuer || !config.oidcAudience) return local ?? refused;
  const oidc = oidcVerifier({
    issuer: config.oidcIssuer,
    audience: config.oidcAudience,
    jwksUrl: config.oidcJwksUrl,
    claims: { role: config.oidcRoleClaim || 'role', wards: config.oidcWardsClaim || 'wards', patient: config.oidcPatientClaim || 'patient_id' },
  });
  return combinedVerifier(local ?? refused, oidc);
}

async function loadTls(config: Context['config']): Promise<{ cert: Buffer; key: Buffer } | null> {
  if (!config.httpTlsCert || !config.httpTlsKey) return null;
  try {
    return { cert: await readFile(config.httpTlsCert), key: await readFile(config.httpTlsKey) };
  } catch (e) {
    throw new VitalsError('VTL_ERR_CONFIG', `cannot read the HTTP TLS certificate or key: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

export type ReadyFn = () => Promise<{ ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> }>;

export async function startGateway(ctx: Context, registry: RegistryView, ready: ReadyFn, opts: GatewayOptions = {}): Promise<GatewayService> {
  const { config, log, bus, store, clock, metrics } = ctx;
  const key = await loadSigningKey(config.dataDir);
  const verify = buildVerifier(config, key);
  const tls = await loadTls(config);
  const hub = new Hub(bus, log.child({ role: 'gateway.hub' }));
  await hub.start(clock.now());

  const auditAs = auditor(bus, clock, log);
  const app = await buildApp({ config, log, bus, store, clock, metrics, registry, hub, verify, ready, tls });
  const ws = attachWebSocket(app.server, {
    writeBatchMs: config.wsWriteBatchMs,
    ...opts.ws,
    hub,
    log,
    verify,
    ack: (policy, alertId, address) => acknowledge({ hub, bus, clock, auditAs }, policy, alertId, address),
    audit: (policy, action, resource, address) => auditAs(policy, action, resource, null, address, 'ok'),
  });
  const unregisterClients = sampledGauge(metrics, 'vitals_gateway_ws_clients', 'Open dashboard WebSocket connections', () => ws.clients());
  await app.ready();
  const port = await listenOn(app.server, config.httpPort, config.host, 'HTTP');
  const url = `${tls ? 'https' : 'http'}://${config.host}:${port}`;
  log.info({ role: 'gateway', url, oidc: Boolean(config.oidcIssuer), localTokens: localTokensOn(config) }, `gateway listening; local HS256 tokens ${localTokensOn(config) ? 'accepted' : 'refused'}`);

  return {
    name: 'gateway',
    port,
    url,
    clients: () => ws.clients(),
    app,
    hub,
    async ready() {
      return { ok: true };
    },
    async stop() {
      unregisterClients();
      await ws.close();
      await app.close();
      await hub.stop();
    },
  };
}
