/**
 * The sink role: bus -> store in batches, at-least-once. Offsets are committed by the
 * bus only after the handler resolves, i.e. after the store acknowledged the insert;
 * the store makes duplicates harmless. A store outage stops progress (the bus keeps
 * the data) and retries with backoff; a poison record is isolated by bisection and
 * dead-lettered, so one bad row never stalls the stream.
 */
import type { AlertEvent } from '../core/alerts-model.js';
import type { AuditEvent } from '../core/audit.js';
import { TOPICS, type BusRecord, type Store, type Subscription } from '../core/ports.js';
import type { CanonicalSample } from '../core/vitals.js';
import type { Context, Service } from '../platform/context.js';
import { counter } from '../platform/metrics.js';
import { isTransientStoreError, backoffDelay } from './retry.js';

export const SINK_GROUP = 'vitals-sink';

/** One consumer group per target database: two sinks writing to different databases are different consumers. */
export function sinkGroupId(clickhouseDatabase: string | null): string {
  return clickhouseDatabase ? `${SINK_GROUP}.${clickhouseDatabase}` : SINK_GROUP;
}

type Inserter<T> = (store: Store, rows: T[]) => Promise<void>;

const INSERTERS: Record<string, Inserter<never>> = {
  [TOPICS.samples]: ((st, rows: CanonicalSample[]) => st.insertSamples(rows)) as Inserter<never>,
  [TOPICS.alerts]: ((st, rows: AlertEvent[]) => st.insertAlertEvents(rows)) as Inserter<never>,
  [TOPICS.audit]: ((st, rows: AuditEvent[]) => st.insertAudit(rows)) as Inserter<never>,
};

export async function startSink(ctx: Context, opts: { groupId?: string } = {}): Promise<Service> {
  const { bus, store, log } = ctx;
  const sinkLog = log.child({ role: 'sink' });
  const rowsTotal = counter(ctx.metrics, 'vitals_sink_rows_total', 'Rows written to the store, by topic', ['topic']);
  const deadTotal = counter(ctx.metrics, 'vitals_sink_dead_letters_total', 'Records the store rejected, dead-lettered', ['topic']);
  const retriesTotal = counter(ctx.metrics, 'vitals_sink_retries_total', 'Store writes retried after a transient failure');
  let stopping = false;
  let storeOk = true;

  const deadLetter = async (r: BusRecord, reason: string): Promise<void> => {
    deadTotal.inc({ topic: r.topic });
    sinkLog.warn({ topic: r.topic, offset: r.offset, reason }, 'record dead-lettered');
    const entry = { v: 1, source: 'sink', topic: r.topic, offset: r.offset, reason, ts: Date.now(), payload: r.value };
    await bus.publish(TOPICS.dlq, [{ key: r.key, value: JSON.stringify(entry) }]);
  };

  /** Insert, retrying transient failures forever (while running) and bisecting on rejections. */
  const write = async (topic: string, recs: Array<{ r: BusRecord; row: unknown }>): Promise<void> => {
    const insert = INSERTERS[topic];
    if (!insert || recs.length === 0) return;
    for (let attempt = 0; ; attempt++) {
      try {
        await insert(store, recs.map((x) => x.row) as never[]);
        storeOk = true;
        rowsTotal.inc({ topic }, recs.length);
        return;
      } catch (e) {
        const err = e as Error;
        if (isTransientStoreError(err)) {
          storeOk = false;
          if (stopping) throw err; // leave it uncommitted; the next run picks it up
          retriesTotal.inc();
          if (attempt % 10 === 0) sinkLog.warn({ err: err.message, attempt }, 'store unavailable; retrying');
          await new Promise((r) => setTimeout(r, backoffDelay(attempt)));
          continue;
        }
        if (recs.length === 1) return deadLetter((recs[0] as { r: BusRecord }).r, err.message.slice(0, 200));
        const mid = recs.length >>> 1;
        await write(topic, recs.slice(0, mid));
        await write(topic, recs.slice(mid));
        return;
      }
    }
  };

  const handler = async (records: BusRecord[]): Promise<void> => {
    const byTopic = new Map<string, Array<{ r: BusRecord; row: unknown }>>();
    for (const r of records) {
      if (r.value === null) continue;
      let row: unknown;
      try {
        row = JSON.parse(r.value);
      } catch {
        await deadLetter(r, 'unparsable JSON');
        continue;
      }
      let list = byTopic.get(r.topic);
      if (!list) byTopic.set(r.topic, (list = []));
      list.push({ r, row });
    }
    for (const [topic, recs] of byTopic) await write(topic, recs);
  };

  const sub: Subscription = await bus.consume({ groupId: opts.groupId ?? sinkGroupId(ctx.config.clickhouseUrl ? ctx.config.clickhouseDatabase : null), topics: [TOPICS.samples, TOPICS.alerts, TOPICS.audit], handler });
  sinkLog.info('sink consuming');
  return {
    name: 'sink',
    async ready() {
      if (!storeOk) return { ok: false, detail: 'store unavailable; retrying' };
      const ok = await store.healthy();
      return ok ? { ok } : { ok, detail: 'store unreachable' };
    },
    async stop() {
      stopping = true;
      await sub.stop();
    },
  };
}
