/**
 * The sink role: bus -> store in batches, at-least-once. Offsets are committed by the
 * bus only after the handler resolves, i.e. after the store acknowledged the insert;
 * the store makes duplicates harmless. A store outage stops progress (the bus keeps
 * the data) and retries with backoff; a poison record is isolated by bisection and
 * dead-lettered, so one bad row never stalls the stream.
 *
 * Batching: concurrent handler calls join one pending batch (group commit), inserted once it
 * has `batchRows` records; every call resolves only after the insert holding its records did.
 * On Kafka the sink asks the bus to prefetch (ConsumeOptions.batching.prefetch): it fetches on
 * while calls are pending and commits each partition only up to its first call not resolved, so
 * a pending batch no longer holds the fetch. The batch then waits here, up to `batchWaitMs`, for
 * more records (the fetch does not wait to fill), except right after a full batch: that is a
 * backlog's tail. Without prefetch (other buses) the bus waits for each call, so the sink asks the
 * fetch to wait up to `batchWaitMs` to fill instead, and a batch closes at the end of its turn.
 * docs/storage.md, "The sink"; docs/decisions/0020, sections 13-14.
 */
import type { AlertEvent } from '../core/alerts-model.js';
import { decodeAlertEvent, decodeAudit, decodeRecord, decodeSample, decodeScore, decodeV1Object, type Decoder } from '../core/bus-messages.js';
import type { AuditEvent } from '../core/audit.js';
import { TOPICS, type BusRecord, type ConsumeOptions, type RetentionPolicy, type Store, type Subscription } from '../core/ports.js';
import type { ScoreOutput } from '../core/bus-messages.js';
import type { CanonicalSample } from '../core/vitals.js';
import type { Config } from '../platform/config.js';
import type { Context, Service } from '../platform/context.js';
import { STORE_LATENCY_BUCKETS, counter, histogram } from '../platform/metrics.js';
import { isTransientStoreError } from './retry.js';
import { retry } from '../platform/backoff.js';
import { GroupCommit } from '../platform/group-commit.js';

export const SINK_GROUP = 'vitals-sink';

/** The topics the sink writes to the store. */
export const SINK_TOPICS = [TOPICS.samples, TOPICS.backlog, TOPICS.alerts, TOPICS.audit, TOPICS.scores] as const;

/** One consumer group per target database: two sinks writing to different databases are different consumers. */
export function sinkGroupId(clickhouseDatabase: string | null): string {
  return clickhouseDatabase ? `${SINK_GROUP}.${clickhouseDatabase}` : SINK_GROUP;
}

/** The retention policy in the configuration. */
export function retentionPolicy(c: Config): RetentionPolicy {
  return {
    rawDays: c.retentionRawDays,
    rollupDays: c.retentionRollupDays,
    scoresDays: c.retentionScoresDays,
    alertsDays: c.retentionAlertsDays,
    auditDays: c.retentionAuditDays,
  };
}

/** With prefetch: a fetch returns once this much is there (~250 samples), or after PIPELINED_FETCH_WAIT_MS. */
const PIPELINED_MIN_BYTES = 64 << 10;
const PIPELINED_FETCH_WAIT_MS = 200;

type Inserter<T> = (store: Store, rows: T[]) => Promise<void>;

/** The validated decoder of each logical topic (core/bus-messages.ts). */
const DECODERS: Record<string, Decoder<unknown>> = {
  [TOPICS.samples]: decodeSample,
  [TOPICS.backlog]: decodeSample,
  [TOPICS.alerts]: decodeAlertEvent,
  [TOPICS.audit]: decodeAudit,
  [TOPICS.scores]: decodeScore,
};

const INSERTERS: Record<string, Inserter<never>> = {
  [TOPICS.samples]: ((st, rows: CanonicalSample[]) => st.insertSamples(rows)) as Inserter<never>,
  [TOPICS.backlog]: ((st, rows: CanonicalSample[]) => st.insertSamples(rows)) as Inserter<never>,
  [TOPICS.alerts]: ((st, rows: AlertEvent[]) => st.insertAlertEvents(rows)) as Inserter<never>,
  [TOPICS.audit]: ((st, rows: AuditEvent[]) => st.insertAudit(rows)) as Inserter<never>,
  [TOPICS.scores]: ((st, rows: ScoreOutput[]) => st.insertScores(rows)) as Inserter<never>,
};

export interface SinkOptions {
  groupId?: string;
  /** Which bus topic feeds which table (default: every one of {@link SINK_TOPICS}, by its own name); tests and benchmarks use their own. */
  topics?: Partial<Record<(typeof SINK_TOPICS)[number], string>>;
  /** Override config.sinkBatchRows / sinkBatchWaitMs. */
  batchRows?: number;
  batchWaitMs?: number;
  /** Partitions' batches the bus may deliver at once (default 32; 1 = strictly one at a time). */
  concurrency?: number;
  /** Retention runs at start and then every config.retentionIntervalMs; false turns it off. */
  retention?: boolean;
  /** Batches written to the store at once (default 2). */
  maxInserts?: number;
  /**
   * Records the bus may hold in calls not yet stored while it fetches on (ConsumeOptions.batching.prefetch;
   * default batchRows × (maxInserts + 2): the inserts in flight, the batch filling, the next fetch). 0: the bus
   * fetches only once every call of its last fetch was stored.
   */
  prefetch?: number;
  /** Store attempts the sink makes itself before handing a transient failure back to the bus (which retries with backoff, heartbeating). */
  inlineRetries?: number;
}

