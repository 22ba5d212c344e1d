/**
 * INSERT bodies for the ClickHouse adapter, pre-serialised with every column present: the client's
 * per-row JSON work halves insert throughput (PERF_NOTES), and omitted columns would silently
 * become zero on 18.16. Samples go as Native blocks (clickhouse-native.ts), the rest as
 * JSONEachRow. The TabSeparated form of sample rows stays as the text reference: the storage
 * benchmark's clickhouse-client baseline reads it, and the integration test compares Native
 * inserts with it.
 */
import type { AlertRow, AuditRow, SampleRow, ScoreRow } from './rows.js';

export const SAMPLE_COLUMNS = 'patient_key, patient_id, device_id, ward, metric, ts, ts_ms, value, quality, source, recv_ts_ms, trace_id';
export const ALERT_COLUMNS =
  'event_id, alert_id, patient_id, ward, rule_id, kind, priority, state, event, ts, ts_ms, opened_at_ms, ack_by, message, value, json';
export const AUDIT_COLUMNS = 'id, ts, ts_ms, user_id, role, action, resource, patient_id, address, outcome';
export const SCORE_COLUMNS = 'patient_id, ward, ts, ts_ms, score, max_score, risk, complete, json';

const J = JSON.stringify;
const sec = (ms: number): number => Math.floor(ms / 1000);

// TabSeparated escaping (ClickHouse's readEscapedString): a backslash starts an escape, a tab or
// newline would end the field or row. \r is escaped too so a body never depends on line-ending
// handling. Everything else, UTF-8 included, passes as is (NUL is rejected earlier, sql.ts).
const TSV_SPECIAL = /[\\\t\n\r]/;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
/** A string as a TabSeparated field. */
export function tsvField(s: string): string {
  return TSV_SPECIAL.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => TSV_ESCAPES[c] as string) : s;
}

/**
 * TabSeparated text for rows[from, to), newline-terminated, columns in SAMPLE_COLUMNS order (the
 * adapter's sample body until ADR 0020's amendment; now the benchmark baseline's input). A sample
 * fans out to one row per metric with the same strings, so the escaped head and tail are reused
 * across those consecutive rows. Metric names are validated identifiers (no escaping). On 18.16 a
 * `ts` before 2001-09-09 (fewer than 10 digits) does not parse as a DateTime: Native has no such limit.
 */
export function sampleTsv(rows: readonly SampleRow[], from: number, to: number): string {
  let prev: SampleRow | undefined;
  let head = '';
  let tail = '';
  let out = '';
  for (let i = from; i < to; i++) {
    const r = rows[i] as SampleRow;
    if (
      prev === undefined ||
      r.patient_key !== prev.patient_key ||
      r.patient_id !== prev.patient_id ||
      r.device_id !== prev.device_id ||
      r.ward !== prev.ward ||
      r.source !== prev.source ||
      r.trace_id !== prev.trace_id ||
      r.recv_ts_ms !== prev.recv_ts_ms
    ) {
      head = `${tsvField(r.patient_key)}\t${tsvField(r.patient_id)}\t${tsvField(r.device_id)}\t${tsvField(r.ward)}\t`;
      tail = `\t${tsvField(r.source)}\t${r.recv_ts_ms}\t${tsvField(r.trace_id)}\n`;
    }
    out += `${head}${r.metric}\t${sec(r.ts_ms)}\t${r.ts_ms}\t${r.value}\t${r.quality}${tail}`;
    prev = r;
  }
  return out;
}

export function alertLine(r: AlertRow): string {
  return `{"event_id":${J(r.event_id)},"alert_id":${J(r.alert_id)},"patient_id":${J(r.patient_id)},"ward":${J(r.ward)},"rule_id":${J(r.rule_id)},"kind":${J(r.kind)},"priority":${J(r.priority)},"state":${J(r.state)},"event":${J(r.event)},"ts":${sec(r.ts_ms)},"ts_ms":${r.ts_ms},"opened_at_ms":${r.opened_at_ms},"ack_by":${J(r.ack_by)},"message":${J(r.message)},"value":${r.value === null ? 'null' : r.value},"json":${J(r.json)}}`;
}

export function auditLine(r: AuditRow): string {
  return `{"id":${J(r.id)},"ts":${sec(r.ts_ms)},"ts_ms":${r.ts_ms},"user_id":${J(r.user_id)},"role":${J(r.role)},"action":${J(r.action)},"resource":${J(r.resource)},"patient_id":${r.patient_id === null ? 'null' : J(r.patient_id)},"address":${J(r.address)},"outcome":${J(r.outcome)}}`;
}

export function scoreLine(r: ScoreRow): string {
  return `{"patient_id":${J(r.patient_id)},"ward":${J(r.ward)},"ts":${sec(r.ts_ms)},"ts_ms":${r.ts_ms},"score":${r.score},"max_score":${r.max_score},"risk":${J(r.risk)},"complete":${r.complete ? 1 : 0},"json":${J(r.json)}}`;
}

/** Rows per body chunk: one request per batch, streamed, without building one giant string. */
const CHUNK_ROWS = 10_000;

/** Renders rows[from, to) as newline-terminated body text (JSONEachRow or TabSeparated). */
export type Render = (from: number, to: number) => string;

export const perLine =
  <T>(rows: readonly T[], line: (r: T) => string): Render =>
  (from, to) =>
    rows.slice(from, to).map(line).join('\n') + '\n';

// Lazy: a chunk is rendered only when the socket wants more, so rendering overlaps the server's
// parsing of the previous chunk and a large batch never exists as one string.
export function* bodyChunks(count: number, render: Render): Generator<Buffer> {
  for (let i = 0; i < count; i += CHUNK_ROWS) {
    yield Buffer.from(render(i, Math.min(count, i + CHUNK_ROWS)), 'utf8');
  }
}

/** The migration ledger's row for one applied migration. */
export function ledgerLine(version: number, name: string, appliedAtMs: number): string {
  return `{"version":${version},"name":${J(name)},"applied_at":${sec(appliedAtMs)}}\n`;
}
