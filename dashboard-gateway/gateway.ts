/** The gateway role: HTTP (fastify) and WebSocket (ws) on one port, fed from the bus. */
import type { Context, Service } from '../platform/context.js';
import { loadSigningKey, verifyToken } from '../platform/jwt.js';
import { listenOn } from '../platform/listen.js';
import type { RegistryView } from '../platform/registry-view.js';
import { buildApp } from './app.js';
import { Hub } from './hub.js';
import { attachWebSocket } from './ws.js';
import { acknowledge } from './routes/alerts.js';
import { TOPICS } from '../core/ports.js';
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../core/audit.js';

export interface GatewayService extends Service {
  port: number;
  url: string;
}

export type ReadyFn = () => Promise<{ ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> }>;

export async function startGateway(ctx: Context, registry: RegistryView, ready: ReadyFn): Promise<GatewayService> {
  const { config, log, bus, store, clock, metrics } = ctx;
  const key = await loadSigningKey(config.dataDir);
  const verify = (token: string) => verifyToken(key, token);
  const hub = new Hub(bus, log.child({ role: 'gateway.hub' }));
  await hub.start(clock.now());

  const app = await buildApp({ config, log, bus, store, clock, metrics, registry, hub, verify, ready });
  const ws = attachWebSocket(app.server, {
    hub,
    log,
    verify,
    ack: (policy, alertId) => acknowledge({ hub, bus, clock }, policy, alertId),
    audit: (policy, action, resource, address) => {
      const now = clock.now();
      const ev: AuditEvent = { v: 1, id: randomUUID(), ts: now, userId: policy.principal.sub, role: policy.principal.role, action, resource, patientId: null, address, outcome: 'ok' };
      bus.publish(TOPICS.audit, [{ key: ev.userId, value: JSON.stringify(ev), timestamp: now }]).catch(() => undefined);
    },
  });
  await app.ready();
  const port = await listenOn(app.server, config.httpPort, config.host, 'HTTP');
  const url = `http://${config.host}:${port}`;
  log.info({ role: 'gateway', url }, 'gateway listening');

  return {
    name: 'gateway',
    port,
    url,
    async ready() {
      return { ok: true };
    },
    async stop() {
      await ws.close();
      await app.close();
      await hub.stop();
    },
  };
}
