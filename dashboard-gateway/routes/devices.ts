/** Device provisioning (admin only): the registry travels on the compacted `registry` topic. */
import type { FastifyPluginAsync } from 'fastify';
import { VitalsError } from '../../core/errors.js';
import { TOPICS } from '../../core/ports.js';
import type { DeviceRecord } from '../../core/registry.js';
import { hashDeviceToken, newDeviceToken } from '../../platform/device-tokens.js';
import type { AppServices } from '../app.js';

const idPattern = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const label = { type: 'string', minLength: 1, maxLength: 64 } as const;

const assignmentSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['patientId', 'ward'],
  properties: { patientId: label, ward: label, bed: { ...label, nullable: true } },
} as const;

interface CreateBody {
  deviceId: string;
  patientId?: string | null;
  ward?: string | null;
  bed?: string | null;
}

/** What the API shows of a device: never the token hash. */
function publicView(d: DeviceRecord): Record<string, unknown> {
  return { deviceId: d.deviceId, patientId: d.patientId, ward: d.ward, bed: d.bed, createdAt: d.createdAt, updatedAt: d.updatedAt };
}

export function deviceRoutes(s: AppServices): FastifyPluginAsync {
  const requireAdmin = (req: Parameters<AppServices['requirePolicy']>[0]): void => {
    const p = s.requirePolicy(req);
    if (!p.isAdmin) {
      s.audit(req, 'device.admin', 'devices', null, 'denied');
      throw new VitalsError('VTL_ERR_FORBIDDEN', 'admin only');
    }
  };
  /** A ward-scoped admin places devices on its own wards only: a device feeds that ward's scoring. */
  const requireWardInScope = (req: Parameters<AppServices['requirePolicy']>[0], ward: string | null | undefined): void => {
    if (ward == null || s.requirePolicy(req).canActOnWard(ward)) return;
    s.audit(req, 'device.admin', 'devices', null, 'denied');
    throw new VitalsError('VTL_ERR_FORBIDDEN', 'that ward is not in your scope');
  };
  const put = async (rec: DeviceRecord | null, deviceId: string): Promise<void> => {
    await s.bus.publish(TOPICS.registry, [{ key: deviceId, value: rec ? JSON.stringify(rec) : null }]);
  };

  return async (app) => {
    app.post<{ Body: CreateBody }>(
      '/devices',
      {
        schema: {
          tags: ['devices'],
          summary: 'Register a device (admin); the token is returned once',
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['deviceId'],
            properties: { deviceId: { type: 'string', pattern: idPattern }, patientId: { ...label, nullable: true }, ward: { ...label, nullable: true }, bed: { ...label, nullable: true } },
          },
        },
      },
      async (req, reply) => {
        requireAdmin(req);
        const b = req.body;
        requireWardInScope(req, b.ward);
        if (s.registry.get(b.deviceId)) throw new VitalsError('VTL_ERR_CONFLICT', `device ${b.deviceId} exists; revoke it first or reassign it`);
        const token = newDeviceToken();
        const now = s.clock.now();
        const rec: DeviceRecord = { v: 1, deviceId: b.deviceId, tokenHash: await hashDeviceToken(token), patientId: b.patientId ?? null, ward: b.ward ?? null, bed: b.bed ?? null, createdAt: now, updatedAt: now };
        await put(rec, b.deviceId);
        s.audit(req, 'device.create', `device:${b.deviceId}`, rec.patientId);
        // The token is shown once; only its hash is kept.
        return reply.code(201).send({ deviceId: b.deviceId, token });
      },
    );

    app.get('/devices', { schema: { tags: ['devices'], summary: 'Devices (admin); never the token hash' } }, async (req) => {
      requireAdmin(req);
      s.audit(req, 'device.list', 'devices', null);
      return { devices: s.registry.list().map(publicView) };
    });

    app.put<{ Params: { id: string }; Body: { patientId: string; ward: string; bed?: string | null } }>(
      '/devices/:id/assignment',
      { schema: { tags: ['devices'], summary: 'Assign a device to a patient, ward and bed (admin)', body: assignmentSchema } },
      async (req) => {
        requireAdmin(req);
        requireWardInScope(req, req.body.ward);
        const cur = s.registry.get(req.params.id);
        if (!cur) throw new VitalsError('VTL_ERR_NOT_FOUND', 'no such device');
        requireWardInScope(req, cur.ward);
        const rec: DeviceRecord = { ...cur, patientId: req.body.patientId, ward: req.body.ward, bed: req.body.bed ?? null, updatedAt: s.clock.now() };
        await put(rec, cur.deviceId);
        s.audit(req, 'device.assign', `device:${cur.deviceId}`, rec.patientId);
        return publicView(rec);
      },
    );

    app.delete<{ Params: { id: string } }>('/devices/:id', { schema: { tags: ['devices'], summary: 'Revoke a device (admin): its MQTT sessions are closed' } }, async (req, reply) => {
      requireAdmin(req);
      const cur = s.registry.get(req.params.id);
      if (!cur) throw new VitalsError('VTL_ERR_NOT_FOUND', 'no such device');
      requireWardInScope(req, cur.ward);
      await put(null, cur.deviceId);
      s.audit(req, 'device.revoke', `device:${cur.deviceId}`, cur.patientId);
      return reply.code(204).send();
    });
  };
}
