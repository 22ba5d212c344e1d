/**
 * FHIR R4 Observations: `GET /fhir/Observation?patient=&code=&date=&_count=&_offset=` (a
 * paged searchset of vital signs and NEWS2 scores, most recent first) and
 * `GET /fhir/Observation/{id}`. NEWS2 scores come from the store (the sink writes each
 * published score) and the live view; their derivedFrom is what the score recorded.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { VitalsError } from '../../core/errors.js';
import type { RawPoint } from '../../core/ports.js';
import type { MetricName } from '../../core/vitals.js';
import type { AppServices } from '../app.js';
import { searchBundle } from '../fhir/bundle.js';
import {
  bpObservation,
  kindsForToken,
  news2Observation,
  parseObservationId,
  patientHash,
  vitalObservation,
  type ScoreLike,
  type SearchKind,
} from '../fhir/resources.js';
import { FHIR_JSON, authorizePatient, baseUrl, pagingSchema, type PagingQs } from './fhir-common.js';

const MAX_SPAN_MS = 24 * 3600_000;
const ALL_KINDS: SearchKind[] = ['rr', 'hr', 'spo2', 'temp', 'bp', 'news2'];
/** Readings of one kind per search at most: 24 h at 1 Hz fits; more is refused, never cut silently. */
export const MAX_PER_KIND = 100_000;

interface SearchQs extends PagingQs {
  patient: string;
  code?: string;
  date?: string | string[];
}

/** A FHIR date search value with its prefix, as the [from, to] range it allows (both inclusive). */
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

/**
 * A match, built into a resource only when it is on the page: a day of 1 Hz vitals is
 * ~200,000 matches (profiled: per-match closures and id strings made GC 43% of a search).
 */
interface Found {
  ts: number;
  kind: SearchKind;
  /** The value; SBP for bp. */
  a: number | null;
  /** DBP for bp. */
  b: number | null;
  score?: ScoreLike;
}

function buildFound(patientId: string, f: Found): Record<string, unknown> {
  if (f.kind === 'news2') return news2Observation(patientId, f.score as ScoreLike);
  if (f.kind === 'bp') return bpObservation(patientId, f.ts, f.a, f.b);
  return vitalObservation(f.kind, patientId, f.ts, f.a as number);
}

/** Every Observation of one patient of these kinds with event time in [from, to]. */
async function observationsOf(s: AppServices, patientId: string, kinds: readonly SearchKind[], from: number, to: number): Promise<Found[]> {
  const history = async (metric: MetricName): Promise<RawPoint[]> => {
    const pts = (await s.store.history({ patientKey: patientId, metric, from, to: to + 1, step: 'raw', limit: MAX_PER_KIND + 1 })) as RawPoint[];
    if (pts.length > MAX_PER_KIND) throw new VitalsError('VTL_ERR_BAD_REQUEST', `more than ${MAX_PER_KIND} readings of one kind in the range; narrow it with date=ge...&date=le...`);
    return pts;
  };
  const found: Found[] = [];
  for (const k of kinds) {
    if (k === 'news2') {
      for (const sc of await scoresOf(s, patientId, from, to)) found.push({ ts: sc.ts, kind: k, a: null, b: null, score: sc });
    } else if (k === 'bp') {
      const [sbp, dbp] = await Promise.all([history('sbp'), history('dbp')]);
      const byTs = new Map<number, Found>();
      for (const p of sbp) byTs.set(p.ts, { ts: p.ts, kind: k, a: p.value, b: null });
      for (const p of dbp) {
        const cur = byTs.get(p.ts);
        if (cur) cur.b = p.value;
        else byTs.set(p.ts, { ts: p.ts, kind: k, a: null, b: p.value });
      }
      found.push(...byTs.values());
    } else {
      for (const p of await history(k)) found.push({ ts: p.ts, kind: k, a: p.value, b: null });
    }
  }
  return found;
}

