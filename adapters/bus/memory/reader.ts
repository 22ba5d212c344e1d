/**
 * A reader of the embedded bus, a group member or a tail: reads its topics in order, one awaited
 * batch at a time, retries a failing batch until the handler takes it, and commits a group's
 * progress after each batch.
 */
import type { BatchHandler, BusRecord, Subscription } from '../../../core/ports.js';
import type { Logger } from '../../../platform/log.js';
import { backoffDelay, retry } from '../../../platform/backoff.js';
import { busError, errorText, type TopicLog } from './topic-log.js';

/** What a reader needs from its bus. */
export interface ReaderHost {
  readonly log: Logger | undefined;
  readonly maxBatchSize: number;
  readonly backoff: { initial: number; max: number };
  commit(groupId: string, topic: string, next: number): void;
}

/** How a bulk reader lets a trickle gather into batches (ConsumeOptions.batching). */
export interface BatchFill {
  lingerMs: number;
  records: number;
}

const NO_FILL: BatchFill = { lingerMs: 0, records: 0 };

/** Bytes per record assumed when a reader's batching asks for minBytes (a canonical sample's JSON is ~200). */
const BYTES_PER_RECORD = 200;
/** Most records one call is handed however large minBytes is: one call, one insert of bounded length. */
const MAX_FILL_RECORDS = 5000;

/**
 * @param batching - ConsumeOptions.batching
 * @returns the reader's fill: maxWaitMs (at most 5 s) and minBytes as records (at most MAX_FILL_RECORDS)
 */
export function batchFill(batching: { minBytes?: number; maxWaitMs?: number } | undefined): BatchFill {
  const lingerMs = Math.min(Math.max(0, batching?.maxWaitMs ?? 0), 5000);
  const records = Math.min(Math.ceil(Math.max(0, batching?.minBytes ?? 0) / BYTES_PER_RECORD), MAX_FILL_RECORDS);
  return lingerMs > 0 ? { lingerMs, records } : NO_FILL;
}

export class Reader implements Subscription {
  readonly caughtUp: Promise<void>;
  private resolveCaughtUp!: () => void;
  private rejectCaughtUp!: (e: unknown) => void;
  private caughtUpSettled = false;
  private stopped = false;
  private wake: (() => void) | null = null;
  private sleepTimer: NodeJS.Timeout | null = null;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly bus: ReaderHost,
    /** Next offset to read, per topic; retention reads it to spare what a required reader still needs. */
    readonly positions: Map<TopicLog, number>,
    private readonly targets: Map<TopicLog, number>,
    private readonly handler: BatchHandler,
    readonly groupId: string | null,
    private readonly onStop: () => void,
    /**
     * Batching for a bulk reader (ConsumeOptions.batching): once caught up, wait up to `lingerMs` for
     * `records` to gather, and hand up to that many to one call (at least the bus's maxBatchSize).
     */
    private readonly fill: BatchFill = NO_FILL,
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
    const max = Math.max(this.bus.maxBatchSize, this.fill.records);
    // A round is full when some batch reached the fill (or the bus's batch size, without one): a
    // backlog, read on without waiting. Otherwise the reader is caught up and lingers.
    const fullAt = Math.max(1, this.fill.records || this.bus.maxBatchSize);
    while (!this.stopped) {
      let delivered = false;
      let full = false;
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
        if (batch.length >= fullAt) full = true;
        this.checkCaughtUp();
        // Yield to I/O between batches so a large backlog cannot starve the event loop.
        await new Promise<void>((res) => setImmediate(res));
      }
      this.checkCaughtUp();
      if (this.stopped || full) continue;
      if (!delivered) await this.waitForData();
      // Caught up: a steady trickle (1,000 samples/s) would otherwise reach the handler in as many
      // calls as it can make (each a store insert, ~4 ms of fixed cost), so let a batch gather, as
      // Kafka's fetch.max.wait does. Without a fill, wait only for data.
      if (this.fill.lingerMs > 0 && !this.stopped) await this.pause(this.fill.lingerMs);
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

  /**
   * Hand a batch to the handler until it succeeds; false if stopped before it did. Every failure is
   * retried, whatever the error: the batch is committed only once the handler takes it
   * (at-least-once), so skipping it would lose records and giving up would stall the reader.
   */
  private async deliver(t: TopicLog, batch: BusRecord[]): Promise<boolean> {
    const { initial, max } = this.bus.backoff;
    try {
      await retry(() => this.handler(batch), {
        retriable: () => true,
        aborted: () => this.stopped,
        delay: (attempt) => backoffDelay(attempt, Math.random, { initialMs: initial, maxMs: max }),
        sleep: (ms) => this.pause(ms),
        onRetry: (e, attempt, waitMs) =>
          // Offsets and counts only: records carry patient data.
          this.bus.log?.warn(
            {
              topic: t.name,
              groupId: this.groupId,
              firstOffset: batch[0]?.offset,
              lastOffset: batch[batch.length - 1]?.offset,
              count: batch.length,
              attempt: attempt + 1,
              retryInMs: waitMs,
              error: errorText(e),
            },
            'bus handler failed; retrying the batch',
          ),
      });
      return true;
    } catch {
      return false; // stopped: retry() throws only once aborted
    }
  }
}
