/**
 * The Store contract: one vitest suite that every Store adapter must pass unchanged.
 * Each test uses its own patient keys and wards, so the suite can share one store (and one
 * database) across tests without cleanup between them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVitalsError } from '../../core/errors.js';
import type { AlertEvent, AlertEventType, AlertState } from '../../core/alerts-model.js';
import type { AuditEvent } from '../../core/audit.js';
import type { BucketPoint, RawPoint, RetentionPolicy, Store } from '../../core/ports.js';
import type { ScoreOutput } from '../../core/bus-messages.js';
import type { CanonicalSample, MetricName } from '../../core/vitals.js';
import type { IntrospectableStore } from '../../adapters/store/migrations.js';

/** 2024-01-15 10:00:00 UTC: minute-aligned, so offsets below read as "minute:second". */
const T0 = Date.UTC(2024, 0, 15, 10, 0, 0);
const MIN = 60_000;
const HOSTILE = "O'Brien \\'); DROP TABLE samples; -- \" ` \\\\ \n\r\t\x01\x1f\x7f ü 患者 🫀 {p:String} $1 ?";

let seq = 0;
/** A unique id per call, so tests sharing a store never see each other's rows. */
function uid(prefix: string): string {
  seq += 1;
  return `${prefix}-${seq}-${Math.random().toString(36).slice(2, 8)}`;
}

function sample(patientId: string | null, ts: number, metrics: Partial<Record<MetricName, number>>, over: Partial<CanonicalSample> = {}): CanonicalSample {
  return {
    v: 1,
    deviceId: over.deviceId ?? 'dev-1',
    patientId,
    ward: 'ward-a',
    ts,
    recvTs: ts + 150,
    source: 'device',
    metrics,
    traceId: `trace-${ts}`,
    ...over,
  };
}

function alertEvent(o: {
  patientId: string;
  ward: string;
  ts: number;
  event?: AlertEventType;
  state?: AlertState;
  alertId?: string;
  n?: number;
  message?: string;
}): AlertEvent {
  const alertId = o.alertId ?? uid('alert');
  const event = o.event ?? 'raised';
  return {
    v: 1,
    eventId: `${alertId}:${event}:${o.n ?? 0}`,
    event,
    ts: o.ts,
    alert: {
      id: alertId,
      patientId: o.patientId,
      ward: o.ward,
      ruleId: 'news2.high',
      kind: 'clinical',
      priority: 'high',
      state: o.state ?? 'open',
      openedAt: o.ts,
      message: o.message ?? 'NEWS2 7',
      value: 7,
      ackBy: null,
      ackAt: null,
      resolvedAt: null,
    },
    traceId: 'trace-alert',
  };
}

function score(patientId: string, ts: number, value: number, over: Partial<ScoreOutput> = {}): ScoreOutput {
  return {
    patientId,
    ward: 'ward-a',
    ts,
    score: value,
    maxScore: value + 3,
    risk: value >= 7 ? 'high' : value >= 5 ? 'medium' : 'low',
    components: { rr: value, spo2: 0, o2: 0, sbp: 0, hr: 0, acvpu: 0, temp: 0 },
    complete: false,
    missing: ['temp'],
    scale: 1,
    raw: { rr: 20 + value },
    rounded: { rr: 20 + value },
    stale: [],
    ...over,
  };
}

function auditEvent(o: Partial<AuditEvent> & { ts: number }): AuditEvent {
  return { v: 1, id: uid('audit'), userId: 'u1', role: 'nurse', action: 'patient.vitals.read', resource: 'patient.vitals', patientId: null, address: '127.0.0.1', outcome: 'ok', ...o };
}

async function expectRejected(p: Promise<unknown>, code = 'VTL_ERR_BAD_REQUEST'): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a rejection').toBeDefined();
  expect(isVitalsError(err) ? err.code : err).toBe(code);
}

