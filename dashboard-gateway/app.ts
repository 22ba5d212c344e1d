/**
 * The gateway's HTTP app. Built without listening, so tests use `app.inject()`.
 * Auth: a bearer JWT on every /api and /fhir route; the access policy is built once per
 * request and applied where data leaves (replies), deny by default.
 * Hardening: rate limits per client address (every route but health and metrics) and per
 * user (after auth), a body limit, security headers (helmet), CORS closed unless origins
 * are configured, optional TLS (the same server then carries WSS).
 */
import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
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
import { fhirMetadataRoute, fhirRoutes } from './routes/fhir.js';

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
  /** PEM certificate and key: the server speaks HTTPS (and WSS). */
  tls?: { cert: string | Buffer; key: string | Buffer } | null;
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

/** Largest request body accepted (413 VTL_ERR_PAYLOAD_TOO_LARGE beyond). */
export const BODY_LIMIT = 256 * 1024;

const unlimited = { rateLimit: false } as const;

export async function buildApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ role: 'gateway' }),
    // Request logging is off (URLs carry patient ids). Through the log controller: the top-level
    // `disableRequestLogging` option is deprecated (FSTDEP023, printed at every start).
    logController: new LogController({ disableRequestLogging: true }),
    // Idle keep-alive sockets (browsers open spares) must not hold a SIGTERM for 60 s.
    forceCloseConnections: true,
    bodyLimit: BODY_LIMIT,
    genReqId: () => randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
    ...(deps.tls ? { https: { cert: deps.tls.cert, key: deps.tls.key } } : {}),
  }) as unknown as FastifyInstance;
  app.decorateRequest('policy', null);

  // Security headers on every reply; the page sets its own, stricter-for-scripts CSP.
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: deps.tls ? { maxAge: 15552000, includeSubDomains: false } : false,
  });
  // CORS: closed (no Access-Control-* headers) unless origins are configured.
  const origins = (deps.config.corsOrigins ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  await app.register(cors, { origin: origins.length ? origins : false, methods: ['GET', 'PUT', 'POST', 'DELETE'], allowedHeaders: ['authorization', 'content-type'], maxAge: 600 });
  const rateLimited = (after: string): VitalsError => new VitalsError('VTL_ERR_RATE_LIMITED', `retry in ${after}`);
  await app.register(rateLimit, {
    global: true,
    max: deps.config.apiRatePerAddress,
    timeWindow: 60_000,
    keyGenerator: (req) => `addr:${req.ip}`,
    errorResponseBuilder: (_req, ctx) => rateLimited(ctx.after),
  });
  const perUser = app.createRateLimit({ max: deps.config.apiRatePerUser, timeWindow: 60_000, keyGenerator: (req) => `user:${req.policy?.principal.sub ?? ''}` });
  /** After auth: a user's budget is shared by all their addresses and sessions. */
  const userLimit = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!req.policy) return;
    const r = await perUser(req);
    if (r.isAllowed) return;
    reply.header('x-ratelimit-limit', r.max).header('x-ratelimit-remaining', r.remaining);
    if (r.isExceeded) {
      reply.header('retry-after', r.ttlInSeconds);
      throw rateLimited(`${r.ttlInSeconds} s`);
    }
  };
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Vitalstream gateway API', version: '1', description: 'REST and FHIR R4 (read-only). Every /api and /fhir route needs `Authorization: Bearer <jwt>`. Errors: `{"error":{"code":"VTL_ERR_*","message"}}` (docs/errors.md).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    hideUntagged: false,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, uiConfig: { docExpansion: 'list', deepLinking: false } });

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

  const ops = { config: unlimited, schema: { hide: true } };
  app.get('/healthz', ops, async () => ({ status: 'ok' }));
  app.get('/readyz', ops, async (_req, reply) => {
    const r = await deps.ready();
    return reply.code(r.ok ? 200 : 503).send({ status: r.ok ? 'ready' : 'not ready', checks: r.checks });
  });
  app.get('/metrics', ops, async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()));

  /** Bearer token -> policy; an expired token says so (the client can refresh rather than re-login). */
  const authenticate = async (req: FastifyRequest): Promise<void> => {
    const h = req.headers.authorization;
    if (!h?.startsWith('Bearer ')) throw new VitalsError('VTL_ERR_UNAUTHORIZED', 'missing bearer token');
    const v = await deps.verify(h.slice(7));
    if (!v.ok) {
      auditLog(null, 'auth', 'token', null, req.ip, 'denied');
      throw new VitalsError('VTL_ERR_UNAUTHORIZED', v.reason === 'expired' ? 'token expired' : 'invalid token');
    }
    req.policy = buildPolicy(v.principal);
  };

  // Auth before the body is parsed (an anonymous caller gets no parsing), after the per-address limit.
  const authHook = async (req: FastifyRequest, _reply: FastifyReply, payload: unknown): Promise<unknown> => {
    await authenticate(req);
    return payload;
  };
  await app.register(
    async (api) => {
      api.addHook('preParsing', authHook);
      api.addHook('preHandler', userLimit);
      await api.register(deviceRoutes(services));
      await api.register(patientRoutes(services));
      await api.register(alertRoutes(services));
      await api.register(recordRoutes(services));
    },
    { prefix: '/api' },
  );
  await app.register(
    async (fhir) => {
      fhir.addHook('preParsing', authHook);
      fhir.addHook('preHandler', userLimit);
      await fhir.register(fhirRoutes(services));
    },
    { prefix: '/fhir' },
  );
  await app.register(fhirMetadataRoute(services));
  await app.register(pageRoutes());
  return app;
}