interface Rec {
  r: BusRecord;
  row: unknown;
}

export async function startSink(ctx: Context, opts: SinkOptions = {}): Promise<Service> {
  const { bus, store, log, config } = ctx;
  const sinkLog = log.child({ role: 'sink' });
  const rowsTotal = counter(ctx.metrics, 'vitals_sink_rows_total', 'Rows written to the store, by topic', ['topic']);
  const insertsTotal = counter(ctx.metrics, 'vitals_sink_inserts_total', 'Store inserts made by the sink, by topic', ['topic']);
  const deadTotal = counter(ctx.metrics, 'vitals_sink_dead_letters_total', 'Records the store rejected, dead-lettered', ['topic']);
  const retriesTotal = counter(ctx.metrics, 'vitals_sink_retries_total', 'Store writes retried after a transient failure');
  const insertSeconds = histogram(ctx.metrics, 'vitals_sink_insert_seconds', 'Store insert latency of a successful batch, by topic', STORE_LATENCY_BUCKETS, ['topic']);
  const batchRows = Math.max(1, opts.batchRows ?? config.sinkBatchRows);
  const batchWaitMs = Math.max(0, opts.batchWaitMs ?? config.sinkBatchWaitMs);
  const concurrency = Math.max(1, opts.concurrency ?? 32);
  const inlineRetries = opts.inlineRetries ?? 4;
  const maxInserts = Math.max(1, opts.maxInserts ?? 2);
  const prefetch = Math.max(0, opts.prefetch ?? batchRows * (maxInserts + 2));
  // Only the Kafka adapter prefetches (ConsumeOptions.batching.prefetch); elsewhere a waiting call still holds the bus.
  const pipelined = prefetch > 0 && bus.kind === 'kafka';
  /** When the last batch that reached batchRows started: a backlog was being drained until about then. */
  let lastFullAt = Number.NEGATIVE_INFINITY;
  // Bus topic -> the logical topic whose inserter applies (identity unless overridden).
  const topicMap = new Map<string, string>(
    opts.topics ? Object.entries(opts.topics).map(([logical, busTopic]) => [busTopic, logical]) : SINK_TOPICS.map((t) => [t, t]),
  );
  let stopping = false;
  let storeOk = true;

  const deadLetter = async (r: BusRecord, reason: string): Promise<void> => {
    deadTotal.inc({ topic: r.topic });
    // The reason is our own validation or store message: field names and codes, never values.
    sinkLog.warn({ topic: r.topic, offset: r.offset, reason }, 'record dead-lettered');
    const entry = { v: 1, source: 'sink', topic: r.topic, offset: r.offset, reason, ts: ctx.clock.now(), payload: r.value };
    await bus.publish(TOPICS.dlq, [{ key: r.key, value: JSON.stringify(entry) }]);
  };

  /**
   * Insert, bisecting on rejections. Transient failures are retried a few times here; after that
   * the error goes back to the bus, whose redelivery loop backs off and keeps the group alive.
   */
  const write = async (topic: string, recs: Rec[]): Promise<void> => {
    const insert = INSERTERS[topic];
    if (!insert || recs.length === 0) return;
    const once = async (): Promise<void> => {
      try {
        const took = insertSeconds.startTimer({ topic });
        await insert(store, recs.map((x) => x.row) as never[]);
        took();
      } catch (e) {
        if (isTransientStoreError(e)) {
          storeOk = false;
          retriesTotal.inc();
        }
        throw e;
      }
    };
    try {
      await retry(once, {
        retries: inlineRetries,
        retriable: isTransientStoreError,
        aborted: () => stopping,
        onRetry: (e, attempt) => {
          if (attempt === 0) sinkLog.warn({ err: (e as Error).message }, 'store unavailable; retrying');
        },
      });
    } catch (e) {
      if (isTransientStoreError(e)) throw e; // uncommitted: redelivered
      if (recs.length === 1) return deadLetter((recs[0] as Rec).r, (e as Error).message.slice(0, 200));
      const mid = recs.length >>> 1;
      await write(topic, recs.slice(0, mid));
      await write(topic, recs.slice(mid));
      return;
    }
    storeOk = true;
    rowsTotal.inc({ topic }, recs.length);
    insertsTotal.inc({ topic });
  };

  // Concurrent handler calls join one batch (group commit, platform/group-commit.ts). Without
  // prefetch the bus delivers no more until these calls resolve, so waiting longer only delays the
  // commit: a batch closes at the end of its turn or once it holds `batchRows` records, and a
  // waiting batch takes no later calls (they would hold its callers' acks, and with them the next
  // fetch). Up to `maxInserts` batches are written at once: while the server works on one, the
  // next is encoded and sent (rows are independent and deduplicated, so order does not matter).
  const batches = new GroupCommit<Array<[string, Rec]>>({
    bounds: [{ size: (parsed) => parsed.length, max: batchRows }],
    overflow: 'fill',
    // Without prefetch a waiting batch's callers hold the bus's next fetch, so it takes no later calls.
    fillWhileWaiting: pipelined,
    // With prefetch the fetch does not wait to fill (see `batching` below): a batch waits here, up
    // to batchWaitMs, for batchRows records. Not within batchWaitMs of a full batch: that is a
    // backlog's tail, and nothing more is coming to wait for.
    ...(pipelined && batchWaitMs > 0 ? { linger: () => (Date.now() - lastFullAt < batchWaitMs ? 0 : batchWaitMs) } : {}),
    maxInFlight: maxInserts,
    write: async (calls) => {
      let n = 0;
      for (const parsed of calls) n += parsed.length;
      if (n >= batchRows) lastFullAt = Date.now();
      const byTopic = new Map<string, Rec[]>();
      for (const parsed of calls) {
        for (const [topic, rec] of parsed) {
          let list = byTopic.get(topic);
          if (!list) byTopic.set(topic, (list = []));
          list.push(rec);
        }
      }
      for (const [topic, recs] of byTopic) await write(topic, recs);
    },
  });

  const handler = async (records: BusRecord[]): Promise<void> => {
    const parsed: Array<[string, Rec]> = [];
    const unparsable: BusRecord[] = [];
    for (const r of records) {
      if (r.value === null) continue;
      const topic = topicMap.get(r.topic);
      if (topic === undefined) continue;
      // Decoded once per process: in embedded mode this is the publisher's own object.
      const row = decodeRecord(r, DECODERS[topic] ?? decodeV1Object);
      if (row === null) unparsable.push(r);
      else parsed.push([topic, { r, row }]);
    }
    if (parsed.length > 0) await batches.add(parsed);
    // After the insert, so a batch the bus redelivers (store down) is not dead-lettered twice.
    for (const r of unparsable) await deadLetter(r, r.decoded === null ? 'unparsable JSON' : 'not a valid message of its topic');
  };

  // Retention: at start and on a timer. Idempotent, so several sinks running it is harmless.
  let retentionRun: Promise<void> = Promise.resolve();
  const runRetention = (): void => {
    retentionRun = retentionRun.then(async () => {
      try {
        const r = await store.dropExpired(ctx.clock.now(), retentionPolicy(config));
        if (Object.keys(r.dropped).length > 0) sinkLog.info({ dropped: r.dropped }, 'retention applied');
      } catch (e) {
        sinkLog.warn({ err: (e as Error).message }, 'retention run failed; will retry at the next interval');
      }
    });
  };
  let retentionTimer: NodeJS.Timeout | null = null;
  if (opts.retention !== false) {
    runRetention();
    retentionTimer = setInterval(runRetention, config.retentionIntervalMs);
    retentionTimer.unref();
  }

  const batching: ConsumeOptions['batching'] =
    batchWaitMs > 0 || concurrency > 1
      ? {
          ...(batchWaitMs > 0
            ? pipelined
              ? // The batch fills in the sink (linger above); a fetch returns once a little is there, and a
                // backlog's last small remainder waits at most FETCH_WAIT_MS, not batchWaitMs.
                { minBytes: PIPELINED_MIN_BYTES, maxWaitMs: Math.min(batchWaitMs, PIPELINED_FETCH_WAIT_MS) }
              : // Roughly batchRows records of ~200 bytes, below the Kafka fetch's 10 MB default ceiling.
                { minBytes: Math.min(batchRows * 200, 8 << 20), maxWaitMs: batchWaitMs }
            : {}),
          concurrency,
          ...(prefetch > 0 ? { prefetch } : {}),
        }
      : undefined;
  const sub: Subscription = await bus.consume({
    groupId: opts.groupId ?? sinkGroupId(config.clickhouseUrl ? config.clickhouseDatabase : null),
    topics: [...topicMap.keys()],
    handler,
    ...(batching ? { batching } : {}),
  });
  sinkLog.info({ batchRows, batchWaitMs, concurrency, prefetch }, 'sink consuming');
  return {
    name: 'sink',
    async ready() {
      if (!storeOk) return { ok: false, detail: 'store unavailable; retrying' };
      const ok = await store.healthy();
      return ok ? { ok } : { ok, detail: 'store unreachable' };
    },
    async stop() {
      stopping = true;
      if (retentionTimer) clearInterval(retentionTimer);
      await sub.stop();
      await batches.idle();
      await retentionRun;
    },
  };
}
