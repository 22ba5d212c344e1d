/** Device provisioning (admin only): the registry travels on the compacted `registry` topic. */
import type { FastifyPluginAsync } from 'fastify';
import { VitalsError } from '../../core/errors.js';
import { TOPICS } from '../../core/ports.js';
import { DEVICE_KINDS, kindOf, type DeviceKind, type DeviceRecord } from '../../core/registry.js';
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
  kind?: DeviceKind;
  gatewayId?: string | null;
  allowFrom?: string[];
}

/** The HL7 fields only make sense on their kind: refused elsewhere so a typo is not silently ignored. */
function checkKindFields(b: CreateBody, gateway: DeviceRecord | undefined): void {
  const kind = b.kind ?? 'device';
  if (kind === 'hl7-monitor') {
    if (!b.gatewayId) throw new VitalsError('VTL_ERR_BAD_REQUEST', 'an hl7-monitor needs the gatewayId of its hl7-gateway');
    if (!gateway || kindOf(gateway) !== 'hl7-gateway') throw new VitalsError('VTL_ERR_BAD_REQUEST', `gatewayId ${b.gatewayId} is not a registered hl7-gateway`);
  } else if (b.gatewayId) throw new VitalsError('VTL_ERR_BAD_REQUEST', 'gatewayId is only for kind hl7-monitor');
  if (b.allowFrom && kind !== 'hl7-gateway') throw new VitalsError('VTL_ERR_BAD_REQUEST', 'allowFrom is only for kind hl7-gateway');
  if (kind === 'hl7-gateway' && b.patientId) throw new VitalsError('VTL_ERR_BAD_REQUEST', 'a gateway carries many monitors: assign patients to its monitors, not to it');
}

/** What the API shows of a device: never the token hash. */
function publicView(d: DeviceRecord): Record<string, unknown> {
  const hl7 = { ...(d.gatewayId ? { gatewayId: d.gatewayId } : {}), ...(d.allowFrom ? { allowFrom: d.allowFrom } : {}) };
  return { deviceId: d.deviceId, kind: kindOf(d), patientId: d.patientId, ward: d.ward, bed: d.bed, ...hl7, createdAt: d.createdAt, updatedAt: d.updatedAt };
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
            properties: {
              deviceId: { type: 'string', pattern: idPattern },
              patientId: { ...label, nullable: true },
              ward: { ...label, nullable: true },
              bed: { ...label, nullable: true },
              kind: { type: 'string', enum: [...DEVICE_KINDS] },
              gatewayId: { type: 'string', pattern: idPattern, nullable: true },
              allowFrom: { type: 'array', maxItems: 16, items: { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] } },
            },
          },
        },
      },
      async (req, reply) => {
        requireAdmin(req);
        const b = req.body;
        requireWardInScope(req, b.ward);
        if (s.registry.get(b.deviceId)) throw new VitalsError('VTL_ERR_CONFLICT', `device ${b.deviceId} exists; revoke it first or reassign it`);
        checkKindFields(b, b.gatewayId ? s.registry.get(b.gatewayId) : undefined);
        const token = newDeviceToken();
        const now = s.clock.now();
        const rec: DeviceRecord = { v: 1, deviceId: b.deviceId, tokenHash: await hashDeviceToken(token), patientId: b.patientId ?? null, ward: b.ward ?? null, bed: b.bed ?? null, createdAt: now, updatedAt: now };
        if (b.kind && b.kind !== 'device') rec.kind = b.kind;
        if (b.gatewayId) rec.gatewayId = b.gatewayId;
        if (b.allowFrom) rec.allowFrom = b.allowFrom;
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
        if (kindOf(cur) === 'hl7-gateway') throw new VitalsError('VTL_ERR_BAD_REQUEST', 'a gateway carries many monitors: assign patients to its monitors, not to it');
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
