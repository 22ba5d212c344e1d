/** What the FHIR routes share: the media type, the base URL, paging parameters and the patient access check. */
import type { FastifyRequest } from 'fastify';
import type { AppServices } from '../app.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * The FHIR base in links (fullUrl, self, paging, the CapabilityStatement): the configured public URL,
 * else the address and port the request actually reached. Never the Host header: a client could make
 * the server hand out links to a host of its choosing.
 */
export function baseUrl(req: FastifyRequest, publicUrl: string | null): string {
  if (publicUrl) return `${publicUrl.replace(/\/+$/, '')}/fhir`;
  const addr = req.socket.localAddress ?? '127.0.0.1';
  const host = addr.includes(':') ? `[${addr}]` : addr;
  return `${req.protocol}://${host}:${req.socket.localPort ?? 80}/fhir`;
}

export interface PagingQs {
  _count?: number;
  _offset?: number;
}

export const pagingSchema = {
  _count: { type: 'integer', minimum: 1, maximum: 1000 },
  _offset: { type: 'integer', minimum: 0, maximum: 1_000_000 },
} as const;

/** The caller's policy must cover the patient: the gateway's one patient check (unknown and out of scope answer alike, audited). */
export function authorizePatient(s: AppServices, req: FastifyRequest, action: string, patientId: string): void {
  s.authorisePatient(req, patientId, action, 'read');
}
