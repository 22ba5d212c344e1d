/**
 * FHIR R4, read-only: Observations (routes/fhir-observations.ts), `Patient/{id}`,
 * `Device/{id}` and `Device?patient=`, and the public `GET /fhir/metadata`. Access control
 * and audit as the REST API. Every error, an unknown route included, is an
 * OperationOutcome with the VTL_ERR code in `details.text`.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { VitalsError, isVitalsError } from '../../core/errors.js';
import type { DeviceRecord } from '../../core/registry.js';
import type { AppServices } from '../app.js';
import { operationOutcome, searchBundle } from '../fhir/bundle.js';
import { capabilityStatement } from '../fhir/capability.js';
import { deviceResource, deviceResourceId, isFhirId, patientResource } from '../fhir/entities.js';
import { FHIR_JSON, authorizePatient, baseUrl, pagingSchema, type PagingQs } from './fhir-common.js';
import { fhirObservationRoutes } from './fhir-observations.js';

export { dateRange } from './fhir-observations.js';

/** Public: no patient data; FHIR clients read it before they authenticate. */
export function fhirMetadataRoute(s: Pick<AppServices, 'clock' | 'config'>): FastifyPluginAsync {
  return async (app) => {
    app.get('/fhir/metadata', { schema: { tags: ['fhir'], summary: 'CapabilityStatement', security: [] } }, async (req, reply) =>
      reply.type(FHIR_JSON).send(capabilityStatement(baseUrl(req, s.config.publicUrl), s.clock.now())),
    );
  };
}

const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } } as const;

export function fhirRoutes(s: AppServices): FastifyPluginAsync {
  const deviceFacts = (d: DeviceRecord) => {
    const live = d.patientId ? s.hub.state.patients.get(d.patientId) : undefined;
    // The live device state is per patient; it speaks for this device only when the samples came from it.
    const dev = live && live.deviceId === d.deviceId ? live.device : null;
    return { deviceId: d.deviceId, patientId: d.patientId, online: dev ? dev.online : null, battery: dev ? dev.battery : null };
  };
  const notFound = (what: string): VitalsError => new VitalsError('VTL_ERR_NOT_FOUND', `no such ${what}`);

  return async (app) => {
    app.setErrorHandler((err: unknown, req, reply: FastifyReply) => {
      const e = err as { validation?: unknown; statusCode?: number; message?: string };
      let v: VitalsError;
      if (isVitalsError(err)) v = err;
      else if (e.validation) v = new VitalsError('VTL_ERR_BAD_REQUEST', e.message);
      else if (e.statusCode === 413) v = new VitalsError('VTL_ERR_PAYLOAD_TOO_LARGE');
      else if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) v = new VitalsError('VTL_ERR_BAD_REQUEST', e.message);
      else {
        req.log.error({ err: e.message, reqId: req.id }, 'fhir request failed');
        v = new VitalsError('VTL_ERR_INTERNAL');
      }
      return reply.code(v.statusCode).type(FHIR_JSON).send(operationOutcome(v.statusCode, v.code, v.message));
    });
    app.setNotFoundHandler((_req, reply) =>
      reply.code(404).type(FHIR_JSON).send(operationOutcome(404, 'VTL_ERR_NOT_FOUND', 'no such resource type or interaction on this server; see /fhir/metadata')),
    );

    await app.register(fhirObservationRoutes(s));

    app.get<{ Params: { id: string } }>('/Patient/:id', { schema: { tags: ['fhir'], summary: 'Read a Patient', params: idParams } }, async (req, reply) => {
      const id = req.params.id;
      authorizePatient(s, req, 'fhir.patient.read', id);
      // Known: in the live view or assigned a device. Ids that are not FHIR ids are referenced by identifier only.
      if (!isFhirId(id) || (s.wardOf(id) === null && !s.hub.state.patients.has(id))) throw notFound('Patient');
      s.audit(req, 'fhir.patient.read', 'Patient', id);
      return reply.type(FHIR_JSON).send(patientResource(id));
    });

    app.get<{ Params: { id: string } }>('/Device/:id', { schema: { tags: ['fhir'], summary: 'Read a Device', params: idParams } }, async (req, reply) => {
      const policy = s.requirePolicy(req);
      const d = s.registry.list().find((x) => deviceResourceId(x.deviceId) === req.params.id);
      if (!d) throw notFound('Device');
      if (d.patientId) authorizePatient(s, req, 'fhir.device.read', d.patientId);
      else if (!policy.canReadWard(d.ward)) {
        s.audit(req, 'fhir.device.read', 'Device', null, 'denied');
        throw notFound('Device');
      }
      s.audit(req, 'fhir.device.read', 'Device', d.patientId);
      return reply.type(FHIR_JSON).send(deviceResource(deviceFacts(d)));
    });

    app.get<{ Querystring: { patient: string } & PagingQs }>(
      '/Device',
      {
        schema: {
          tags: ['fhir'],
          summary: 'Devices assigned to one patient (paged searchset Bundle)',
          querystring: { type: 'object', additionalProperties: false, required: ['patient'], properties: { patient: { type: 'string', minLength: 1, maxLength: 136 }, ...pagingSchema } },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const patientId = q.patient.startsWith('Patient/') ? q.patient.slice(8) : q.patient;
        authorizePatient(s, req, 'fhir.device.search', patientId);
        const devices = s.registry
          .list()
          .filter((d) => d.patientId === patientId)
          .sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1))
          .map((d) => deviceResource(deviceFacts(d)));
        s.audit(req, 'fhir.device.search', 'Device', patientId);
        const page = { params: [['patient', q.patient]] as Array<[string, string]>, count: q._count ?? 100, offset: q._offset ?? 0 };
        return reply.type(FHIR_JSON).send(searchBundle(`${baseUrl(req, s.config.publicUrl)}/Device`, baseUrl(req, s.config.publicUrl), devices, page, (d) => d));
      },
    );
  };
}
