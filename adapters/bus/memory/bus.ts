/**
 * The embedded bus put together: topics (topic-log.ts) with their files (segment-files.ts),
 * publishes joined into one append per topic per turn of the event loop, group members and tails
 * (reader.ts, groups.ts), and retention that spares what required readers have not read
 * (retention.ts). Semantics: adapters/bus/memory.ts and docs/decisions/0005-bus-adapters.md.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { BusRecord, ConsumeOptions, ConsumerLag, OutgoingRecord, Subscription, TailOptions, TopicSpec } from '../../../core/ports.js';
import { GroupCommit } from '../../../platform/group-commit.js';
import type { Logger } from '../../../platform/log.js';
import type { MemoryBus, MemoryBusOptions, MemoryBusStats } from '../memory.js';
import { ConsumerGroups } from './groups.js';
import { batchFill, Reader } from './reader.js';
import { compactNow, DEFAULT_TOMBSTONE_RETENTION_MS, limitsFor, trimAge, trimCount } from './retention.js';
import { appendToSegment, createTopicDir, encodeRecord, loadSegment, readTopicSpec, rewriteCompacted, scheduleSegmentCleanup, segmentFiles } from './segment-files.js';
import { busError, errorText, startPosition, TopicLog, type PendingPublish } from './topic-log.js';

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

export class MemoryBusImpl implements MemoryBus {
  readonly kind = 'memory' as const;
  readonly maxBatchSize: number;
  readonly backoff: { initial: number; max: number };
  private readonly topics = new Map<string, TopicLog>();
  private readonly groups: ConsumerGroups;
  private readonly readers = new Set<Reader>();
  private appendWrites = 0;
  private closed = false;
  private writeError: unknown = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private readonly busDir: string | null;

  constructor(
    private readonly opts: MemoryBusOptions,
    readonly log: Logger | undefined,
  ) {
    this.busDir = opts.dataDir ? path.join(opts.dataDir, 'bus') : null;
    this.maxBatchSize = opts.maxBatchSize ?? 500;
    this.backoff = opts.retryBackoffMs ?? { initial: 100, max: 5000 };
    this.groups = new ConsumerGroups(this.busDir, log, opts.inactiveGroupHoldMs);
  }

  async open(): Promise<void> {
    if (this.busDir) {
      await fsp.mkdir(this.busDir, { recursive: true });
      await this.groups.load();
      for (const ent of await fsp.readdir(this.busDir, { withFileTypes: true })) {
        if (ent.isDirectory() && TOPIC_NAME.test(ent.name)) await this.loadTopic(ent.name);
      }
    }
    this.retentionTimer = setInterval(() => void this.runRetention(), this.opts.retentionIntervalMs ?? 10_000);
    this.retentionTimer.unref();
  }

  private newTopic(spec: TopicSpec): TopicLog {
    const { maxRecords, maxAgeMs } = limitsFor(spec, this.opts.retention);
    const t = new TopicLog(spec, this.busDir ? path.join(this.busDir, spec.name) : null, maxRecords, maxAgeMs);
    // setImmediate, not a microtask: every publish made in this turn of the loop joins the write,
    // one write at a time, on the topic's write chain (segment deletions run on it too).
    if (t.dir) t.appends = new GroupCommit<PendingPublish>({ write: (batch) => this.chainedFlush(t, batch) });
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
      if (t.dir) {
        const ready = createTopicDir(t.dir, spec);
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

  // ------------------------------------------------------------ publishing

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
        for (let i = 0; i < records.length; i++) {
          const off = t.next++;
          t.append(toBusRecord(t, records[i] as OutgoingRecord, timestamps[i] as number, off), off);
        }
        this.appended(t);
        return Promise.resolve();
      }
      return (t.appends as GroupCommit<PendingPublish>).add({ records, timestamps });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** After an append: count retention, then wake the readers. */
  private appended(t: TopicLog): void {
    if (trimCount(t, this.retentionFloor(t))) scheduleSegmentCleanup(t, this.log);
    this.releaseDecoded(t);
    t.notify();
  }

  /**
   * Drop the decoded value of records every reader of `t` has handled: it served the in-process
   * readers (decode once), and a record the log keeps for minutes would otherwise keep it alive
   * too, promoted and then collected from the old generation. A reader that comes later (a
   * replay) parses the value, as a reader in another process does.
   */
  private releaseDecoded(t: TopicLog): void {
    let low = t.next;
    for (const r of this.readers) {
      const pos = r.positions.get(t);
      if (pos !== undefined && pos < low) low = pos;
    }
    if (low <= t.decodedFrom) return;
    const recs = t.records;
    for (let i = t.indexOf(t.decodedFrom), end = t.indexOf(low); i < end; i++) (recs[i] as BusRecord).decoded = undefined;
    t.decodedFrom = low;
  }

  /** {@link flush} on the topic's write chain, its failure passed on to the publishers. */
  private async chainedFlush(t: TopicLog, batch: PendingPublish[]): Promise<void> {
    let failed = false;
    let error: unknown;
    await t.chain(async () => {
      try {
        error = await this.flush(t, batch);
        failed = error !== null;
      } catch (e) {
        // Unexpected: logged by the chain as before, and nobody in the group is acknowledged.
        failed = true;
        error = e;
        throw e;
      }
    }, this.log);
    if (failed) throw error;
  }

  /** Append a group of publishes to a topic with one write, then make them visible; the error if it failed. */
  private async flush(t: TopicLog, batch: PendingPublish[]): Promise<unknown> {
    let off = t.next;
    const built: BusRecord[] = [];
    let text = '';
    for (const p of batch) {
      for (let i = 0; i < p.records.length; i++) {
        const rec = toBusRecord(t, p.records[i] as OutgoingRecord, p.timestamps[i] as number, off);
        text += encodeRecord(rec, off);
        built.push(rec);
        off++;
      }
    }
    try {
      this.appendWrites++;
      await appendToSegment(t, text, off, { segmentBytes: this.opts.segmentBytes, fsync: this.opts.fsync, log: this.log });
      this.writeError = null;
    } catch (e) {
      this.writeError = e;
      this.log?.error({ topic: t.name, count: built.length, error: errorText(e) }, 'bus segment append failed');
      return busError('VTL_ERR_BUS_UNAVAILABLE', `append to "${t.name}" failed`, e);
    }
    for (let i = 0; i < built.length; i++) t.append(built[i] as BusRecord, t.next + i);
    t.next = off;
    this.appended(t);
    return null;
  }

  // ------------------------------------------------------------ retention

  /**
   * The lowest offset of `t` that a required reader has not read (Infinity if none): active
   * required readers' positions and the committed offsets of groups seen recently enough.
   */
  private retentionFloor(t: TopicLog): number {
    let floor = Infinity;
    for (const r of this.readers) {
      if (!r.required) continue;
      const pos = r.positions.get(t);
      if (pos !== undefined && pos < floor) floor = pos;
    }
    return this.groups.floor(t.name, floor, Date.now());
  }

  async lag(): Promise<ConsumerLag[]> {
    const out: ConsumerLag[] = [];
    for (const r of this.readers) {
      if (r.name === null) continue;
      for (const [t, pos] of r.positions) out.push({ consumer: r.name, topic: t.name, lag: Math.max(0, t.next - pos), required: r.required });
    }
    out.push(...this.groups.idleLag((topic) => this.topics.get(topic)?.next, Date.now()));
    return out;
  }

  async runRetention(): Promise<void> {
    const now = Date.now();
    for (const t of this.topics.values()) {
      const floor = this.retentionFloor(t);
      const a = trimAge(t, now, floor);
      const b = trimCount(t, floor, false);
      if (a || b) scheduleSegmentCleanup(t, this.log);
    }
    await Promise.all([...this.topics.values()].map((t) => t.io));
  }

  // ------------------------------------------------------------ reading

  async consume(opts: ConsumeOptions): Promise<Subscription> {
    this.assertOpen();
    const logs = opts.topics.map((n) => this.topic(n));
    this.groups.assertFree(opts.groupId);
    // One partition per topic: a partition-owning consumer owns partition 0, rebuilt before it reads
    // (docs/decisions/0018), and starts where its owner chose; its commits only report progress.
    const chosen = opts.partitioned ? await opts.partitioned.onAssigned([0]) : null;
    // Checked again: another member may have joined while the owner rebuilt.
    this.groups.assertFree(opts.groupId);
    const positions = new Map<TopicLog, number>();
    for (const t of logs) {
      if (chosen !== null) {
        positions.set(t, startPosition(t, chosen));
        continue;
      }
      let c = this.groups.committedOffset(opts.groupId, t.name);
      if (c !== undefined && c > t.next) {
        // The log is behind the group (its data was deleted): reset like Kafka's OffsetOutOfRange.
        this.log?.warn({ topic: t.name, groupId: opts.groupId }, 'committed offset beyond the log end; resetting');
        c = undefined;
      }
      positions.set(t, c ?? (opts.fromBeginning === false ? t.next : (t.offs[0] ?? t.next)));
    }
    this.groups.join(opts.groupId);
    const reader: Reader = new Reader(this, positions, highWatermarks(logs), opts.handler, opts.groupId, () => {
      this.groups.leave(opts.groupId);
      this.readers.delete(reader);
    }, batchFill(opts.batching));
    this.readers.add(reader);
    reader.start();
    return reader;
  }

  async tail(opts: TailOptions): Promise<Subscription> {
    this.assertOpen();
    const logs = opts.topics.map((n) => this.topic(n));
    const positions = new Map<TopicLog, number>(logs.map((t) => [t, startPosition(t, opts.from)]));
    const reader: Reader = new Reader(this, positions, highWatermarks(logs), opts.handler, null, () => this.readers.delete(reader), batchFill(undefined), opts.required === true, opts.name ?? null);
    this.readers.add(reader);
    reader.start();
    return reader;
  }

  commit(groupId: string, topic: string, next: number): void {
    this.groups.commit(groupId, topic, next);
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
      await t.appends?.idle();
      await t.io;
      await t.handle?.close().catch(() => undefined);
      t.handle = null;
    }
    await this.groups.flush();
  }

  /** Reload a topic from its directory, then apply retention (compacted topics: rewritten as one segment). */
  private async loadTopic(name: string): Promise<void> {
    const dir = path.join(this.busDir as string, name);
    const spec = await readTopicSpec(dir, this.log);
    if (!spec) return;
    const t = this.newTopic(spec);
    for (const f of await segmentFiles(dir)) {
      const seg = await loadSegment(t, path.join(dir, f), this.log);
      if (seg) t.segments.push(seg);
    }
    const now = Date.now();
    if (t.compacted) {
      compactNow(t, now - (this.opts.tombstoneRetentionMs ?? DEFAULT_TOMBSTONE_RETENTION_MS));
      if (t.segments.length > 1) await rewriteCompacted(t);
    } else {
      const floor = this.retentionFloor(t);
      trimAge(t, now, floor);
      trimCount(t, floor, false);
      scheduleSegmentCleanup(t, this.log);
      await t.io;
    }
  }
}

/** A bus record at offset `off` of `t`; in-process readers get the publisher's object (core/bus-messages.ts). */
function toBusRecord(t: TopicLog, r: OutgoingRecord, timestamp: number, off: number): BusRecord {
  // `decoded` always present (one object shape); released once every reader has handled the record.
  return { topic: t.name, partition: 0, offset: String(off), key: r.key, value: r.value === null ? null : flat(r.value), timestamp, decoded: r.decoded };
}

/**
 * A string built with `+` (ingest's hand-written sample JSON) stays a tree of pieces in V8 until
 * something reads it whole, and the log keeps values for minutes; reading it once makes V8 flatten
 * it in place. 250,000 sample values: 119 MB of heap as trees, 50 MB flat (Node 20 and 24;
 * `Buffer.byteLength` flattens on both, `charCodeAt` only on 20). BENCHMARKS.md, issue 11.
 */
function flat(s: string): string {
  Buffer.byteLength(s);
  return s;
}

/** Each log's end now: a reader has caught up once it has read to these. */
function highWatermarks(logs: TopicLog[]): Map<TopicLog, number> {
  return new Map(logs.map((t) => [t, t.next]));
}
