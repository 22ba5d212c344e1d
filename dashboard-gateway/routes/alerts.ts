/** Alerts in scope, and acknowledgement through `alert.actions`. */
import type { FastifyPluginAsync } from 'fastify';
import type { AccessPolicy } from '../../core/access.js';
import type { AlertAction } from '../../core/alerts-model.js';
import { VitalsError } from '../../core/errors.js';
import { TOPICS } from '../../core/ports.js';
import type { AppServices } from '../app.js';

export type AckResult = { ok: true } | { ok: false; code: 'FORBIDDEN' | 'NOT_FOUND'; message: string };

/**
 * The one acknowledge path, for REST and the WebSocket `ack` op: checked, published on
 * alert.actions, and audited with the caller's address either way. An alert out of the
 * caller's scope gets the same answer as one that does not exist.
 */
export async function acknowledge(s: Pick<AppServices, 'hub' | 'bus' | 'clock' | 'auditAs'>, policy: AccessPolicy, alertId: string, address: string): Promise<AckResult> {
  const alert = s.hub.state.openAlerts.get(alertId);
  const resource = `alert:${alertId}`;
  let result: AckResult = { ok: true };
  if (!alert || !policy.canReadAlerts(alert.ward)) result = { ok: false, code: 'NOT_FOUND', message: 'no open alert with that id in scope' };
  else if (!policy.canActOnWard(alert.ward)) result = { ok: false, code: 'FORBIDDEN', message: 'not allowed to acknowledge alerts of that ward' };
  if (!alert || !result.ok) {
    s.auditAs(policy, 'alert.ack', resource, null, address, 'denied');
    return result;
  }
  const now = s.clock.now();
  const action: AlertAction = { v: 1, action: 'ack', alertId, patientId: alert.patientId, userId: policy.principal.sub, role: policy.principal.role, ts: now };
  await s.bus.publish(TOPICS.alertActions, [{ key: alert.patientId, value: JSON.stringify(action), timestamp: now }]);
  s.auditAs(policy, 'alert.ack', resource, alert.patientId, address, 'ok');
  return result;
}

export function alertRoutes(s: AppServices): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { ward?: string; state?: string; from?: number; to?: number; limit?: number } }>(
      '/alerts',
      {
        schema: {
          tags: ['alerts'],
          summary: 'Alert events of the wards in scope (staff only)',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              ward: { type: 'string', maxLength: 64 },
              state: { type: 'string', enum: ['open', 'acknowledged', 'resolved'] },
              from: { type: 'integer', minimum: 0 },
              to: { type: 'integer', minimum: 0 },
              limit: { type: 'integer', minimum: 1, maximum: 1000 },
            },
          },
        },
      },
      async (req) => {
        const policy = s.requirePolicy(req);
        const q = req.query;
        if (!policy.canReadAlerts(q.ward ?? policy.principal.wards[0] ?? null)) {
          // Covers the patient role (no alerts at all) and a ward out of scope.
          s.audit(req, 'alert.list', `ward:${q.ward ?? '*'}`, null, 'denied');
          throw new VitalsError('VTL_ERR_FORBIDDEN', q.ward ? `ward ${q.ward} is not in scope` : 'no ward in scope');
        }
        if (q.ward && !policy.canReadWard(q.ward)) {
          s.audit(req, 'alert.list', `ward:${q.ward}`, null, 'denied');
          throw new VitalsError('VTL_ERR_FORBIDDEN', `ward ${q.ward} is not in scope`);
        }
        const wards = q.ward ? [q.ward] : policy.principal.wards.includes('*') ? undefined : policy.principal.wards;
        const events = await s.store.alerts({ ward: wards, state: q.state, from: q.from, to: q.to, limit: q.limit ?? 200 });
        s.audit(req, 'alert.list', `ward:${q.ward ?? '*'}`, null);
        // Enforced again at the boundary: only wards in scope leave.
        return { alerts: events.filter((e) => policy.canReadAlerts(e.alert.ward)) };
      },
    );

    app.post<{ Params: { id: string } }>('/alerts/:id/ack', { schema: { tags: ['alerts'], summary: 'Acknowledge an open alert (clinician, nurse, admin of the ward); flows via alert.actions to the rules engine' } }, async (req, reply) => {
      const r = await acknowledge(s, s.requirePolicy(req), req.params.id, req.ip);
      if (!r.ok) throw new VitalsError(r.code === 'FORBIDDEN' ? 'VTL_ERR_FORBIDDEN' : 'VTL_ERR_NOT_FOUND', r.message);
      return reply.code(202).send({ accepted: true });
    });
  };
}
