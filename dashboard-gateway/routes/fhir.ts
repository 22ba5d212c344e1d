/**
 * FHIR R4, read-only: `GET /fhir/Observation?patient=&code=&date=&_count=` (a searchset
 * Bundle of vital-signs Observations and the latest NEWS2) and `GET /fhir/metadata`.
 * Access control and audit as the REST API: the caller's policy must cover the patient.
 * Errors are OperationOutcomes with the VTL_ERR code in `details.text`.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { VitalsError, isVitalsError } from '../../core/errors.js';
import type { RawPoint } from '../../core/ports.js';
import type { MetricName } from '../../core/vitals.js';
import type { AppServices } from '../app.js';
import {
  bpObservation,
  capabilityStatement,
  kindsForToken,
  news2Observation,
  observationId,
  operationOutcome,
  searchBundle,
  vitalObservation,
  type ScoreLike,
  type SearchKind,
} from '../fhir/resources.js';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_SPAN_MS = 24 * 3600_000;
const ALL_KINDS: SearchKind[] = ['rr', 'hr', 'spo2', 'temp', 'bp', 'news2'];

interface SearchQs {
  patient: string;
  code?: string;
  date?: string | string[];
  _count?: number;
}

/**
 * The FHIR base in links (fullUrl, self, the CapabilityStatement): the configured public URL, else
 * the address and port the request actually reached. Never the Host header: a client could make
 * the server hand out links to a host of its choosing.
 */
function baseUrl(req: FastifyRequest, publicUrl: string | null): string {
  if (publicUrl) return `${publicUrl.replace(/\/+$/, '')}/fhir`;
  const addr = req.socket.localAddress ?? '127.0.0.1';
  const host = addr.includes(':') ? `[${addr}]` : addr;
  return `${req.protocol}://${host}:${req.socket.localPort ?? 80}/fhir`;
}

