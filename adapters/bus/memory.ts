/**
 * The embedded bus: an in-process log per topic with consumer groups, tails and
 * optional file durability. It is what `vitals start` runs on, so the hot path
 * (publish -> handler) stays at object pushes: values are passed through as the
 * strings they arrived as, never re-serialised.
 *
 * Semantics (see docs/decisions/0005-bus-adapters.md):
 * - One partition per topic (partition 0), whatever TopicSpec.partitions says: per-key
 *   order is then total order. Partitions exist to spread load across processes.
 * - One active member per consumer group: a second `consume` with a groupId that is
 *   active throws VTL_ERR_CONFLICT (a bug in one process, not a rebalance).
 * - Records become visible to readers only once durable (appended to the segment file
 *   when `dataDir` is set), the way Kafka only serves up to the high watermark.
 * - Retention is by record count and record timestamp, but never removes a record that a
 *   required reader has not read: consumer groups (active, or inactive for less than
 *   `inactiveGroupHoldMs`) and tails opened with `required: true`. Their lag is bounded by
 *   flow control at ingest instead (docs/decisions/0012-flow-control.md). Only optional tails
 *   (live views) can fall behind the log start; they skip ahead to it (logged).
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { VitalsError } from '../../core/errors.js';
import {
  TOPICS,
  type BatchHandler,
  type Bus,
  type BusRecord,
  type ConsumeOptions,
  type ConsumerLag,
  type OutgoingRecord,
  type Subscription,
  type TailOptions,
  type TailStart,
  type TopicSpec,
} from '../../core/ports.js';
import type { Logger } from '../../platform/log.js';

/** Bounds on what a topic keeps, in memory and on disk. */
export interface RetentionLimits {
  /** Keep at most this many records (trimmed in chunks, so briefly up to ~10% more). */
  maxRecords?: number;
  /** Drop records whose timestamp is older than this. */
  maxAgeMs?: number;
}

/** Options of {@link createMemoryBus}. */
export interface MemoryBusOptions {
  /** Directory for segment files (`<dataDir>/bus/<topic>/`); null or absent: memory only. */
  dataDir?: string | null;
  log?: Logger;
  /**
   * Precedence: `topics[name]` > TopicSpec.retentionMs (age) > `defaults` > built-in
   * (250 000 records for vitals.samples, 100 000 otherwise; 24 h). Compacted topics are
   * bounded by their key count instead.
   */
  retention?: { defaults?: RetentionLimits; topics?: Readonly<Record<string, RetentionLimits>> };
  /** Roll to a new segment file after this many bytes (default 8 MiB). */
  segmentBytes?: number;
  /** fsync each append before `publish` resolves (default false: survives a process crash, not power loss). */
  fsync?: boolean;
  /** Max records per handler call (default 500). */
  maxBatchSize?: number;
  /** Handler retry backoff (default 100 ms doubling to 5 s). */
  retryBackoffMs?: { initial: number; max: number };
  /** How often age retention runs (default 10 s). */
  retentionIntervalMs?: number;
  /** Tombstones older than this are dropped when a compacted topic is reloaded (default 24 h). */
  tombstoneRetentionMs?: number;
  /** How long close() waits for in-flight handlers before giving up on them (default 10 s). */
  closeTimeoutMs?: number;
  /**
   * How long a consumer group with committed offsets but no active member still holds retention
   * (default 15 min): long enough for a restarting sink to re-attach, short enough that a group
   * nobody runs any more cannot pin the log forever.
   */
  inactiveGroupHoldMs?: number;
}

/** Counters for tests and metrics. */
export interface MemoryBusStats {
  /** Segment append calls made (one per topic per flush, however many records). */
  appendWrites: number;
  topics: Record<string, { records: number; firstOffset: number; nextOffset: number; segments: number }>;
}

/** The embedded bus, plus introspection the port does not need. */
export interface MemoryBus extends Bus {
  readonly kind: 'memory';
  stats(): MemoryBusStats;
  /** Apply age and count retention now (it also runs on a timer). */
  runRetention(): Promise<void>;
}

const HOUR = 3_600_000;
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const SEGMENT_MAGIC = 'VSB1';
const OFFSETS_FILE = '_group-offsets.json';

interface Segment {
  file: string;
  /** Next offset when the segment was created; orders segments and restores `next` when it is empty. */
  base: number;
  lastOffset: number;
  bytes: number;
}

