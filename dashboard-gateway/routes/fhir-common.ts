/** What the FHIR routes share: the media type, the base URL, paging parameters and the patient access check. */
import type { FastifyRequest } from 'fastify';
import { VitalsError } from '../../core/errors.js';
import type { AppServices } from '../app.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}/fhir`;
}

export interface PagingQs {
  _count?: number;
  _offset?: number;
}

export const pagingSchema = {
  _count: { type: 'integer', minimum: 1, maximum: 1000 },
  _offset: { type: 'integer', minimum: 0, maximum: 1_000_000 },
} as const;

/**
 * The caller's policy must cover the patient; denials are audited. Unknown to this
 * server and not the caller's: 404; known but out of scope: 403 (as the REST API).
 */
export function authorizePatient(s: AppServices, req: FastifyRequest, action: string, resource: string, patientId: string): void {
  const policy = s.requirePolicy(req);
  const ward = s.wardOf(patientId);
  if (policy.canReadPatient(patientId, ward)) return;
  s.audit(req, action, resource, patientId, 'denied');
  if (ward === null) throw new VitalsError('VTL_ERR_NOT_FOUND', 'no such patient in scope');
  throw new VitalsError('VTL_ERR_FORBIDDEN', 'patient not in scope');
}
