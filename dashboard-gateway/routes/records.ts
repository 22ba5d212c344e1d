/**
 * Stored records beyond vitals: NEWS2 history per patient, the audit trail (admin), and
 * erasure of a patient's clinical data (admin). Every read and the erasure itself are audited;
 * an audit entry names the action and the patient id, never clinical values.
 */
import type { FastifyPluginAsync } from 'fastify';
import { VitalsError, isVitalsError } from '../../core/errors.js';
import type { AppServices } from '../app.js';

const DAY = 24 * 3600_000;
/** NEWS2 results per request: one a second for 24 h fits with room to spare. */
export const MAX_SCORES = 100_000;
export const DEFAULT_SCORES = 10_000;
/** Audit rows per request; page with `to` = the oldest `ts` returned. */
export const MAX_AUDIT = 5_000;
export const DEFAULT_AUDIT = 500;
/** The longest span one NEWS2 history request may cover. */
export const MAX_SCORE_SPAN_MS = 31 * DAY;

const idSchema = { type: 'string', minLength: 1, maxLength: 128 } as const;

export function recordRoutes(s: AppServices): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { id: string }; Querystring: { from?: number; to?: number; limit?: number } }>(
      '/patients/:id/news2',
      {
        schema: {
          params: { type: 'object', properties: { id: idSchema }, required: ['id'] },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              from: { type: 'integer', minimum: 0 },
              to: { type: 'integer', minimum: 0 },
              limit: { type: 'integer', minimum: 1, maximum: MAX_SCORES },
            },
          },
        },
      },
      async (req) => {
        const { id } = req.params;
        // Staff by ward (admins too), and a patient for their own scores.
        s.authorisePatient(req, id, 'patient.news2.read', 'read');
        const to = req.query.to ?? s.clock.now();
        const from = req.query.from ?? Math.max(0, to - DAY);
        if (from > to) throw new VitalsError('VTL_ERR_BAD_REQUEST', '"from" is after "to"');
        if (to - from > MAX_SCORE_SPAN_MS) throw new VitalsError('VTL_ERR_BAD_REQUEST', 'a NEWS2 history request covers at most 31 days');
        const limit = req.query.limit ?? DEFAULT_SCORES;
        const scores = await s.store.scores({ patientId: id, from, to, limit });
        s.audit(req, 'patient.news2.read', 'patient.news2', id);
        return {
          patientId: id,
          from,
          to,
          truncated: scores.length === limit,
          scores: scores.map((x) => ({ ts: x.ts, score: x.score, maxScore: x.maxScore, risk: x.risk, complete: x.complete, missing: x.missing, stale: x.stale, components: x.components, scale: x.scale })),
        };
      },
    );

    app.get<{ Querystring: { user?: string; patient?: string; action?: string; from?: number; to?: number; limit?: number } }>(
      '/audit',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              user: idSchema,
              patient: idSchema,
              action: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9._-]+$' },
              from: { type: 'integer', minimum: 0 },
              to: { type: 'integer', minimum: 0 },
              limit: { type: 'integer', minimum: 1, maximum: MAX_AUDIT },
            },
          },
        },
      },
      async (req) => {
        const policy = s.requirePolicy(req);
        const q = req.query;
        if (!policy.isAdmin) {
          s.audit(req, 'audit.read', 'audit', q.patient ?? null, 'denied');
          throw new VitalsError('VTL_ERR_FORBIDDEN', 'the audit trail is for administrators');
        }
        const to = q.to ?? s.clock.now() + 1;
        const from = q.from ?? 0;
        if (from > to) throw new VitalsError('VTL_ERR_BAD_REQUEST', '"from" is after "to"');
        const limit = q.limit ?? DEFAULT_AUDIT;
        const events = await s.store.audit({ userId: q.user, patientId: q.patient, action: q.action, from, to, limit });
        s.audit(req, 'audit.read', 'audit', q.patient ?? null);
        // Newest first; the next page is `to` = the last event's ts + 1 (events at that ms repeat, none is skipped).
        return { events, truncated: events.length === limit };
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/patients/:id',
      { schema: { params: { type: 'object', properties: { id: idSchema }, required: ['id'] } } },
      async (req) => {
        const { id } = req.params;
        const policy = s.requirePolicy(req);
        if (!policy.isAdmin) {
          s.audit(req, 'patient.erase', 'patient', id, 'denied');
          throw new VitalsError('VTL_ERR_FORBIDDEN', 'erasure is for administrators');
        }
        // Scoped like every other patient access: a ward admin erases its wards' patients.
        s.authorisePatient(req, id, 'patient.erase', 'read');
        try {
          await s.store.erasePatient(id);
        } catch (e) {
          s.audit(req, 'patient.erase', 'patient', id, 'error');
          throw isVitalsError(e) ? e : new VitalsError('VTL_ERR_INTERNAL', 'erasure failed', { cause: e });
        }
        // The record of the erasure keeps who, when and which id, and nothing that was erased.
        s.audit(req, 'patient.erase', 'patient', id);
        return { patientId: id, erased: ['samples', 'rollups', 'news2_scores', 'alert_events'], kept: ['audit'] };
      },
    );
  };
}
