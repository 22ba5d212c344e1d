/** Patients in scope, their history and manual observations. */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AccessPolicy } from '../../core/access.js';
import { VitalsError } from '../../core/errors.js';
import { TOPICS } from '../../core/ports.js';
import { METRIC_RANGES } from '../../core/payload.js';
import { ACVPU_VALUES, METRIC_NAMES, type CanonicalSample, type MetricName } from '../../core/vitals.js';
import type { AppServices } from '../app.js';
import { chooseStep } from '../history-step.js';

interface HistoryQs {
  metric: MetricName;
  from?: number;
  to?: number;
  step?: string;
}

export function patientRoutes(s: AppServices): FastifyPluginAsync {
  /** Ward check at the data boundary; unknown patients look the same as forbidden ones to non-admins. */
  const authorisePatient = (req: FastifyRequest, patientId: string, action: string, write = false): { policy: AccessPolicy; ward: string | null } => {
    const policy = s.requirePolicy(req);
    const ward = s.wardOf(patientId);
    const ok = write ? policy.canActOnWard(ward) || (policy.isAdmin && ward !== null) : policy.canReadWard(ward) || policy.isAdmin;
    if (!ok) {
      s.audit(req, action, `patient`, patientId, 'denied');
      if (ward === null) throw new VitalsError('VTL_ERR_NOT_FOUND', 'no such patient in scope');
      throw new VitalsError('VTL_ERR_FORBIDDEN', `ward ${ward} is not in scope`);
    }
    return { policy, ward };
  };

  return async (app) => {
    app.get('/patients', async (req) => {
      const policy = s.requirePolicy(req);
      const patients = [...s.hub.state.patients.values()]
        .filter((p) => policy.canReadWard(p.ward))
        .map((p) => ({ patientId: p.patientId, ward: p.ward, bed: p.bed, lastTs: p.lastTs, latest: p.latest, score: p.score, device: p.device }));
      s.audit(req, 'patient.list', `wards:${policy.principal.wards.join(',')}`, null);
      return { patients };
    });

    app.get<{ Params: { id: string }; Querystring: HistoryQs }>(
      '/patients/:id/vitals',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            required: ['metric'],
            properties: {
              metric: { type: 'string', enum: METRIC_NAMES },
              from: { type: 'integer', minimum: 0 },
              to: { type: 'integer', minimum: 0 },
              step: { type: 'string', pattern: '^(raw|auto|[0-9]{1,12})$' },
            },
          },
        },
      },
      async (req) => {
        const { id } = req.params;
        authorisePatient(req, id, 'patient.vitals.read');
        const now = s.clock.now();
        const to = req.query.to ?? now;
        const from = req.query.from ?? to - 3600_000;
        if (from > to) throw new VitalsError('VTL_ERR_BAD_REQUEST', '"from" is after "to"');
        const step = chooseStep(from, to, req.query.step ?? 'auto');
        if ('error' in step) throw new VitalsError('VTL_ERR_BAD_REQUEST', step.error);
        const points = await s.store.history({ patientKey: id, metric: req.query.metric, from, to, step: step.step, limit: step.limit });
        s.audit(req, 'patient.vitals.read', `patient.vitals:${req.query.metric}`, id);
        return { patientId: id, metric: req.query.metric, step: step.step, points };
      },
    );

    app.post<{ Params: { id: string }; Body: Record<string, unknown> }>(
      '/patients/:id/observations',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              ts: { type: 'integer', minimum: 0 },
              acvpu: { type: 'string', enum: [...ACVPU_VALUES] },
              o2: { type: 'boolean' },
              ...Object.fromEntries(METRIC_NAMES.map((m) => [m, { type: 'number', minimum: METRIC_RANGES[m][0], maximum: METRIC_RANGES[m][1] }])),
            },
          },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        const { policy, ward } = authorisePatient(req, id, 'patient.observation.create', true);
        const now = s.clock.now();
        const b = req.body;
        const ts = typeof b.ts === 'number' ? b.ts : now;
        if (ts > now + s.config.maxFutureMs || ts < now - s.config.backfillMs) throw new VitalsError('VTL_ERR_BAD_REQUEST', 'ts is outside the accepted window');
        const metrics: CanonicalSample['metrics'] = {};
        for (const m of METRIC_NAMES) if (typeof b[m] === 'number') metrics[m] = b[m] as number;
        const sample: CanonicalSample = {
          v: 1,
          deviceId: `manual:${policy.principal.sub}`,
          patientId: id,
          ward,
          ts,
          recvTs: now,
          source: 'manual',
          metrics,
          traceId: randomUUID(),
        };
        if (typeof b.acvpu === 'string') sample.acvpu = b.acvpu as CanonicalSample['acvpu'];
        if (typeof b.o2 === 'boolean') sample.o2 = b.o2;
        await s.bus.publish(TOPICS.samples, [{ key: id, value: JSON.stringify(sample), timestamp: ts }]);
        s.audit(req, 'patient.observation.create', 'patient.observation', id);
        return reply.code(202).send({ accepted: true, traceId: sample.traceId });
      },
    );
  };
}