interface PendingPublish {
  records: OutgoingRecord[];
  timestamps: number[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

function busError(code: 'VTL_ERR_BUS_UNAVAILABLE' | 'VTL_ERR_NOT_FOUND' | 'VTL_ERR_BAD_REQUEST' | 'VTL_ERR_CONFLICT', detail: string, cause?: unknown): VitalsError {
  return new VitalsError(code, detail, cause === undefined ? undefined : { cause });
}

/** Error text for logs: name and message only; handler errors are the handler's to keep free of PHI. */
function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : typeof e;
}

/** Length-prefixed record: `offset ts keyLen valueLen\n key value \n` (lengths in UTF-16 units; -1 = tombstone). */
function encodeRecord(r: BusRecord, off: number): string {
  const v = r.value;
  return `${off} ${r.timestamp} ${r.key.length} ${v === null ? -1 : v.length}\n${r.key}${v ?? ''}\n`;
}

function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`;
}

/** One topic's log (single partition) plus, when durable, its segment files. */
class TopicLog {
  readonly records: BusRecord[] = [];
  /** Numeric offsets parallel to `records`; gaps appear after compaction. */
  readonly offs: number[] = [];
  /** Next offset to assign; every offset below it is appended (the high watermark). */
  next = 0;
  readonly waiters = new Set<() => void>();
  /** compacted topics: key -> offset of its latest record */
  readonly latest = new Map<string, number>();
  segments: Segment[] = [];
  handle: FileHandle | null = null;
  pending: PendingPublish[] = [];
  flushScheduled = false;
  /** The write chain: flushes and segment deletions run one at a time. */
  io: Promise<void> = Promise.resolve();
  skippedWarned = false;

  constructor(
    readonly spec: TopicSpec,
    readonly dir: string | null,
    readonly maxRecords: number,
    readonly maxAgeMs: number,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get compacted(): boolean {
    return this.spec.compacted === true;
  }

  /** Index of the first record with offset >= off (records.length if none). */
  indexOf(off: number): number {
    const offs = this.offs;
    const first = offs[0];
    if (first === undefined) return 0;
    const guess = off - first;
    if (guess <= 0) return 0;
    if (guess < offs.length && offs[guess] === off) return guess;
    let lo = 0;
    let hi = offs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((offs[mid] as number) < off) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Queue work on the write chain; a failure is logged and does not block what follows. */
  chain(fn: () => Promise<void>, log: Logger | undefined): Promise<void> {
    this.io = this.io.then(fn).catch((e: unknown) => log?.error({ topic: this.name, error: errorText(e) }, 'bus file operation failed'));
    return this.io;
  }

  append(r: BusRecord, off: number): void {
    this.records.push(r);
    this.offs.push(off);
    if (this.compacted) this.latest.set(r.key, off);
  }

  notify(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Drop the first n records from memory. */
  dropHead(n: number): void {
    if (n <= 0) return;
    this.records.splice(0, n);
    this.offs.splice(0, n);
  }

  /**
   * Count retention with slack, so steady appends cost an amortised O(1) splice.
   * @param floor - lowest offset a required reader has not read: nothing at or after it is dropped
   */
  trimCount(floor: number, withSlack = true): boolean {
    if (this.compacted) return this.compactIfSparse();
    const slack = withSlack ? Math.max(1024, Math.floor(this.maxRecords / 10)) : 0;
    if (this.records.length <= this.maxRecords + slack) return false;
    const n = Math.min(this.records.length - this.maxRecords, this.indexOf(floor));
    this.dropHead(n);
    return n > 0;
  }

  /** Age retention; `floor` as in {@link trimCount}. */
  trimAge(now: number, floor: number): boolean {
    if (this.compacted) return false;
    const cutoff = now - this.maxAgeMs;
    const limit = Math.min(this.records.length, this.indexOf(floor));
    let n = 0;
    while (n < limit && (this.records[n] as BusRecord).timestamp < cutoff) n++;
    this.dropHead(n);
    return n > 0;
  }

  /** Keep only the latest record per key once superseded ones dominate. */
  compactIfSparse(): boolean {
    if (this.records.length <= 2 * this.latest.size + 1024) return false;
    this.compactNow(null);
    return true;
  }

  /** Keep the latest record per key; drop tombstones older than `tombstoneCutoff` (when given). */
  compactNow(tombstoneCutoff: number | null): void {
    const keepR: BusRecord[] = [];
    const keepO: number[] = [];
    for (let i = 0; i < this.records.length; i++) {
      const r = this.records[i] as BusRecord;
      const off = this.offs[i] as number;
      if (this.latest.get(r.key) !== off) continue;
      if (r.value === null && tombstoneCutoff !== null && r.timestamp < tombstoneCutoff) {
        this.latest.delete(r.key);
        continue;
      }
      keepR.push(r);
      keepO.push(off);
    }
    this.records.length = 0;
    this.offs.length = 0;
    this.records.push(...keepR);
    this.offs.push(...keepO);
  }
}

/** A group consumer or a tail: reads its topics in order, one awaited batch at a time. */
/** The offset a reader starting at `from` reads first. */
function startPosition(t: TopicLog, from: TailStart): number {
  if (from === 'earliest') return t.offs[0] ?? t.next;
  if (from === 'latest') return t.next;
  // Record timestamps need not be monotonic: the first record at or after the time, by offset.
  const i = t.records.findIndex((r) => r.timestamp >= from.timestamp);
  return i < 0 ? t.next : (t.offs[i] as number);
}

class Reader implements Subscription {
  readonly caughtUp: Promise<void>;
  private resolveCaughtUp!: () => void;
  private rejectCaughtUp!: (e: unknown) => void;
  private caughtUpSettled = false;
  private stopped = false;
  private wake: (() => void) | null = null;
  private sleepTimer: NodeJS.Timeout | null = null;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly bus: MemoryBusImpl,
    /** Next offset to read, per topic; retention reads it to spare what a required reader still needs. */
    readonly positions: Map<TopicLog, number>,
    private readonly targets: Map<TopicLog, number>,
    private readonly handler: BatchHandler,
    readonly groupId: string | null,
    private readonly onStop: () => void,
    /** Once idle, wait this long after new data arrives so it is delivered in one batch (ConsumeOptions.batching.maxWaitMs). */
    private readonly lingerMs = 0,
    /** Retention spares what it has not read; its lag counts for flow control. */
    readonly required = groupId !== null,
    /** Label in lag reports. */
    readonly name: string | null = groupId,
  ) {
    this.caughtUp = new Promise<void>((res, rej) => {
      this.resolveCaughtUp = res;
      this.rejectCaughtUp = rej;
    });
    // A caller that never awaits caughtUp must not get an unhandled rejection on stop.
    this.caughtUp.catch(() => undefined);
  }

  start(): void {
    this.checkCaughtUp();
    this.loop = this.run().catch((e: unknown) => {
      // Only a bug can get here (the handler's errors are retried): keep the process alive.
      this.bus.log?.error({ groupId: this.groupId, error: errorText(e) }, 'bus reader stopped on an internal error');
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp();
    await this.loop;
    if (!this.caughtUpSettled) {
      this.caughtUpSettled = true;
      this.rejectCaughtUp(busError('VTL_ERR_BUS_UNAVAILABLE', 'subscription stopped before it caught up'));
    }
    this.onStop();
  }

  private wakeUp(): void {
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.sleepTimer = null;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private checkCaughtUp(): void {
    if (this.caughtUpSettled) return;
    for (const [t, target] of this.targets) {
      if ((this.positions.get(t) ?? 0) < target) return;
    }
    this.caughtUpSettled = true;
    this.resolveCaughtUp();
  }

  private async run(): Promise<void> {
    const max = this.bus.maxBatchSize;
    while (!this.stopped) {
      let delivered = false;
      for (const [t, pos] of this.positions) {
        if (this.stopped) break;
        const idx = t.indexOf(pos);
        const firstOff = t.offs[idx];
        if (firstOff === undefined) {
          // Nothing at or after pos; if retention emptied the log, the next record is t.next.
          if (pos < t.next) this.positions.set(t, t.next);
          continue;
        }
        if (idx === 0 && firstOff > pos && !t.compacted) this.warnSkipped(t, firstOff - pos);
        const batch = t.records.slice(idx, idx + max);
        const ok = await this.deliver(t, batch);
        if (!ok) break;
        // From the batch, not an index: retention may have spliced the log while the handler ran.
        const nextPos = Number((batch[batch.length - 1] as BusRecord).offset) + 1;
        this.positions.set(t, nextPos);
        if (this.groupId !== null) this.bus.commit(this.groupId, t.name, nextPos);
        delivered = true;
        this.checkCaughtUp();
        // Yield to I/O between batches so a large backlog cannot starve the event loop.
        await new Promise<void>((res) => setImmediate(res));
      }
      this.checkCaughtUp();
      if (!delivered && !this.stopped) {
        await this.waitForData();
        // A trickle (200 samples/s) would otherwise reach the handler one record at a time:
        // each store insert has a fixed cost, so let a batch fill, as Kafka's fetch.max.wait does.
        if (this.lingerMs > 0 && !this.stopped) await this.pause(this.lingerMs);
      }
    }
  }

  /** Sleep that stop() cuts short. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((res) => {
      this.wake = res;
      this.sleepTimer = setTimeout(() => {
        this.wake = null;
        res();
      }, ms);
    });
  }

  /** Only optional readers (live views) can get here: retention spares what required readers have not read. */
  private warnSkipped(t: TopicLog, n: number): void {
    if (this.required) {
      // A bug in retention, not an operating condition: say so loudly.
      this.bus.log?.error({ topic: t.name, consumer: this.name, skipped: n }, 'required reader found records removed before it read them');
      return;
    }
    if (t.skippedWarned) return;
    t.skippedWarned = true;
    this.bus.log?.warn({ topic: t.name, consumer: this.name, skipped: n }, 'optional reader was behind the log start; skipped ahead');
  }

  private waitForData(): Promise<void> {
    return new Promise<void>((res) => {
      let done = false;
      const w = (): void => {
        if (done) return;
        done = true;
        for (const t of this.positions.keys()) t.waiters.delete(w);
        res();
      };
      this.wake = w;
      for (const [t, pos] of this.positions) {
        if (pos < t.next) return w(); // appended between the scan and now
        t.waiters.add(w);
      }
    });
  }

  /** Hand a batch to the handler until it succeeds; false if stopped before it did. */
  private async deliver(t: TopicLog, batch: BusRecord[]): Promise<boolean> {
    const { initial, max } = this.bus.backoff;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.handler(batch);
        return true;
      } catch (e) {
        const delay = Math.min(max, initial * 2 ** Math.min(attempt - 1, 20));
        // Offsets and counts only: records carry patient data.
        this.bus.log?.warn(
          {
            topic: t.name,
            groupId: this.groupId,
            firstOffset: batch[0]?.offset,
            lastOffset: batch[batch.length - 1]?.offset,
            count: batch.length,
            attempt,
            retryInMs: delay,
            error: errorText(e),
          },
          'bus handler failed; retrying the batch',
        );
        if (this.stopped) return false;
        await new Promise<void>((res) => {
          this.wake = res;
          this.sleepTimer = setTimeout(res, delay);
        });
        this.wake = null;
        if (this.stopped) return false;
      }
    }
  }
}

class MemoryBusImpl implements MemoryBus {
  readonly kind = 'memory' as const;
  readonly topics = new Map<string, TopicLog>();
  /** groupId -> topic -> next offset to read */
  readonly groups = new Map<string, Map<string, number>>();
  readonly activeGroups = new Set<string>();
  readonly readers = new Set<Reader>();
  readonly maxBatchSize: number;
  readonly backoff: { initial: number; max: number };
  appendWrites = 0;
  /** groupId -> when it last had an active member or committed (epoch ms); bounds how long an idle group holds retention. */
  private readonly groupSeen = new Map<string, number>();
  private closed = false;
  private writeError: unknown = null;
  private offsetsDirty = false;
  private offsetsTimer: NodeJS.Timeout | null = null;
  private offsetsWrite: Promise<void> = Promise.resolve();
  private retentionTimer: NodeJS.Timeout | null = null;
  private readonly busDir: string | null;

  constructor(
    private readonly opts: MemoryBusOptions,
    readonly log: Logger | undefined,
  ) {
    this.busDir = opts.dataDir ? path.join(opts.dataDir, 'bus') : null;
    this.maxBatchSize = opts.maxBatchSize ?? 500;
    this.backoff = opts.retryBackoffMs ?? { initial: 100, max: 5000 };
  }

  async open(): Promise<void> {
    if (this.busDir) {
      await fsp.mkdir(this.busDir, { recursive: true });
      await this.loadOffsets();
      for (const ent of await fsp.readdir(this.busDir, { withFileTypes: true })) {
        if (ent.isDirectory() && TOPIC_NAME.test(ent.name)) await this.loadTopic(ent.name);
      }
    }
    this.retentionTimer = setInterval(() => void this.runRetention(), this.opts.retentionIntervalMs ?? 10_000);
    this.retentionTimer.unref();
  }

  private limitsFor(spec: TopicSpec): { maxRecords: number; maxAgeMs: number } {
    const own = this.opts.retention?.topics?.[spec.name];
    const defs = this.opts.retention?.defaults;
    return {
      maxRecords: own?.maxRecords ?? defs?.maxRecords ?? (spec.name === TOPICS.samples ? 250_000 : 100_000),
      maxAgeMs: own?.maxAgeMs ?? spec.retentionMs ?? defs?.maxAgeMs ?? 24 * HOUR,
    };
  }

  private newTopic(spec: TopicSpec): TopicLog {
    const { maxRecords, maxAgeMs } = this.limitsFor(spec);
    const t = new TopicLog(spec, this.busDir ? path.join(this.busDir, spec.name) : null, maxRecords, maxAgeMs);
    this.topics.set(spec.name, t);
    return t;
  }

  private topic(name: string): TopicLog {
    const t = this.topics.get(name);
    if (!t) throw busError('VTL_ERR_NOT_FOUND', `unknown topic "${name}" (call ensureTopics first)`);
    return t;
  }

  private assertOpen(): void {
    if (this.closed) throw busError('VTL_ERR_BUS_UNAVAILABLE', 'bus is closed');
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    this.assertOpen();
    const created: Promise<void>[] = [];
    for (const spec of specs) {
      if (!TOPIC_NAME.test(spec.name)) throw busError('VTL_ERR_BAD_REQUEST', `invalid topic name "${spec.name}"`);
      if (this.topics.has(spec.name)) continue;
      const t = this.newTopic({ ...spec });
      const dir = t.dir;
      if (dir) {
        const ready = (async () => {
          await fsp.mkdir(dir, { recursive: true });
          await fsp.writeFile(path.join(dir, 'topic.json'), JSON.stringify(spec));
        })();
        // On the topic's write chain, so a publish right after cannot outrun the directory.
        t.io = ready.catch(() => undefined);
        created.push(
          ready.catch((e: unknown) => {
            this.topics.delete(spec.name);
            throw busError('VTL_ERR_BUS_UNAVAILABLE', `could not create topic "${spec.name}" on disk`, e);
          }),
        );
      }
    }
    await Promise.all(created);
  }

  publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    try {
      this.assertOpen();
      const t = this.topic(topic);
      const now = Date.now();
      const timestamps: number[] = new Array<number>(records.length);
      for (let i = 0; i < records.length; i++) {
        const r = records[i] as OutgoingRecord;
        if (typeof r.key !== 'string' || (r.value !== null && typeof r.value !== 'string')) {
          throw busError('VTL_ERR_BAD_REQUEST', `record ${i} for "${topic}": key must be a string and value a string or null`);
        }
        if (r.timestamp !== undefined && !Number.isFinite(r.timestamp)) {
          throw busError('VTL_ERR_BAD_REQUEST', `record ${i} for "${topic}": timestamp must be a finite number`);
        }
        timestamps[i] = r.timestamp ?? now;
      }
      if (records.length === 0) return Promise.resolve();
      if (!t.dir) {
        this.appendRecords(t, records, timestamps);
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        t.pending.push({ records, timestamps, resolve, reject });
        this.scheduleFlush(t);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private appendRecords(t: TopicLog, records: OutgoingRecord[], timestamps: number[]): BusRecord[] {
    const out: BusRecord[] = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as OutgoingRecord;
      const off = t.next++;
      const rec: BusRecord = { topic: t.name, partition: 0, offset: String(off), key: r.key, value: r.value, timestamp: timestamps[i] as number };
      if (r.decoded !== undefined) rec.decoded = r.decoded;
      t.append(rec, off);
      out.push(rec);
    }
    if (t.trimCount(this.retentionFloor(t))) this.scheduleSegmentCleanup(t);
    t.notify();
    return out;
  }

  private scheduleFlush(t: TopicLog): void {
    if (t.flushScheduled) return;
    t.flushScheduled = true;
    // setImmediate, not a microtask: every publish made in this turn of the loop joins the write.
    setImmediate(() => {
      void t.chain(() => this.flush(t), this.log);
    });
  }

  /** Append everything pending for a topic with one write, then make it visible. */
  private async flush(t: TopicLog): Promise<void> {
    t.flushScheduled = false;
    const batch = t.pending;
    if (batch.length === 0) return;
    t.pending = [];
    let off = t.next;
    const built: BusRecord[] = [];
    let text = '';
    for (const p of batch) {
      for (let i = 0; i < p.records.length; i++) {
        const r = p.records[i] as OutgoingRecord;
        const rec: BusRecord = { topic: t.name, partition: 0, offset: String(off), key: r.key, value: r.value, timestamp: p.timestamps[i] as number };
        // In-process readers get the publisher's object: no parse per reader (core/bus-messages.ts).
        if (r.decoded !== undefined) rec.decoded = r.decoded;
        text += encodeRecord(rec, off);
        built.push(rec);
        off++;
      }
    }
    let seg: Segment | undefined;
    let sizeBefore = 0;
    try {
      seg = await this.activeSegment(t);
      sizeBefore = seg.bytes;
      const handle = t.handle as FileHandle;
      this.appendWrites++;
      await handle.appendFile(text);
      if (this.opts.fsync) await handle.datasync();
      seg.bytes += Buffer.byteLength(text);
      seg.lastOffset = off - 1;
      this.writeError = null;
    } catch (e) {
      this.writeError = e;
      // A torn append would corrupt the next one: cut the file back to the last whole record.
      if (seg && t.handle) await t.handle.truncate(sizeBefore).catch(() => undefined);
      this.log?.error({ topic: t.name, count: built.length, error: errorText(e) }, 'bus segment append failed');
      const err = busError('VTL_ERR_BUS_UNAVAILABLE', `append to "${t.name}" failed`, e);
      for (const p of batch) p.reject(err);
      return;
    }
    for (let i = 0; i < built.length; i++) t.append(built[i] as BusRecord, t.next + i);
    t.next = off;
    if (t.trimCount(this.retentionFloor(t))) this.scheduleSegmentCleanup(t);
    t.notify();
    for (const p of batch) p.resolve();
  }

  /** The segment appends go to, rolling to a new file past segmentBytes. */
  private async activeSegment(t: TopicLog): Promise<Segment> {
    const dir = t.dir as string;
    let seg = t.segments[t.segments.length - 1];
    if (seg && t.handle && seg.bytes < (this.opts.segmentBytes ?? 8 * 1024 * 1024)) return seg;
    if (seg && t.handle) {
      await t.handle.close();
      t.handle = null;
    }
    if (!seg || seg.bytes >= (this.opts.segmentBytes ?? 8 * 1024 * 1024)) {
      const header = `${SEGMENT_MAGIC} ${t.next}\n`;
      seg = { file: path.join(dir, segmentName(t.next)), base: t.next, lastOffset: t.next - 1, bytes: Buffer.byteLength(header) };
      await fsp.writeFile(seg.file, header, { flag: 'wx' });
      t.segments.push(seg);
      this.scheduleSegmentCleanup(t);
    }
    t.handle = await fsp.open(seg.file, 'a');
    return seg;
  }

  /** Delete segment files holding only records that retention already dropped (never the active one). */
  private scheduleSegmentCleanup(t: TopicLog): void {
    if (!t.dir || t.compacted) return;
    void t.chain(async () => {
      const firstKept = t.offs[0] ?? t.next;
      while (t.segments.length > 1 && (t.segments[0] as Segment).lastOffset < firstKept) {
        const seg = t.segments.shift() as Segment;
        await fsp.unlink(seg.file).catch((e: unknown) => this.log?.warn({ topic: t.name, error: errorText(e) }, 'could not delete a bus segment'));
      }
    }, this.log);
  }

  /**
   * The lowest offset of `t` that a required reader has not read (Infinity if none): active
   * required readers' positions and the committed offsets of groups seen recently enough.
   */
  retentionFloor(t: TopicLog): number {
    let floor = Infinity;
    for (const r of this.readers) {
      if (!r.required) continue;
      const pos = r.positions.get(t);
      if (pos !== undefined && pos < floor) floor = pos;
    }
    const holdMs = this.opts.inactiveGroupHoldMs ?? 15 * 60_000;
    const now = Date.now();
    for (const [g, offsets] of this.groups) {
      const c = offsets.get(t.name);
      if (c === undefined || c >= floor) continue;
      if (!this.activeGroups.has(g) && now - (this.groupSeen.get(g) ?? 0) > holdMs) continue;
      floor = c;
    }
    return floor;
  }

  async lag(): Promise<ConsumerLag[]> {
    const out: ConsumerLag[] = [];
    for (const r of this.readers) {
      if (r.name === null) continue;
      for (const [t, pos] of r.positions) out.push({ consumer: r.name, topic: t.name, lag: Math.max(0, t.next - pos), required: r.required });
    }
    const holdMs = this.opts.inactiveGroupHoldMs ?? 15 * 60_000;
    const now = Date.now();
    for (const [g, offsets] of this.groups) {
      // Idle groups still holding retention: their lag is real work waiting for them.
      if (this.activeGroups.has(g) || now - (this.groupSeen.get(g) ?? 0) > holdMs) continue;
      for (const [topic, c] of offsets) {
        const t = this.topics.get(topic);
        if (t) out.push({ consumer: g, topic, lag: Math.max(0, t.next - c), required: true });
      }
    }
    return out;
  }

  async runRetention(): Promise<void> {
    const now = Date.now();
    for (const t of this.topics.values()) {
      const floor = this.retentionFloor(t);
      const a = t.trimAge(now, floor);
      const b = t.trimCount(floor, false);
      if (a || b) this.scheduleSegmentCleanup(t);
    }
    await Promise.all([...this.topics.values()].map((t) => t.io));
  }

  // ------------------------------------------------------------ reading

  async consume(opts: ConsumeOptions): Promise<Subscription> {
    this.assertOpen();
    const logs = opts.topics.map((n) => this.topic(n));
    if (this.activeGroups.has(opts.groupId)) {
      throw busError('VTL_ERR_CONFLICT', `consumer group "${opts.groupId}" already has an active member in this process`);
    }
    // One partition per topic: a partition-owning consumer owns partition 0, rebuilt before it reads
    // (docs/decisions/0018), and starts where its owner chose; its commits only report progress.
    const chosen = opts.partitioned ? await opts.partitioned.onAssigned([0]) : null;
    // Checked again: another member may have joined while the owner rebuilt.
    if (this.activeGroups.has(opts.groupId)) {
      throw busError('VTL_ERR_CONFLICT', `consumer group "${opts.groupId}" already has an active member in this process`);
    }
    const committed = this.groups.get(opts.groupId);
    const positions = new Map<TopicLog, number>();
    const targets = new Map<TopicLog, number>();
    for (const t of logs) {
      if (chosen !== null) {
        positions.set(t, startPosition(t, chosen));
        targets.set(t, t.next);
        continue;
      }
      let c = committed?.get(t.name);
      if (c !== undefined && c > t.next) {
        // The log is behind the group (its data was deleted): reset like Kafka's OffsetOutOfRange.
        this.log?.warn({ topic: t.name, groupId: opts.groupId }, 'committed offset beyond the log end; resetting');
        c = undefined;
      }
      positions.set(t, c ?? (opts.fromBeginning === false ? t.next : (t.offs[0] ?? t.next)));
      targets.set(t, t.next);
    }
    this.activeGroups.add(opts.groupId);
    this.groupSeen.set(opts.groupId, Date.now());
    const linger = Math.min(opts.batching?.maxWaitMs ?? 0, 5000);
    const reader: Reader = new Reader(
      this,
      positions,
      targets,
      opts.handler,
      opts.groupId,
      () => {
        this.activeGroups.delete(opts.groupId);
        this.groupSeen.set(opts.groupId, Date.now());
        this.readers.delete(reader);
      },
      linger,
    );
    this.readers.add(reader);
    reader.start();
    return reader;
  }

  async tail(opts: TailOptions): Promise<Subscription> {
    this.assertOpen();
    const logs = opts.topics.map((n) => this.topic(n));
    const positions = new Map<TopicLog, number>();
    const targets = new Map<TopicLog, number>();
    for (const t of logs) {
      positions.set(t, startPosition(t, opts.from));
      targets.set(t, t.next);
    }
    const reader: Reader = new Reader(this, positions, targets, opts.handler, null, () => this.readers.delete(reader), 0, opts.required === true, opts.name ?? null);
    this.readers.add(reader);
    reader.start();
    return reader;
  }

  commit(groupId: string, topic: string, next: number): void {
    let g = this.groups.get(groupId);
    if (!g) this.groups.set(groupId, (g = new Map()));
    g.set(topic, next);
    if (!this.busDir) return;
    this.offsetsDirty = true;
    // Coalesce commits: a crash may redeliver up to this window (at-least-once).
    if (!this.offsetsTimer) {
      this.offsetsTimer = setTimeout(() => {
        this.offsetsTimer = null;
        void this.writeOffsets();
      }, 50);
    }
  }

  private writeOffsets(): Promise<void> {
    this.offsetsWrite = this.offsetsWrite.then(async () => {
      if (!this.offsetsDirty || !this.busDir) return;
      this.offsetsDirty = false;
      const obj: Record<string, Record<string, number>> = {};
      for (const [g, m] of this.groups) obj[g] = Object.fromEntries(m);
      const file = path.join(this.busDir, OFFSETS_FILE);
      try {
        await fsp.writeFile(`${file}.tmp`, JSON.stringify(obj));
        await fsp.rename(`${file}.tmp`, file);
      } catch (e) {
        this.offsetsDirty = true;
        this.log?.error({ error: errorText(e) }, 'could not persist consumer group offsets');
      }
    });
    return this.offsetsWrite;
  }

  // ------------------------------------------------------------ lifecycle

  async healthy(): Promise<boolean> {
    return !this.closed && this.writeError === null;
  }

  stats(): MemoryBusStats {
    const topics: MemoryBusStats['topics'] = {};
    for (const t of this.topics.values()) {
      topics[t.name] = { records: t.records.length, firstOffset: t.offs[0] ?? t.next, nextOffset: t.next, segments: t.segments.length };
    }
    return { appendWrites: this.appendWrites, topics };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    // A handler that never resolves must not hang shutdown: give readers a deadline.
    const deadline = this.opts.closeTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), deadline)));
    const outcome = await Promise.race([Promise.all([...this.readers].map((r) => r.stop())), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.log?.warn({ readers: this.readers.size, timeoutMs: deadline }, 'bus close: handlers still running; not waiting for them');
    for (const t of this.topics.values()) {
      // Pending publishes were accepted before close: write them.
      while (t.pending.length > 0 || t.flushScheduled) {
        await t.chain(() => this.flush(t), this.log);
      }
      await t.io;
      await t.handle?.close().catch(() => undefined);
      t.handle = null;
    }
    if (this.offsetsTimer) clearTimeout(this.offsetsTimer);
    this.offsetsTimer = null;
    await this.writeOffsets();
  }

  // ------------------------------------------------------------ reload

  private async loadOffsets(): Promise<void> {
    const file = path.join(this.busDir as string, OFFSETS_FILE);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch {
      return;
    }
    const obj = JSON.parse(text) as Record<string, Record<string, number>>;
    const now = Date.now();
    for (const [g, m] of Object.entries(obj)) {
      this.groups.set(g, new Map(Object.entries(m)));
      // A group from before the restart holds retention for a while, so its consumer can re-attach.
      this.groupSeen.set(g, now);
    }
  }

  private async loadTopic(name: string): Promise<void> {
    const dir = path.join(this.busDir as string, name);
    let spec: TopicSpec;
    try {
      spec = JSON.parse(await fsp.readFile(path.join(dir, 'topic.json'), 'utf8')) as TopicSpec;
    } catch {
      this.log?.warn({ topic: name }, 'bus topic directory without topic.json; ignored');
      return;
    }
    const t = this.newTopic(spec);
    const files = (await fsp.readdir(dir)).filter((f) => f.endsWith('.seg')).sort();
    for (const f of files) {
      const seg = await this.loadSegment(t, path.join(dir, f));
      if (seg) t.segments.push(seg);
    }
    const now = Date.now();
    if (t.compacted) {
      t.compactNow(now - (this.opts.tombstoneRetentionMs ?? 24 * HOUR));
      if (t.segments.length > 1) await this.rewriteCompacted(t);
    } else {
      const floor = this.retentionFloor(t);
      t.trimAge(now, floor);
      t.trimCount(floor, false);
      this.scheduleSegmentCleanup(t);
      await t.io;
    }
  }

  /** Parse one segment; a torn tail (crash mid-append) is cut off the file. */
  private async loadSegment(t: TopicLog, file: string): Promise<Segment | null> {
    const text = await fsp.readFile(file, 'utf8');
    const nl = text.indexOf('\n');
    const head = nl < 0 ? [] : text.slice(0, nl).split(' ');
    if (head[0] !== SEGMENT_MAGIC || !Number.isSafeInteger(Number(head[1]))) {
      this.log?.warn({ topic: t.name, file: path.basename(file) }, 'not a bus segment; ignored');
      return null;
    }
    const base = Number(head[1]);
    t.next = Math.max(t.next, base);
    let lastLoaded = t.offs.length > 0 ? (t.offs[t.offs.length - 1] as number) : -1;
    let pos = nl + 1;
    let lastOffset = base - 1;
    while (pos < text.length) {
      const eol = text.indexOf('\n', pos);
      if (eol < 0) break;
      const h = text.slice(pos, eol).split(' ');
      const off = Number(h[0]);
      const ts = Number(h[1]);
      const kl = Number(h[2]);
      const vl = Number(h[3]);
      const end = eol + 1 + kl + Math.max(vl, 0);
      if (h.length !== 4 || !Number.isSafeInteger(off) || !Number.isFinite(ts) || !(kl >= 0) || !(vl >= -1) || text[end] !== '\n') break;
      const key = text.slice(eol + 1, eol + 1 + kl);
      const value = vl < 0 ? null : text.slice(eol + 1 + kl, end);
      pos = end + 1;
      // After an interrupted compaction rewrite, records can repeat: keep the first copy.
      if (off <= lastLoaded) continue;
      t.append({ topic: t.name, partition: 0, offset: String(off), key, value, timestamp: ts }, off);
      t.next = Math.max(t.next, off + 1);
      lastLoaded = off;
      lastOffset = off;
    }
    const bytes = Buffer.byteLength(text.slice(0, pos));
    if (pos < text.length) {
      this.log?.warn({ topic: t.name, file: path.basename(file), droppedBytes: Buffer.byteLength(text) - bytes }, 'bus segment had a torn tail; truncated');
      await fsp.truncate(file, bytes);
    }
    return { file, base, lastOffset, bytes };
  }

  /**
   * Rewrite a compacted topic as one segment of its live records. Written first, old files
   * deleted after: a crash in between leaves duplicates that the loader skips.
   */
  private async rewriteCompacted(t: TopicLog): Promise<void> {
    const header = `${SEGMENT_MAGIC} ${t.next}\n`;
    let text = header;
    for (let i = 0; i < t.records.length; i++) text += encodeRecord(t.records[i] as BusRecord, t.offs[i] as number);
    const file = path.join(t.dir as string, segmentName(t.next));
    const old = t.segments.filter((s) => s.file !== file);
    await fsp.writeFile(`${file}.tmp`, text);
    await fsp.rename(`${file}.tmp`, file);
    for (const s of old) await fsp.unlink(s.file);
    t.segments = [{ file, base: t.next, lastOffset: t.next - 1, bytes: Buffer.byteLength(text) }];
  }
}

/**
 * Create the embedded bus. With `dataDir`, topics, records and committed offsets are
 * reloaded from `<dataDir>/bus/` and every publish is appended before it resolves.
 */
export async function createMemoryBus(opts: MemoryBusOptions = {}): Promise<MemoryBus> {
  const bus = new MemoryBusImpl(opts, opts.log);
  await bus.open();
  return bus;
}
