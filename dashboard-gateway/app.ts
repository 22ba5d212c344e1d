/**
 * The gateway's HTTP app. Built without listening, so tests use `app.inject()`.
 * Auth: a bearer JWT on every /api route; the access policy is built once per
 * request and applied where data leaves (replies), deny by default.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { buildPolicy, type AccessPolicy, type Principal } from '../core/access.js';
import type { AuditEvent } from '../core/audit.js';
import { VitalsError, isVitalsError } from '../core/errors.js';
import { TOPICS, type Bus, type Clock, type Store } from '../core/ports.js';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/log.js';
import type { RegistryView } from '../platform/registry-view.js';
import type { Hub } from './hub.js';
import { deviceRoutes } from './routes/devices.js';
import { patientRoutes } from './routes/patients.js';
import { alertRoutes } from './routes/alerts.js';
import { recordRoutes } from './routes/records.js';
import { pageRoutes } from './routes/page.js';

declare module 'fastify' {
  interface FastifyRequest {
    policy: AccessPolicy | null;
  }
}

export interface GatewayDeps {
  config: Config;
  log: Logger;
  bus: Bus;
  store: Store;
  clock: Clock;
  metrics: Registry;
  registry: RegistryView;
  hub: Hub;
  verify(token: string): Promise<{ ok: true; principal: Principal } | { ok: false; reason: string }>;
  /** Aggregated readiness of every module in this process. */
  ready(): Promise<{ ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> }>;
}

export interface AppServices extends GatewayDeps {
  audit(req: FastifyRequest, action: string, resource: string, patientId: string | null, outcome?: AuditEvent['outcome']): void;
  /** The ward a patient is in now (live view, then device assignments); null when unknown. */
  wardOf(patientId: string): string | null;
  requirePolicy(req: FastifyRequest): AccessPolicy;
}

export function sendError(reply: FastifyReply, e: VitalsError): FastifyReply {
  return reply.code(e.statusCode).send({ error: { code: e.code, message: e.message } });
}

export async function buildApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ role: 'gateway' }),
    disableRequestLogging: true,
    bodyLimit: 256 * 1024,
    genReqId: () => randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  });
  app.decorateRequest('policy', null);

  const auditLog = (policy: AccessPolicy | null, action: string, resource: string, patientId: string | null, address: string, outcome: AuditEvent['outcome']): void => {
    const now = deps.clock.now();
    const ev: AuditEvent = {
      v: 1,
      id: randomUUID(),
      ts: now,
      userId: policy?.principal.sub ?? 'anonymous',
      role: policy?.principal.role ?? 'none',
      action,
      resource,
      patientId,
      address,
      outcome,
    };
    deps.bus.publish(TOPICS.audit, [{ key: ev.userId, value: JSON.stringify(ev), timestamp: now }]).catch((e: unknown) => {
      deps.log.error({ err: (e as Error).message, action }, 'audit publish failed');
    });
  };

  const services: AppServices = {
    ...deps,
    audit: (req, action, resource, patientId, outcome = 'ok') => auditLog(req.policy, action, resource, patientId, req.ip, outcome),
    wardOf(patientId) {
      const live = deps.hub.state.patients.get(patientId);
      if (live?.ward) return live.ward;
      for (const d of deps.registry.list()) if (d.patientId === patientId && d.ward) return d.ward;
      return null;
    },
    requirePolicy(req) {
      if (!req.policy) throw new VitalsError('VTL_ERR_UNAUTHORIZED');
      return req.policy;
    },
  };

  app.setErrorHandler((err: unknown, req, reply) => {
    if (isVitalsError(err)) return sendError(reply, err);
    const e = err as { validation?: unknown; statusCode?: number; message?: string; code?: string };
    if (e.validation) return sendError(reply, new VitalsError('VTL_ERR_BAD_REQUEST', e.message));
    if (e.statusCode === 413 || e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, new VitalsError('VTL_ERR_PAYLOAD_TOO_LARGE'));
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return sendError(reply, new VitalsError('VTL_ERR_BAD_REQUEST', e.message));
    req.log.error({ err: e.message, reqId: req.id }, 'request failed');
    return sendError(reply, new VitalsError('VTL_ERR_INTERNAL'));
  });
  app.setNotFoundHandler((_req, reply) => sendError(reply, new VitalsError('VTL_ERR_NOT_FOUND')));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = await deps.ready();
    return reply.code(r.ok ? 200 : 503).send({ status: r.ok ? 'ready' : 'not ready', checks: r.checks });
  });
  app.get('/metrics', async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()));

  await app.register(
    async (api) => {
      api.addHook('onRequest', async (req) => {
        const h = req.headers.authorization;
        if (!h?.startsWith('Bearer ')) throw new VitalsError('VTL_ERR_UNAUTHORIZED', 'missing bearer token');
        const v = await deps.verify(h.slice(7));
        if (!v.ok) throw new VitalsError('VTL_ERR_UNAUTHORIZED', v.reason === 'expired' ? 'token expired' : 'invalid token');
        req.policy = buildPolicy(v.principal);
      });
      await api.register(deviceRoutes(services));
      await api.register(patientRoutes(services));
      await api.register(alertRoutes(services));
      await api.register(recordRoutes(services));
    },
    { prefix: '/api' },
  );
  await app.register(pageRoutes());
  return app as unknown as FastifyInstance;
}
