/**
 * NEWS2 history, audit queries and erasure through the HTTP app, end to end in one process:
 * records go bus -> sink -> store (memory bus, DuckDB), requests go through app.inject().
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBus, type MemoryBus } from '../../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../../adapters/bus/topics.js';
import { createDuckDbStore } from '../../adapters/store/duckdb.js';
import type { Principal } from '../../core/access.js';
import type { AlertEvent } from '../../core/alerts-model.js';
import type { AuditEvent } from '../../core/audit.js';
import { TOPICS, type Store } from '../../core/ports.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { loadConfig } from '../../platform/config.js';
import type { Service } from '../../platform/context.js';
import { createLogger } from '../../platform/log.js';
import { createMetricsRegistry } from '../../platform/metrics.js';
import type { RegistryView } from '../../platform/registry-view.js';
import { startSink } from '../../sink/sink.js';
import { buildApp, type GatewayDeps } from '../app.js';
import type { Hub } from '../hub.js';

const NOW = Date.UTC(2024, 5, 1, 12);
const H = 3600_000;
const PRINCIPALS: Record<string, Principal> = {
  admin: { sub: 'admin-1', role: 'admin', wards: ['*'] },
  nurse4b: { sub: 'nurse-1', role: 'nurse', wards: ['4B'] },
  nurse5a: { sub: 'nurse-2', role: 'nurse', wards: ['5A'] },
};

let bus: MemoryBus;
let store: Store;
let sink: Service;
let app: FastifyInstance;

function sample(patientId: string, ts: number, hr: number): CanonicalSample {
  return { v: 1, deviceId: `dev-${patientId}`, patientId, ward: '4B', ts, recvTs: ts, source: 'device', metrics: { hr, spo2: 95 }, traceId: 't' };
}
function score(patientId: string, ts: number, value: number): ScoreOutput {
  return {
    patientId, ward: '4B', ts, score: value, maxScore: value, risk: value >= 7 ? 'high' : 'low', complete: true, missing: [], scale: 1, raw: { hr: 130 }, rounded: { hr: 130 }, stale: [],
    components: { rr: 0, spo2: 0, o2: 0, sbp: 0, hr: value, acvpu: 0, temp: 0 },
  };
}
function alert(patientId: string, ts: number): AlertEvent {
  return {
    v: 1, eventId: `a-${patientId}:raised:0`, event: 'raised', ts, traceId: 't',
    alert: { id: `a-${patientId}`, patientId, ward: '4B', ruleId: 'news2.high', kind: 'clinical', priority: 'high', state: 'open', openedAt: ts, message: 'NEWS2 7', value: 7, ackBy: null, ackAt: null, resolvedAt: null },
  };
}

const call = async (who: keyof typeof PRINCIPALS | null, method: 'GET' | 'DELETE', url: string): Promise<{ status: number; body: any }> => {
  const res = await app.inject({ method, url, headers: who ? { authorization: `Bearer ${who}` } : {} });
  return { status: res.statusCode, body: res.json() };
};

async function until<T>(what: string, fn: () => Promise<T | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const auditOf = (action: string): Promise<AuditEvent[]> => store.audit({ action, limit: 100 });

beforeAll(async () => {
  const r = loadConfig({});
  if (!r.ok) throw new Error('config');
  const log = createLogger({ level: 'silent' });
  bus = await createMemoryBus();
  await bus.ensureTopics(DEFAULT_TOPIC_SPECS);
  store = await createDuckDbStore({ path: ':memory:' });
  await store.migrate();
  const clock = { now: () => NOW };
  const metrics = createMetricsRegistry();
  sink = await startSink({ config: r.config, log, clock, metrics, bus, store }, { retention: false });
  const patients = new Map([['p-keep', { patientId: 'p-keep', ward: '4B' }], ['p-gone', { patientId: 'p-gone', ward: '4B' }]]);
  const deps: GatewayDeps = {
    config: r.config,
    log,
    bus,
    store,
    clock,
    metrics,
    registry: { list: () => [] } as unknown as RegistryView,
    hub: { state: { patients, openAlerts: new Map() } } as unknown as Hub,
    verify: async (token) => (PRINCIPALS[token] ? { ok: true, principal: PRINCIPALS[token] } : { ok: false, reason: 'invalid' }),
    ready: async () => ({ ok: true, checks: {} }),
  };
  app = await buildApp(deps);
  for (const p of ['p-keep', 'p-gone']) {
    await bus.publish(TOPICS.samples, [0, 1, 2].map((i) => ({ key: p, value: JSON.stringify(sample(p, NOW - H + i * 1000, 80 + i)) })));
    await bus.publish(TOPICS.scores, [0, 1].map((i) => ({ key: p, value: JSON.stringify(score(p, NOW - H + i * 1000, 3 + i * 4)) })));
    await bus.publish(TOPICS.alerts, [{ key: p, value: JSON.stringify(alert(p, NOW - H)) }]);
  }
  await until('sunk', async () => (await store.scores({ patientId: 'p-gone', from: 0, to: NOW, limit: 10 })).length === 2 && (await store.alerts({ patientId: 'p-gone', limit: 5 })).length === 1);
});

afterAll(async () => {
  await app?.close();
  await sink?.stop();
  await bus?.close();
  await store?.close();
});

describe('GET /api/patients/:id/news2', () => {
  it('returns the patient’s NEWS2 results in the range, ascending, and audits the read', async () => {
    const r = await call('nurse4b', 'GET', `/api/patients/p-keep/news2?from=${NOW - 2 * H}&to=${NOW}`);
    expect(r.status).toBe(200);
    expect(r.body.scores.map((x: { ts: number; score: number; risk: string }) => [x.ts, x.score, x.risk])).toEqual([
      [NOW - H, 3, 'low'],
      [NOW - H + 1000, 7, 'high'],
    ]);
    expect(r.body.scores[1].components.hr).toBe(7);
    // Default range: the last 24 h.
    expect((await call('nurse4b', 'GET', '/api/patients/p-keep/news2')).body.scores).toHaveLength(2);
    expect((await call('nurse4b', 'GET', `/api/patients/p-keep/news2?from=${NOW - H + 1}&to=${NOW}&limit=5`)).body.scores).toHaveLength(1);
    await until('audited', async () => (await auditOf('patient.news2.read')).some((a) => a.patientId === 'p-keep' && a.outcome === 'ok'));
  });

  it('refuses a nurse of another ward, a reversed or too long range, and no token', async () => {
    expect((await call('nurse5a', 'GET', '/api/patients/p-keep/news2')).status).toBe(404);
    expect((await call('nurse4b', 'GET', `/api/patients/p-keep/news2?from=${NOW}&to=${NOW - 1}`)).status).toBe(400);
    expect((await call('nurse4b', 'GET', `/api/patients/p-keep/news2?from=0&to=${NOW}`)).status).toBe(400);
    expect((await call(null, 'GET', '/api/patients/p-keep/news2')).status).toBe(401);
    await until('denial audited', async () => (await auditOf('patient.news2.read')).some((a) => a.userId === 'nurse-2' && a.outcome === 'denied'));
  });
});

describe('GET /api/audit', () => {
  it('is for admins only, and filters by user, patient, action and time', async () => {
    await call('nurse4b', 'GET', '/api/patients/p-keep/news2');
    await until('reads sunk', async () => (await auditOf('patient.news2.read')).length >= 2);
    const denied = await call('nurse4b', 'GET', '/api/audit');
    expect(denied.status).toBe(403);
    const all = await call('admin', 'GET', '/api/audit?user=nurse-1&action=patient.news2.read');
    expect(all.status).toBe(200);
    expect(all.body.events.length).toBeGreaterThanOrEqual(2);
    expect(all.body.events.every((e: AuditEvent) => e.userId === 'nurse-1' && e.action === 'patient.news2.read')).toBe(true);
    expect((await call('admin', 'GET', '/api/audit?patient=p-keep&limit=1')).body).toMatchObject({ truncated: true, events: [{ patientId: 'p-keep' }] });
    expect((await call('admin', 'GET', `/api/audit?from=${NOW + 1}`)).body.events).toEqual([]);
    expect((await call('admin', 'GET', '/api/audit?limit=100000')).status).toBe(400);
    expect((await call('admin', 'GET', '/api/audit?action=DROP%20TABLE')).status).toBe(400);
    await until('audit read audited', async () => (await auditOf('audit.read')).some((a) => a.outcome === 'denied') && (await auditOf('audit.read')).some((a) => a.outcome === 'ok'));
  });
});

describe('DELETE /api/patients/:id (erasure)', () => {
  it('refuses non-admins and erases nothing', async () => {
    expect((await call('nurse4b', 'DELETE', '/api/patients/p-gone')).status).toBe(403);
    expect(await store.scores({ patientId: 'p-gone', from: 0, to: NOW, limit: 10 })).toHaveLength(2);
  });

  it('removes the patient’s telemetry, rollups, scores and alerts, keeps others’, and records the erasure without the erased data', async () => {
    const r = await call('admin', 'DELETE', '/api/patients/p-gone');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ patientId: 'p-gone', kept: ['audit'] });
    const hist = (patientKey: string, step: 'raw' | number): Promise<unknown[]> => store.history({ patientKey, metric: 'hr', from: 0, to: NOW, step, limit: 100 });
    expect(await hist('p-gone', 'raw')).toEqual([]);
    expect(await hist('p-gone', 60_000)).toEqual([]);
    expect(await store.scores({ patientId: 'p-gone', from: 0, to: NOW, limit: 10 })).toEqual([]);
    expect(await store.alerts({ patientId: 'p-gone', limit: 10 })).toEqual([]);
    expect((await call('admin', 'GET', `/api/patients/p-gone/news2?from=${NOW - 2 * H}&to=${NOW}`)).body.scores).toEqual([]);
    expect(await hist('p-keep', 'raw')).toHaveLength(3);
    expect(await store.scores({ patientId: 'p-keep', from: 0, to: NOW, limit: 10 })).toHaveLength(2);
    expect(await store.alerts({ patientId: 'p-keep', limit: 10 })).toHaveLength(1);

    const erasures = await until('erasure audited', async () => {
      const ok = (await auditOf('patient.erase')).filter((a) => a.outcome === 'ok');
      return ok.length === 1 ? ok : false;
    });
    expect(erasures[0]).toMatchObject({ userId: 'admin-1', role: 'admin', resource: 'patient', patientId: 'p-gone' });
    // Nothing clinical in the record: only the fixed audit fields.
    expect(Object.keys(erasures[0]!).sort()).toEqual(['action', 'address', 'id', 'outcome', 'patientId', 'resource', 'role', 'ts', 'userId', 'v']);
    // Earlier audit entries about the patient survive erasure (the trail is never erased).
    expect((await store.audit({ patientId: 'p-gone', limit: 100 })).some((a) => a.action === 'patient.erase' && a.outcome === 'denied')).toBe(true);
    // Erasing again is a harmless no-op.
    expect((await call('admin', 'DELETE', '/api/patients/p-gone')).status).toBe(200);
  });
});