/**
 * Register the Store contract suite for one adapter.
 * @param name - suite label (adapter name)
 * @param make - builds a fresh, empty store; the suite migrates and closes it
 */
export function storeContract(name: string, make: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;

    const raw = (patientKey: string, metric: MetricName, from: number, to: number, limit = 1000): Promise<RawPoint[]> =>
      store.history({ patientKey, metric, from, to, step: 'raw', limit }) as Promise<RawPoint[]>;
    const buckets = (patientKey: string, metric: MetricName, from: number, to: number, step: number, limit = 1000): Promise<BucketPoint[]> =>
      store.history({ patientKey, metric, from, to, step, limit }) as Promise<BucketPoint[]>;

    beforeAll(async () => {
      store = await make();
      await store.migrate();
    });

    afterAll(async () => {
      await store?.close();
    });

    it('migrate() twice is a no-op that keeps data', async () => {
      const p = uid('p-migrate');
      await store.insertSamples([sample(p, T0, { hr: 70 })]);
      const introspect = (store as Partial<IntrospectableStore>).appliedMigrations?.bind(store);
      const before = introspect ? await introspect() : [];
      await store.migrate();
      await store.migrate();
      if (introspect) {
        const after = await introspect();
        expect(after).toEqual(before);
        expect(after.length).toBeGreaterThan(0);
        expect(new Set(after.map((m) => m.version)).size).toBe(after.length);
      }
      expect(await raw(p, 'hr', T0, T0 + MIN)).toEqual([{ ts: T0, value: 70 }]);
    });

    it('reads raw history back per metric, in ascending time, within [from, to)', async () => {
      const p = uid('p-raw');
      // Inserted out of order, several metrics per sample.
      await store.insertSamples([
        sample(p, T0 + 2000, { hr: 72, spo2: 97, rr: 16 }),
        sample(p, T0, { hr: 70, spo2: 98 }, { quality: { hr: 0.5 } }),
        sample(p, T0 + 1000, { hr: 71.5, temp: 37.25 }),
        sample(p, T0 + 3000, { hr: 73 }),
      ]);
      expect(await raw(p, 'hr', T0, T0 + 3000)).toEqual([
        { ts: T0, value: 70 },
        { ts: T0 + 1000, value: 71.5 },
        { ts: T0 + 2000, value: 72 },
      ]);
      expect(await raw(p, 'spo2', T0, T0 + MIN)).toEqual([
        { ts: T0, value: 98 },
        { ts: T0 + 2000, value: 97 },
      ]);
      expect(await raw(p, 'temp', T0, T0 + MIN)).toEqual([{ ts: T0 + 1000, value: 37.25 }]);
      expect(await raw(p, 'sbp', T0, T0 + MIN)).toEqual([]);
      expect(await raw(p, 'hr', T0 + MIN, T0)).toEqual([]);
    });

    it('accepts open-ended ranges (from 0 to MAX_SAFE_INTEGER)', async () => {
      const p = uid('p-open');
      await store.insertSamples([sample(p, T0, { hr: 64 })]);
      const end = Number.MAX_SAFE_INTEGER;
      expect(await raw(p, 'hr', 0, end)).toEqual([{ ts: T0, value: 64 }]);
      expect(await buckets(p, 'hr', 0, end, MIN)).toEqual([{ ts: T0, min: 64, max: 64, avg: 64, count: 1 }]);
      expect(await buckets(p, 'hr', 0, end, 7000)).toHaveLength(1);
      expect(await store.alerts({ patientId: p, from: 0, to: end, limit: 5 })).toEqual([]);
    });

    it('keeps millisecond precision of event time', async () => {
      const p = uid('p-ms');
      await store.insertSamples([sample(p, T0 + 1, { hr: 1 }), sample(p, T0 + 999, { hr: 2 }), sample(p, T0 + 1000, { hr: 3 })]);
      expect((await raw(p, 'hr', T0, T0 + 1001)).map((x) => x.ts)).toEqual([T0 + 1, T0 + 999, T0 + 1000]);
      expect((await raw(p, 'hr', T0 + 2, T0 + 1000)).map((x) => x.ts)).toEqual([T0 + 999]);
    });

    it('does not show re-delivered samples twice (raw, rollup and raw-grouped buckets)', async () => {
      const p = uid('p-dup');
      const batch = [sample(p, T0 + 10_000, { hr: 60 }), sample(p, T0 + 20_000, { hr: 80 }), sample(p, T0 + 70_000, { hr: 100 })];
      await store.insertSamples(batch);
      await store.insertSamples(batch); // at-least-once redelivery
      await store.insertSamples([batch[0]!, batch[0]!]); // duplicate inside one batch
      expect(await raw(p, 'hr', T0, T0 + 2 * MIN)).toEqual([
        { ts: T0 + 10_000, value: 60 },
        { ts: T0 + 20_000, value: 80 },
        { ts: T0 + 70_000, value: 100 },
      ]);
      const perMinute = await buckets(p, 'hr', T0, T0 + 2 * MIN, MIN);
      expect(perMinute.map((b) => [b.ts, b.count, b.min, b.max])).toEqual([
        [T0, 2, 60, 80],
        [T0 + MIN, 1, 100, 100],
      ]);
      expect(perMinute[0]!.avg).toBeCloseTo(70, 9);
      const twoMin = await buckets(p, 'hr', T0, T0 + 2 * MIN, 2 * MIN);
      expect(twoMin).toHaveLength(1);
      expect(twoMin[0]!.count).toBe(3);
      expect(twoMin[0]!.avg).toBeCloseTo(80, 9);
      const halfMin = await buckets(p, 'hr', T0, T0 + 2 * MIN, 30_000);
      expect(halfMin.map((b) => [b.ts, b.count])).toEqual([
        [T0, 2],
        [T0 + 60_000, 1],
      ]);
    });

    it('re-delivered samples are stored once, however far apart the copies arrive', async () => {
      const p = uid('p-redeliver');
      const other = uid('p-other');
      const first = Array.from({ length: 20 }, (_, i) => sample(p, T0 + i * 1000, { hr: 60 + i, spo2: 95 }));
      await store.insertSamples(first);
      // Other patients' rows in between, then the first batch again inside a larger batch.
      for (let k = 0; k < 3; k++) await store.insertSamples(Array.from({ length: 20 }, (_, i) => sample(other, T0 + (k * 20 + i) * 1000, { hr: 70 })));
      const later = Array.from({ length: 10 }, (_, i) => sample(p, T0 + (20 + i) * 1000, { hr: 80 + i, spo2: 96 }));
      await store.insertSamples([...later.slice(0, 5), ...first, ...later.slice(5)]);
      const hr = await raw(p, 'hr', T0, T0 + MIN);
      expect(hr.map((x) => x.ts)).toEqual(Array.from({ length: 30 }, (_, i) => T0 + i * 1000));
      expect(hr.map((x) => x.value)).toEqual([...first.map((x) => x.metrics.hr), ...later.map((x) => x.metrics.hr)]);
      const [bucket] = await buckets(p, 'spo2', T0, T0 + MIN, MIN);
      expect(bucket).toMatchObject({ ts: T0, count: 30, min: 95, max: 96 });
      expect((await buckets(other, 'hr', T0, T0 + MIN, MIN))[0]?.count).toBe(60);
    });

    it('computes min/max/avg/count across minute boundaries, aligned to the step', async () => {
      const p = uid('p-bucket');
      const pts: Array<[number, number]> = [
        [T0 + 50_000, 10],
        [T0 + 59_999, 20],
        [T0 + 60_000, 30],
        [T0 + 90_000, 50],
        [T0 + 119_999, 40],
        [T0 + 185_000, 5],
      ];
      await store.insertSamples(pts.map(([ts, v]) => sample(p, ts, { rr: v })));
      const m1 = await buckets(p, 'rr', T0, T0 + 4 * MIN, MIN);
      expect(m1.map((b) => [b.ts, b.min, b.max, b.count])).toEqual([
        [T0, 10, 20, 2],
        [T0 + MIN, 30, 50, 3],
        [T0 + 3 * MIN, 5, 5, 1],
      ]);
      expect(m1.map((b) => b.avg)).toEqual([expect.closeTo(15, 9), expect.closeTo(40, 9), expect.closeTo(5, 9)]);
      const m2 = await buckets(p, 'rr', T0, T0 + 4 * MIN, 2 * MIN);
      expect(m2.map((b) => [b.ts, b.min, b.max, b.count])).toEqual([
        [T0, 10, 50, 5],
        [T0 + 2 * MIN, 5, 5, 1],
      ]);
      expect(m2[0]!.avg).toBeCloseTo(30, 9);
      // A step that is not a whole number of minutes is grouped from raw rows.
      const s20 = await buckets(p, 'rr', T0, T0 + 4 * MIN, 20_000);
      expect(s20.map((b) => [b.ts, b.count, b.min, b.max])).toEqual([
        [T0 + 40_000, 2, 10, 20],
        [T0 + 60_000, 1, 30, 30],
        [T0 + 80_000, 1, 50, 50],
        [T0 + 100_000, 1, 40, 40],
        [T0 + 180_000, 1, 5, 5],
      ]);
      // An unaligned window returns every whole bucket it overlaps.
      const partial = await buckets(p, 'rr', T0 + 55_000, T0 + 61_000, MIN);
      expect(partial.map((b) => [b.ts, b.count])).toEqual([
        [T0, 2],
        [T0 + MIN, 3],
      ]);
    });

    it('minute-multiple buckets (rollup path) equal buckets computed from the raw points, with copies and late samples across minute boundaries', async () => {
      const p = uid('p-trend');
      const other = uid('p-trend-other');
      // Dyadic values (multiples of 1/4), so sums are exact and both paths must agree to the bit.
      const at = (sec: number, ms = 0): CanonicalSample => sample(p, T0 + sec * 1000 + ms, { hr: 60 + (sec % 37) / 4, spo2: 90 + (sec % 9) });
      const minute1 = Array.from({ length: 60 }, (_, s) => at(s));
      const edges = [at(59, 999), at(60), at(119, 999), at(120), at(120, 1)];
      const minute3 = Array.from({ length: 30 }, (_, s) => at(180 + 2 * s));
      await store.insertSamples(minute1);
      await store.insertSamples(edges);
      await store.insertSamples([...edges, edges[0]!]); // re-delivered, plus a copy inside the batch
      // Other patients' rows in between (on DuckDB with small runs: the copies land in different runs).
      for (let k = 0; k < 3; k++) await store.insertSamples(Array.from({ length: 10 }, (_, i) => sample(other, T0 + (k * 10 + i) * 1000, { hr: 70 })));
      await store.insertSamples(minute3);
      await store.insertSamples([...minute1.slice(10, 20), at(61, 500), at(300, 250)]); // old copies, a late sample, a new minute
      await store.insertSamples(minute3.slice(0, 5));

      const unique = new Map<number, number>();
      for (const s of [...minute1, ...edges, ...minute3, at(61, 500), at(300, 250)]) unique.set(s.ts, s.metrics.hr!);
      const points = await raw(p, 'hr', T0, T0 + 10 * MIN);
      expect(points).toEqual([...unique.entries()].sort((a, b) => a[0] - b[0]).map(([ts, value]) => ({ ts, value })));
      for (const step of [MIN, 2 * MIN, 5 * MIN]) {
        const expected = new Map<number, BucketPoint>();
        for (const { ts, value } of points) {
          const b = Math.floor(ts / step) * step;
          const e = expected.get(b);
          if (!e) expected.set(b, { ts: b, min: value, max: value, avg: value, count: 1 });
          else expected.set(b, { ts: b, min: Math.min(e.min, value), max: Math.max(e.max, value), avg: e.avg + value, count: e.count + 1 });
        }
        const want = [...expected.values()].sort((a, b) => a.ts - b.ts).map((b) => ({ ...b, avg: b.avg / b.count }));
        expect(await buckets(p, 'hr', T0, T0 + 10 * MIN, step)).toEqual(want);
      }
      // A range starting mid-way reads whole buckets, and the other metric is kept apart.
      expect((await buckets(p, 'hr', T0 + 90_000, T0 + 3 * MIN, MIN)).map((b) => [b.ts, b.count])).toEqual([
        [T0 + MIN, 3],
        [T0 + 2 * MIN, 2],
      ]);
      expect((await buckets(p, 'spo2', T0, T0 + 10 * MIN, 10 * MIN))[0]?.count).toBe(unique.size);
    });

    it('respects the limit (raw and buckets), returning the earliest first', async () => {
      const p = uid('p-limit');
      await store.insertSamples(Array.from({ length: 30 }, (_, i) => sample(p, T0 + i * 10_000, { spo2: 90 + (i % 10) })));
      const r = await raw(p, 'spo2', T0, T0 + 10 * MIN, 7);
      expect(r).toHaveLength(7);
      expect(r[0]!.ts).toBe(T0);
      expect(r[6]!.ts).toBe(T0 + 60_000);
      const b = await buckets(p, 'spo2', T0, T0 + 10 * MIN, MIN, 2);
      expect(b.map((x) => x.ts)).toEqual([T0, T0 + MIN]);
      const b2 = await buckets(p, 'spo2', T0, T0 + 10 * MIN, 10_000, 3);
      expect(b2.map((x) => x.ts)).toEqual([T0, T0 + 10_000, T0 + 20_000]);
    });

    it('stores unassigned device samples under device:{id}', async () => {
      const dev = uid('dev-unassigned');
      await store.insertSamples([sample(null, T0, { hr: 88 }, { deviceId: dev, ward: null }), sample(null, T0 + 1000, { hr: 89 }, { deviceId: dev, ward: null })]);
      expect(await raw(`device:${dev}`, 'hr', T0, T0 + MIN)).toEqual([
        { ts: T0, value: 88 },
        { ts: T0 + 1000, value: 89 },
      ]);
      expect(await buckets(`device:${dev}`, 'hr', T0, T0 + MIN, MIN)).toEqual([{ ts: T0, min: 88, max: 89, avg: 88.5, count: 2 }]);
      expect(await raw(dev, 'hr', T0, T0 + MIN)).toEqual([]);
    });

    it('round-trips alert events and filters by ward, patient, state and time, newest first', async () => {
      const wardA = uid('ward-alerts-a');
      const wardB = uid('ward-alerts-b');
      const p1 = uid('p-alert');
      const p2 = uid('p-alert');
      const raised = alertEvent({ patientId: p1, ward: wardA, ts: T0 + 1000 });
      const acked: AlertEvent = {
        ...alertEvent({ patientId: p1, ward: wardA, ts: T0 + 5000, event: 'acknowledged', state: 'acknowledged', alertId: raised.alert.id }),
        alert: { ...raised.alert, state: 'acknowledged', ackBy: 'nurse-1', ackAt: T0 + 5000, value: null },
      };
      const other = alertEvent({ patientId: p2, ward: wardB, ts: T0 + 3000 });
      await store.insertAlertEvents([raised, other]);
      await store.insertAlertEvents([acked, raised]); // raised re-delivered
      await store.insertAlertEvents([other, other]); // twice in one batch

      const all = await store.alerts({ ward: [wardA, wardB], limit: 10 });
      expect(all).toEqual([acked, other, raised]);
      expect(await store.alerts({ ward: [wardA], limit: 10 })).toEqual([acked, raised]);
      expect(await store.alerts({ ward: [wardA, wardB], state: 'open', limit: 10 })).toEqual([other, raised]);
      expect(await store.alerts({ ward: [wardA, wardB], patientId: p2, limit: 10 })).toEqual([other]);
      expect(await store.alerts({ patientId: p1, limit: 10 })).toEqual([acked, raised]);
      expect(await store.alerts({ ward: [wardA, wardB], from: T0 + 1000, to: T0 + 5000, limit: 10 })).toEqual([other, raised]);
      expect(await store.alerts({ ward: [wardA, wardB], limit: 1 })).toEqual([acked]);
      expect(await store.alerts({ ward: [], limit: 10 })).toEqual([]);
    });

    it('accepts audit events, idempotently', async () => {
      const events: AuditEvent[] = [
        { v: 1, id: uid('audit'), ts: T0, userId: 'u1', role: 'nurse', action: 'patient.vitals.read', resource: 'patient/x', patientId: 'x', address: '127.0.0.1', outcome: 'ok' },
        { v: 1, id: uid('audit'), ts: T0 + 1, userId: 'u2', role: 'admin', action: 'device.create', resource: HOSTILE, patientId: null, address: '::1', outcome: 'denied' },
      ];
      await store.insertAudit(events);
      await store.insertAudit(events);
      await store.insertAudit([]);
    });

    it('round-trips NEWS2 scores per patient in [from, to), ascending, deduplicated and limited', async () => {
      const p = uid('p-score');
      const other = uid('p-score');
      const s1 = score(p, T0 + 1000, 3);
      const s2 = score(p, T0 + 2000, 7, { complete: true, missing: [], ward: HOSTILE });
      const s3 = score(p, T0 + MIN, 5);
      await store.insertScores([s3, s1, score(other, T0 + 1500, 1)]);
      await store.insertScores([s2, s1]); // s1 re-delivered
      await store.insertScores([s3, s3]); // twice in one batch
      await store.insertScores([]);
      expect(await store.scores({ patientId: p, from: T0, to: T0 + 2 * MIN, limit: 10 })).toEqual([s1, s2, s3]);
      expect(await store.scores({ patientId: p, from: T0 + 1000, to: T0 + MIN, limit: 10 })).toEqual([s1, s2]);
      expect(await store.scores({ patientId: p, from: T0, to: T0 + 2 * MIN, limit: 2 })).toEqual([s1, s2]);
      expect(await store.scores({ patientId: p, from: T0 + MIN, to: T0, limit: 2 })).toEqual([]);
      expect(await store.scores({ patientId: other, from: 0, to: Number.MAX_SAFE_INTEGER, limit: 10 })).toHaveLength(1);
      await expectRejected(store.insertScores([score(p, T0, Number.NaN)]));
      await expectRejected(store.insertScores([score('', T0, 1)]));
      await expectRejected(store.scores({ patientId: p, from: T0, to: T0 + MIN, limit: 0 }));
    });

    it('queries the audit trail by user, patient, action and time, newest first, once per id', async () => {
      const user = uid('user');
      const p = uid('p-audit');
      const a1 = auditEvent({ ts: T0, userId: user, patientId: p });
      const a2 = auditEvent({ ts: T0 + 1000, userId: user, action: 'device.create', resource: HOSTILE });
      const a3 = auditEvent({ ts: T0 + 2000, userId: uid('user'), patientId: p, outcome: 'denied', role: 'viewer' });
      await store.insertAudit([a1, a2, a3]);
      await store.insertAudit([a1]); // re-delivered
      expect(await store.audit({ userId: user, limit: 10 })).toEqual([a2, a1]);
      expect(await store.audit({ patientId: p, limit: 10 })).toEqual([a3, a1]);
      expect(await store.audit({ userId: user, action: 'device.create', limit: 10 })).toEqual([a2]);
      expect(await store.audit({ patientId: p, from: T0 + 1, to: T0 + 3000, limit: 10 })).toEqual([a3]);
      expect(await store.audit({ patientId: p, from: T0, to: T0 + 2000, limit: 10 })).toEqual([a1]);
      expect(await store.audit({ patientId: p, limit: 1 })).toEqual([a3]);
      await expectRejected(store.audit({ userId: 'nul\0', limit: 10 }));
    });

    it('dropExpired removes data older than the policy and keeps the rest (0 days: forever)', async () => {
      // Far in the past, so the cut never reaches other tests' rows (T0 is 2024).
      const now = Date.UTC(2001, 2, 1);
      const old = Date.UTC(2000, 11, 5, 12);
      const recent = Date.UTC(2001, 1, 27, 12);
      const p = uid('p-retain');
      const ward = uid('ward-retain');
      const user = uid('user-retain');
      await store.insertSamples([sample(p, old, { hr: 50 }), sample(p, recent, { hr: 60 })]);
      await store.insertScores([score(p, old, 1), score(p, recent, 2)]);
      await store.insertAlertEvents([alertEvent({ patientId: p, ward, ts: old }), alertEvent({ patientId: p, ward, ts: recent })]);
      await store.insertAudit([auditEvent({ ts: old, userId: user }), auditEvent({ ts: recent, userId: user })]);
      const forever: RetentionPolicy = { rawDays: 0, rollupDays: 0, scoresDays: 0, alertsDays: 0, auditDays: 0 };
      await store.dropExpired(now, forever);
      expect(await raw(p, 'hr', 0, now)).toHaveLength(2);

      const month: RetentionPolicy = { rawDays: 30, rollupDays: 30, scoresDays: 30, alertsDays: 30, auditDays: 30 };
      const report = await store.dropExpired(now, month);
      expect(report.dropped['samples']).toBeGreaterThan(0);
      expect(await raw(p, 'hr', 0, now)).toEqual([{ ts: recent, value: 60 }]);
      expect((await buckets(p, 'hr', 0, now, MIN)).map((b) => b.ts)).toEqual([recent - (recent % MIN)]);
      expect((await store.scores({ patientId: p, from: 0, to: now, limit: 10 })).map((x) => x.ts)).toEqual([recent]);
      expect((await store.alerts({ ward: [ward], limit: 10 })).map((x) => x.ts)).toEqual([recent]);
      expect((await store.audit({ userId: user, limit: 10 })).map((x) => x.ts)).toEqual([recent]);
      // Idempotent, and the 2024 rows of the other tests are untouched.
      await store.dropExpired(now, month);
      expect(await raw(p, 'hr', 0, now)).toHaveLength(1);
      await expectRejected(store.dropExpired(now, { ...month, rawDays: -1 }));
    });

    it('erasePatient removes that patient’s samples, buckets, scores and alerts, not another’s', async () => {
      const gone = uid('p-erase');
      const kept = uid('p-keep');
      const ward = uid('ward-erase');
      for (const p of [gone, kept]) {
        await store.insertSamples([sample(p, T0, { hr: 70, spo2: 95 }), sample(p, T0 + MIN, { hr: 75 })]);
        await store.insertAlertEvents([alertEvent({ patientId: p, ward, ts: T0 })]);
        await store.insertScores([score(p, T0, 4)]);
      }
      const auditBefore = await store.audit({ patientId: gone, limit: 10 });
      await store.erasePatient(gone);
      expect(await store.scores({ patientId: gone, from: 0, to: T0 + MIN, limit: 10 })).toEqual([]);
      expect(await store.scores({ patientId: kept, from: 0, to: T0 + MIN, limit: 10 })).toHaveLength(1);
      expect(await store.audit({ patientId: gone, limit: 10 })).toEqual(auditBefore);
      expect(await raw(gone, 'hr', T0, T0 + 5 * MIN)).toEqual([]);
      expect(await raw(gone, 'spo2', T0, T0 + 5 * MIN)).toEqual([]);
      expect(await buckets(gone, 'hr', T0, T0 + 5 * MIN, MIN)).toEqual([]);
      expect(await buckets(gone, 'hr', T0, T0 + 5 * MIN, 5000)).toEqual([]);
      expect(await store.alerts({ patientId: gone, limit: 10 })).toEqual([]);
      expect(await raw(kept, 'hr', T0, T0 + 5 * MIN)).toHaveLength(2);
      expect(await buckets(kept, 'hr', T0, T0 + 5 * MIN, MIN)).toHaveLength(2);
      expect(await store.alerts({ ward: [ward], limit: 10 })).toHaveLength(1);
      await store.erasePatient(uid('p-never-seen'));
    });

    it('round-trips hostile strings exactly (keys, wards, messages)', async () => {
      const p = `${HOSTILE}-${uid('p')}`;
      const ward = `${HOSTILE}-${uid('w')}`;
      await store.insertSamples([sample(p, T0, { hr: 61 }, { ward, deviceId: HOSTILE, traceId: HOSTILE, source: 'manual' })]);
      expect(await raw(p, 'hr', T0, T0 + MIN)).toEqual([{ ts: T0, value: 61 }]);
      expect(await buckets(p, 'hr', T0, T0 + MIN, MIN)).toHaveLength(1);
      const ev = alertEvent({ patientId: p, ward, ts: T0, message: HOSTILE });
      await store.insertAlertEvents([ev]);
      const back = await store.alerts({ ward: [ward], patientId: p, limit: 5 });
      expect(back).toEqual([ev]);
      expect(back[0]!.alert.message).toBe(HOSTILE);
      // The same prefix must not match by accident (no LIKE, no truncation).
      expect(await raw(HOSTILE, 'hr', T0, T0 + MIN)).toEqual([]);
      await store.erasePatient(p);
      expect(await raw(p, 'hr', T0, T0 + MIN)).toEqual([]);
    });

    it('rejects a batch with a NaN or infinite value, writing nothing', async () => {
      const p = uid('p-nan');
      await expectRejected(store.insertSamples([sample(p, T0, { hr: 70 }), sample(p, T0 + 1000, { hr: Number.NaN })]));
      await expectRejected(store.insertSamples([sample(p, T0, { spo2: Number.POSITIVE_INFINITY })]));
      await expectRejected(store.insertSamples([sample(p, T0, { hr: 70 }, { quality: { hr: Number.NaN } })]));
      expect(await raw(p, 'hr', T0, T0 + MIN)).toEqual([]);
    });

    it('rejects malformed queries and inputs with VTL_ERR_BAD_REQUEST', async () => {
      const p = uid('p-bad');
      await expectRejected(store.history({ patientKey: p, metric: 'hr', from: T0, to: T0 + MIN, step: 'raw', limit: 0 }));
      await expectRejected(store.history({ patientKey: p, metric: 'bogus' as MetricName, from: T0, to: T0 + MIN, step: 'raw', limit: 10 }));
      await expectRejected(store.history({ patientKey: p, metric: 'hr', from: T0, to: T0 + MIN, step: 1.5, limit: 10 }));
      await expectRejected(store.history({ patientKey: 'nul\0', metric: 'hr', from: T0, to: T0 + MIN, step: 'raw', limit: 10 }));
      await expectRejected(store.insertSamples([sample(p, -5, { hr: 70 })]));
      await expectRejected(store.insertSamples([sample(p, T0, { bogus: 1 } as Partial<Record<MetricName, number>>)]));
      await expectRejected(store.erasePatient(''));
    });

    it('is healthy while open', async () => {
      expect(await store.healthy()).toBe(true);
    });

    it('reports unhealthy after close(), and close() is idempotent', async () => {
      await store.close();
      expect(await store.healthy()).toBe(false);
      await store.close();
    });
  });
}