/** Stored scores in [from, to], plus the live view's latest when the sink has not written it yet. */
async function scoresOf(s: AppServices, patientId: string, from: number, to: number): Promise<ScoreLike[]> {
  const stored = (await s.store.scores({ patientId, from, to: to + 1, limit: 10_000 })) as ScoreLike[];
  const live = s.hub.state.patients.get(patientId)?.score as ScoreLike | null | undefined;
  const isScore = (x: ScoreLike | null | undefined): x is ScoreLike => !!x && typeof x.score === 'number' && typeof x.ts === 'number';
  if (isScore(live) && live.ts >= from && live.ts <= to && !stored.some((x) => x.ts === live.ts)) stored.push(live);
  return stored.filter(isScore);
}

export function fhirObservationRoutes(s: AppServices): FastifyPluginAsync {
  /** Patient hash (as in Observation ids) -> patient id, for the patients this gateway knows. */
  const byHash = new Map<string, string>();
  const indexed = new Set<string>();
  const index = (id: string): void => {
    if (indexed.has(id)) return;
    indexed.add(id);
    byHash.set(patientHash(id), id);
  };
  // A miss hashes only patients not seen before: unknown ids cost a scan, not a hash per patient.
  const patientOfHash = (hash: string): string | null => {
    const hit = byHash.get(hash);
    if (hit !== undefined) return hit;
    for (const id of s.hub.state.patients.keys()) index(id);
    for (const d of s.registry.list()) if (d.patientId) index(d.patientId);
    return byHash.get(hash) ?? null;
  };
  const notFound = (): VitalsError => new VitalsError('VTL_ERR_NOT_FOUND', 'no such Observation');

  return async (app) => {
    app.get<{ Querystring: SearchQs }>(
      '/Observation',
      {
        schema: {
          tags: ['fhir'],
          summary: 'Search vital-signs and NEWS2 Observations of one patient (paged searchset Bundle, most recent first)',
          querystring: {
            type: 'object',
            additionalProperties: false,
            required: ['patient'],
            properties: {
              patient: { type: 'string', minLength: 1, maxLength: 136 },
              code: { type: 'string', maxLength: 512 },
              date: { anyOf: [{ type: 'string', maxLength: 64 }, { type: 'array', maxItems: 4, items: { type: 'string', maxLength: 64 } }] },
              ...pagingSchema,
            },
          },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const patientId = q.patient.startsWith('Patient/') ? q.patient.slice(8) : q.patient;
        authorizePatient(s, req, 'fhir.observation.search', patientId);
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
        const dates = q.date === undefined ? [] : Array.isArray(q.date) ? q.date : [q.date];
        const range = dateRange(dates, s.clock.now());
        if ('error' in range) throw new VitalsError('VTL_ERR_BAD_REQUEST', range.error);
        const found = await observationsOf(s, patientId, kinds, range.from, range.to);
        // Most recent first; ties (one instant, several kinds) by kind, so pages never overlap.
        found.sort((a, b) => b.ts - a.ts || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
        s.audit(req, 'fhir.observation.search', 'Observation', patientId);
        const params: Array<[string, string]> = [['patient', q.patient]];
        if (q.code !== undefined) params.push(['code', q.code]);
        for (const d of dates) params.push(['date', d]);
        const page = { params, count: q._count ?? 100, offset: q._offset ?? 0 };
        return reply.type(FHIR_JSON).send(searchBundle(`${baseUrl(req, s.config.publicUrl)}/Observation`, baseUrl(req, s.config.publicUrl), found, page, (f) => buildFound(patientId, f)));
      },
    );

    app.get<{ Params: { id: string } }>(
      '/Observation/:id',
      { schema: { tags: ['fhir'], summary: 'Read one Observation by id', params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } } } },
      async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
        s.requirePolicy(req);
        const parsed = parseObservationId(req.params.id);
        const patientId = parsed ? patientOfHash(parsed.hash) : null;
        if (!parsed || patientId === null) throw notFound();
        authorizePatient(s, req, 'fhir.observation.read', patientId);
        const found = await observationsOf(s, patientId, [parsed.kind], parsed.ts, parsed.ts);
        const hit = found.find((f) => f.ts === parsed.ts);
        s.audit(req, 'fhir.observation.read', 'Observation', patientId);
        if (!hit) throw notFound();
        return reply.type(FHIR_JSON).send(buildFound(patientId, hit));
      },
    );
  };
}
