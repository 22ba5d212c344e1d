/** Patients in scope, their history, manual observations and chart settings (SpO2 scale orders). */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AccessPolicy } from '../../core/access.js';
import { VitalsError } from '../../core/errors.js';
import { TOPICS } from '../../core/ports.js';
import { normaliseOne, type PayloadLimits } from '../../core/payload.js';
import { METRIC_NAMES, type CanonicalSample, type MetricName } from '../../core/vitals.js';
import type { AppServices } from '../app.js';
import { chooseStep } from '../history-step.js';
import { chartView, type ChartOrder } from '../chart.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

interface HistoryQs {
  metric: MetricName;
  from?: number;
  to?: number;
  step?: string;
}

/** Payload fields that describe a device, not a patient: refused in a manual entry. */
const DEVICE_ONLY_FIELDS = new Set(['battery', 'quality', 'seq', 'samples']);

/** The devices' limits, with no unknown field tolerated: a person typing gets told at once. */
function observationLimits(c: AppServices['config']): PayloadLimits {
  return { maxPayloadBytes: c.maxPayloadBytes, maxBatchSamples: 1, backfillMs: c.backfillMs, maxFutureMs: c.maxFutureMs, maxUnknownFields: 0 };
}

export function patientRoutes(s: AppServices): FastifyPluginAsync {
  const authorisePatient = (req: FastifyRequest, patientId: string, action: string, write = false): { policy: AccessPolicy; ward: string | null } =>
    s.authorisePatient(req, patientId, action, write ? 'act' : 'read');

  /**
   * The first metric of `sample` already recorded for the patient at the same millisecond, or null.
   * The live view answers for its latest readings; the store is asked only about a time at or
   * before them (an entry "now" is newer than anything stored and costs no query).
   */
  const takenMetric = async (patientId: string, sample: CanonicalSample): Promise<MetricName | null> => {
    const live = s.hub.state.patients.get(patientId);
    const metrics = Object.keys(sample.metrics) as MetricName[];
    for (const m of metrics) if (live?.latest[m]?.ts === sample.ts) return m;
    const older = metrics.filter((m) => sample.ts <= (live?.latest[m]?.ts ?? Number.POSITIVE_INFINITY));
    const found = await Promise.all(older.map((m) => s.store.history({ patientKey: patientId, metric: m, from: sample.ts, to: sample.ts + 1, step: 'raw', limit: 1 })));
    return older.find((_m, i) => (found[i]?.length ?? 0) > 0) ?? null;
  };

  return async (app) => {
    app.get('/patients', { schema: { tags: ['patients'], summary: 'Patients in scope with their latest vitals, score and chart settings' } }, async (req) => {
      const policy = s.requirePolicy(req);
      const now = s.clock.now();
      const patients = [...s.hub.state.patients.values()]
        .filter((p) => policy.canReadWard(p.ward) || policy.canReadPatient(p.patientId, p.ward))
        .map((p) => ({ patientId: p.patientId, ward: p.ward, bed: p.bed, lastTs: p.lastTs, latest: p.latest, score: p.score, device: p.device, chart: chartView(p.patientId, s.hub.charts.get(p.patientId), now) }));
      s.audit(req, 'patient.list', `wards:${policy.principal.wards.join(',')}`, null);
      return { patients };
    });

    app.get<{ Params: { id: string }; Querystring: HistoryQs }>(
      '/patients/:id/vitals',
      {
        schema: {
          tags: ['patients'],
          summary: 'History of one metric: raw points or rollup buckets',
          params: idParams,
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
          tags: ['patients'],
          summary: 'Enter a manual observation (published on vitals.samples, scored like device data)',
          params: idParams,
          // Validated by the devices' own validator (core/payload.ts), not by the schema: ajv here
          // coerces ("70" and [70] would become 70), and one contract for every way in is the point.
          body: {
            type: 'object',
            description: `One sample in the MQTT payload format (docs/protocol.md): ts, ${METRIC_NAMES.join(', ')}, o2, acvpu, units; no other fields. Types are strict and ranges are the devices' ones.`,
          },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        const { policy, ward } = authorisePatient(req, id, 'patient.observation.create', true);
        const now = s.clock.now();
        const dev = { deviceId: `manual:${policy.principal.sub}`, patientId: id, ward, bed: null };
        const deviceOnly = Object.keys(req.body).find((k) => DEVICE_ONLY_FIELDS.has(k));
        if (deviceOnly) throw new VitalsError('VTL_ERR_BAD_REQUEST', `too_many_unknown_fields: ${deviceOnly} is not part of a manual observation`);
        const r = normaliseOne(req.body, dev, now, observationLimits(s.config), randomUUID());
        if ('rejection' in r) throw new VitalsError('VTL_ERR_BAD_REQUEST', `${r.rejection.reason}${r.rejection.field ? `: ${r.rejection.field}` : ''}`);
        const { bed: _bed, ...entered } = r.sample;
        const sample: CanonicalSample = { ...entered, source: 'manual' };
        // Samples are stored once per (patient, metric, ms): a second one at the same instant would
        // be dropped after the 202. Refuse it now instead (the live view, then the store).
        const taken = await takenMetric(id, sample);
        if (taken) throw new VitalsError('VTL_ERR_CONFLICT', `a ${taken} reading at this exact time exists; enter the observation with another ts`);
        await s.bus.publish(TOPICS.samples, [{ key: id, value: JSON.stringify(sample), timestamp: now }]);
        s.audit(req, 'patient.observation.create', 'patient.observation', id);
        return reply.code(202).send({ accepted: true, traceId: sample.traceId });
      },
    );

    app.get<{ Params: { id: string } }>(
      '/patients/:id/chart',
      { schema: { tags: ['patients'], summary: 'Chart settings: the SpO2 scale in force and the order behind it', params: idParams } },
      async (req) => {
        const { id } = req.params;
        authorisePatient(req, id, 'patient.chart.read');
        s.audit(req, 'patient.chart.read', 'patient.chart', id);
        return chartView(id, s.hub.charts.get(id), s.clock.now());
      },
    );

    app.put<{ Params: { id: string }; Body: { spo2Scale: 1 | 2; until?: number | null } }>(
      '/patients/:id/chart',
      {
        schema: {
          tags: ['patients'],
          summary: "A clinician's order of the NEWS2 SpO2 scale, optionally until a time (published on alert.actions)",
          params: idParams,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['spo2Scale'],
            properties: { spo2Scale: { type: 'integer', enum: [1, 2] }, until: { type: 'integer', minimum: 0, nullable: true } },
          },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        const { policy } = s.authorisePatient(req, id, 'patient.chart.order', 'order');
        const now = s.clock.now();
        const until = req.body.until ?? null;
        if (until !== null && until <= now) throw new VitalsError('VTL_ERR_BAD_REQUEST', '"until" is in the past');
        const order: ChartOrder = { v: 1, action: 'chart', patientId: id, spo2Scale: req.body.spo2Scale, orderedBy: policy.principal.sub, role: policy.principal.role, ts: now, until };
        await s.bus.publish(TOPICS.alertActions, [{ key: id, value: JSON.stringify(order), timestamp: now }]);
        s.audit(req, 'patient.chart.order', `patient.chart:spo2Scale=${order.spo2Scale}`, id);
        return reply.code(202).send({ accepted: true, order });
      },
    );
  };
}