/** A FHIR date search value with its prefix, as the [from, to] range it allows. */
export function dateRange(values: string[], now: number): { from: number; to: number } | { error: string } {
  let from = Number.NEGATIVE_INFINITY;
  let to = Number.POSITIVE_INFINITY;
  for (const raw of values) {
    const m = /^(eq|ge|gt|le|lt)?(\d{4}(-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?)$/.exec(raw);
    if (!m) return { error: `date "${raw.slice(0, 40)}" is not a FHIR date search value` };
    const prefix = m[1] ?? 'eq';
    const v = m[2] as string;
    const start = Date.parse(v.length === 4 ? `${v}-01-01T00:00:00Z` : v.length === 7 ? `${v}-01T00:00:00Z` : v.length === 10 ? `${v}T00:00:00Z` : v);
    if (!Number.isFinite(start)) return { error: `date "${raw.slice(0, 40)}" is not a valid date` };
    // The end of the value's precision: a day, a month, a year, or the instant itself.
    const d = new Date(start);
    const end =
      v.length === 4 ? Date.UTC(d.getUTCFullYear() + 1, 0, 1) - 1 : v.length === 7 ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - 1 : v.length === 10 ? start + 86_400_000 - 1 : start;
    if (prefix === 'ge') from = Math.max(from, start);
    else if (prefix === 'gt') from = Math.max(from, end + 1);
    else if (prefix === 'le') to = Math.min(to, end);
    else if (prefix === 'lt') to = Math.min(to, start - 1);
    else {
      from = Math.max(from, start);
      to = Math.min(to, end);
    }
  }
  if (to === Number.POSITIVE_INFINITY) to = now;
  if (from === Number.NEGATIVE_INFINITY) from = to - MAX_SPAN_MS;
  if (from > to) return { error: 'the date range is empty' };
  if (to - from > MAX_SPAN_MS) return { error: 'a search covers at most 24 h of vitals; narrow it with date=ge...&date=le...' };
  return { from, to };
}

/** Public: no patient data; FHIR clients read it before they authenticate. */
export function fhirMetadataRoute(s: Pick<AppServices, 'clock' | 'config'>): FastifyPluginAsync {
  return async (app) => {
    app.get('/fhir/metadata', { schema: { tags: ['fhir'], summary: 'CapabilityStatement', security: [] } }, async (req, reply) =>
      reply.type(FHIR_JSON).send(capabilityStatement(baseUrl(req, s.config.publicUrl), s.clock.now())),
    );
  };
}

export function fhirRoutes(s: AppServices): FastifyPluginAsync {
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

    app.get<{ Querystring: SearchQs }>(
      '/Observation',
      {
        schema: {
          tags: ['fhir'],
          summary: 'Search vital-signs and NEWS2 Observations of one patient (searchset Bundle)',
          querystring: {
            type: 'object',
            additionalProperties: false,
            required: ['patient'],
            properties: {
              patient: { type: 'string', minLength: 1, maxLength: 136 },
              code: { type: 'string', maxLength: 512 },
              date: { anyOf: [{ type: 'string', maxLength: 64 }, { type: 'array', maxItems: 4, items: { type: 'string', maxLength: 64 } }] },
              _count: { type: 'integer', minimum: 1, maximum: 1000 },
            },
          },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const patientId = q.patient.startsWith('Patient/') ? q.patient.slice(8) : q.patient;
        s.authorisePatient(req, patientId, 'fhir.observation.search', 'read');
        let kinds = ALL_KINDS;
        if (q.code !== undefined) {
          const set = new Set<SearchKind>();
          for (const token of q.code.split(',')) {
            const bar = token.indexOf('|');
            const system = bar > 0 ? token.slice(0, bar) : null;
            for (const k of kindsForToken(system, bar >= 0 ? token.slice(bar + 1) : token)) set.add(k);
          }
          kinds = [...set];
        }
        const now = s.clock.now();
        const dates = q.date === undefined ? [] : Array.isArray(q.date) ? q.date : [q.date];
        const range = dateRange(dates, now);
        if ('error' in range) throw new VitalsError('VTL_ERR_BAD_REQUEST', range.error);
        const count = q._count ?? 100;

        const history = async (metric: MetricName): Promise<RawPoint[]> =>
          (await s.store.history({ patientKey: patientId, metric, from: range.from, to: range.to, step: 'raw', limit: 10_000 })) as RawPoint[];
        const found: Array<{ ts: number; resource: Record<string, unknown> }> = [];
        for (const k of kinds) {
          if (k === 'news2') continue;
          if (k === 'bp') {
            const [sbp, dbp] = await Promise.all([history('sbp'), history('dbp')]);
            const byTs = new Map<number, { sbp: number | null; dbp: number | null }>();
            for (const p of sbp) byTs.set(p.ts, { sbp: p.value, dbp: null });
            for (const p of dbp) byTs.set(p.ts, { sbp: byTs.get(p.ts)?.sbp ?? null, dbp: p.value });
            for (const [ts, v] of byTs) found.push({ ts, resource: bpObservation(patientId, ts, v.sbp, v.dbp) });
          } else {
            for (const p of await history(k)) found.push({ ts: p.ts, resource: vitalObservation(k, patientId, p.ts, p.value) });
          }
        }
        if (kinds.includes('news2')) {
          // NEWS2 is not stored: the latest score of the live view, when it falls in the range.
          const live = s.hub.state.patients.get(patientId);
          const sc = live?.score as ScoreLike | null | undefined;
          if (sc && typeof sc.score === 'number' && typeof sc.ts === 'number' && sc.ts >= range.from && sc.ts <= range.to) {
            const derived: string[] = [];
            for (const m of ['rr', 'spo2', 'hr', 'temp'] as const) {
              const l = live?.latest[m];
              if (l && l.ts <= sc.ts) derived.push(observationId(m, patientId, l.ts));
            }
            const bp = live?.latest.sbp;
            if (bp && bp.ts <= sc.ts) derived.push(observationId('bp', patientId, bp.ts));
            found.push({ ts: sc.ts, resource: news2Observation(patientId, sc, derived) });
          }
        }
        found.sort((a, b) => b.ts - a.ts);
        s.audit(req, 'fhir.observation.search', 'Observation', patientId);
        const base = baseUrl(req, s.config.publicUrl);
        const self = `${base}/Observation?${req.url.split('?')[1] ?? ''}`;
        return reply.type(FHIR_JSON).send(searchBundle(self, base, found.slice(0, count).map((f) => f.resource), found.length));
      },
    );
  };
}

