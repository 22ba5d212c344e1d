import { createClient } from '@clickhouse/client';
import { afterAll, describe, expect, it } from 'vitest';
import { isVitalsError } from '../../core/errors.js';
import { createClickHouseStore } from './clickhouse.js';
import { SAMPLE_COLUMNS, sampleTsv } from './clickhouse-body.js';
import { clickHouseErrorCode } from './clickhouse-errors.js';
import { postInsert } from './clickhouse-insert.js';
import { sampleRows } from './rows.js';
import { sqlString } from './sql.js';
import { storeContract } from '../../test/support/store-contract.js';

const url = process.env['CLICKHOUSE_URL'];
// One fresh database per run, dropped afterwards, so runs never see each other's rows.
const database = `vitals_test_${Date.now()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

if (!url) {
  // Integration suites are part of the full suite: a missing server is a failure, not a skip.
  it('has CLICKHOUSE_URL (set by test/global-setup.ts or the environment)', () => {
    throw new Error('CLICKHOUSE_URL is not set: the ClickHouse store contract cannot run');
  });
} else {
  afterAll(async () => {
    const admin = createClient({ url });
    try {
      await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    } finally {
      await admin.close();
    }
  });

  storeContract('clickhouse', () => createClickHouseStore({ url, database }));

  describe('clickhouse store specifics', () => {
    it('creates its database when missing and reports the rollup as a materialized view', async () => {
      const store = await createClickHouseStore({ url, database });
      await store.migrate();
      const admin = createClient({ url });
      try {
        const rs = await admin.query({
          query: `SELECT name, engine FROM system.tables WHERE database = '${database}' ORDER BY name`,
          format: 'JSONEachRow',
        });
        const tables = await rs.json<{ name: string; engine: string }>();
        expect(tables).toEqual(
          expect.arrayContaining([
            { name: 'samples', engine: 'ReplacingMergeTree' },
            { name: 'samples_1m', engine: 'AggregatingMergeTree' },
            { name: 'samples_1m_mv', engine: 'MaterializedView' },
            { name: 'alert_events', engine: 'ReplacingMergeTree' },
            { name: 'audit', engine: 'ReplacingMergeTree' },
            { name: 'news2_scores', engine: 'ReplacingMergeTree' },
          ]),
        );
      } finally {
        await admin.close();
        await store.close();
      }
    });

    it('stores Native sample blocks exactly as the same rows sent as TabSeparated: odd strings, exponent and negative numbers', async () => {
      const store = await createClickHouseStore({ url, database });
      await store.migrate();
      const hostile = "tab\there\nnewline\r\\ back\\t 'q' \" ü 患者 🫀";
      const long = `${'患者'.repeat(30)}-${'x'.repeat(50)}`; // a two-byte length prefix
      const p = `native-${hostile}-${Date.now()}`;
      const samples = [
        { v: 1 as const, deviceId: hostile, patientId: p, ward: hostile, ts: 1_700_000_000_001, recvTs: 1_700_000_000_123, source: 'device' as const, traceId: long, metrics: { hr: 1e21, spo2: 5e-7, temp: -0.5 }, quality: { hr: 0.1, spo2: 1 } },
        { v: 1 as const, deviceId: 'd2', patientId: p, ward: null, ts: 1_700_000_001_999, recvTs: 4_294_967_295_000, source: 'manual' as const, traceId: '', metrics: { rr: 16 } },
        { v: 1 as const, deviceId: '', patientId: p, ward: '\'"', ts: 0, recvTs: 0, source: 'manual' as const, traceId: 'String', metrics: { sbp: -1e-300 } },
      ].map((s) => ({ ...s, deviceId: s.deviceId || 'empty-device-ids-are-rejected' }));
      const admin = createClient({ url });
      // Every column as text, so Float32 and UInt64 compare exactly.
      const read = async (table: string): Promise<Array<Record<string, unknown>>> =>
        (await admin.query({
          query: `SELECT patient_key, patient_id, device_id, ward, metric, toUInt32(ts) AS ts_s, toString(ts_ms) AS ts_ms, toString(value) AS value, toString(quality) AS quality, source, toString(recv_ts_ms) AS recv_ts_ms, trace_id
            FROM ${database}.${table} WHERE patient_id = ${sqlString(p, 'clickhouse')} ORDER BY ts_ms, metric`,
          format: 'JSONEachRow',
        })).json<Record<string, unknown>>();
      try {
        await store.insertSamples(samples); // Native
        // The same rows as the TabSeparated text the adapter posted before, into a twin table.
        await admin.command({ query: `CREATE TABLE IF NOT EXISTS ${database}.samples_tsv AS ${database}.samples` });
        const rows = sampleRows(samples);
        // Not the 1970 row: 18.16 reads a DateTime in text as a unix time only with 10 digits
        // (from 2001-09-09), so TabSeparated could not carry it; Native can.
        const textable = rows.filter((r) => r.ts_ms >= 1e12);
        await postInsert({ url, database }, `INSERT INTO samples_tsv (${SAMPLE_COLUMNS}) FORMAT TabSeparated`, [Buffer.from(sampleTsv(textable, 0, textable.length))]);
        const native = await read('samples');
        expect(native).toHaveLength(rows.length);
        expect(native.filter((r) => Number(r['ts_ms']) >= 1e12)).toEqual(await read('samples_tsv'));
        const want = rows
          .map((r) => ({ ...r, ts_s: Math.floor(r.ts_ms / 1000), ts_ms: String(r.ts_ms), recv_ts_ms: String(r.recv_ts_ms) }))
          .sort((a, b) => Number(a.ts_ms) - Number(b.ts_ms) || a.metric.localeCompare(b.metric));
        expect(native.map((r) => ({ ...r, value: Number(r['value']), quality: Number(r['quality']) }))).toEqual(
          want.map((r) => ({ ...r, quality: Number(Math.fround(r.quality).toPrecision(7)) })),
        );
      } finally {
        await admin.close();
        await store.close();
      }
    });

    it('rejects an invalid database name before any request', async () => {
      const err = await createClickHouseStore({ url, database: 'x; DROP DATABASE vitals' }).catch((e: unknown) => e);
      expect(isVitalsError(err) && err.code).toBe('VTL_ERR_BAD_REQUEST');
    });

    it('reports unhealthy, with a retriable error on use, when the server is unreachable', async () => {
      const err = await createClickHouseStore({ url: 'http://127.0.0.1:1', database }).catch((e: unknown) => e);
      expect(isVitalsError(err) && err.code).toBe('VTL_ERR_STORE_UNAVAILABLE');
    });

    it('parses error codes from 18.16-style messages', () => {
      expect(clickHouseErrorCode(new Error('Code: 81, e.displayText() = DB::Exception: Database x doesn\'t exist'))).toBe(81);
      expect(clickHouseErrorCode(Object.assign(new Error('x'), { code: '60' }))).toBe(60);
      expect(clickHouseErrorCode(new Error('connect ECONNREFUSED'))).toBeUndefined();
    });
  });
}
