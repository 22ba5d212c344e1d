/**
 * Bounded prefetch for a committing group member (ConsumeOptions.batching.prefetch, docs/decisions/0020):
 * kafkajs fetches again only once every eachBatch of the last fetch returned, so a member whose
 * eachBatch awaits its handler never fetches while the handler works. With prefetch, eachBatch
 * starts the handler call, resolves the batch's offset (kafkajs fetches on) and returns; the
 * offset is committed only once that call and every earlier call of its partition resolved.
 *
 * At-least-once holds because a committed position never passes a record whose call has not
 * resolved: {@link CommitQueue} commits a partition's prefix of settled calls only. A call that is
 * abandoned (stop, rebalance, seek) voids its partition's later calls and says where the partition
 * must be read again; a new group generation voids everything (kafkajs then reads from the
 * committed offsets). Memory is bounded by {@link Admission}: records in calls not yet resolved.
 */

/** One handler call of a partition, in fetch order. */
export interface Ticket {
  readonly key: string;
  /** First offset of the call's batch: where the partition is read again if the call is abandoned. */
  readonly from: bigint;
  /** The partition's commit position once this call and every earlier one resolved. */
  readonly next: bigint;
  done: boolean;
  /** The partition queue it belongs to; a replaced or dropped queue voids it. */
  readonly queue: Ticket[];
}

/** Per-partition order of calls in flight, and the commit positions they have earned. */
export class CommitQueue {
  private readonly queues = new Map<string, Ticket[]>();
  private readonly ready = new Map<string, bigint>();

  /** A call starts for the batch [from, next) of `key`. */
  open(key: string, from: bigint, next: bigint): Ticket {
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = []));
    const t: Ticket = { key, from, next, done: false, queue: q };
    q.push(t);
    return t;
  }

  /** The call resolved: its partition may commit up to the last call of its settled prefix. True if a position advanced. */
  settle(t: Ticket): boolean {
    if (this.queues.get(t.key) !== t.queue) return false; // voided
    t.done = true;
    const q = t.queue;
    let pos: bigint | null = null;
    while (q.length > 0 && (q[0] as Ticket).done) pos = (q.shift() as Ticket).next;
    if (pos === null) return false;
    this.ready.set(t.key, pos);
    return true;
  }

  /**
   * The call will not resolve (stopped, rebalancing, the partition sought): later calls of its
   * partition are void, as nothing after its records may be committed. Returns the offset to read
   * the partition from again (its oldest call not settled), or null if the ticket was void already.
   */
  abandon(t: Ticket): bigint | null {
    if (this.queues.get(t.key) !== t.queue) return null;
    this.queues.delete(t.key);
    return (t.queue[0] as Ticket).from;
  }

  /** A new group generation: every call in flight is void (kafkajs reads from the committed offsets again). */
  reset(): void {
    this.queues.clear();
    this.ready.clear();
  }

  /** Positions earned since the last take, per partition. */
  take(): Map<string, bigint> {
    const out = new Map(this.ready);
    this.ready.clear();
    return out;
  }

  /** Positions whose commit failed: kept for the next commit unless a later one was earned meanwhile. */
  restore(positions: ReadonlyMap<string, bigint>): void {
    for (const [k, p] of positions) if (!this.ready.has(k) && this.queues.has(k)) this.ready.set(k, p);
  }
}

/** A bound on records in calls not yet resolved; one call is always admitted, however large. */
export class Admission {
  private inFlight = 0;
  private wakers: Array<() => void> = [];

  constructor(readonly limit: number) {}

  get records(): number {
    return this.inFlight;
  }

  /**
   * Wait for room for `n` records. `tick` runs every second while waiting (heartbeat) and says
   * whether to go on waiting; false: the caller gives up (nothing admitted).
   */
  async admit(n: number, tick: () => Promise<boolean>): Promise<boolean> {
    while (this.inFlight > 0 && this.inFlight + n > this.limit) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((res) => {
        this.wakers.push(res);
        timer = setTimeout(res, 1000);
      });
      clearTimeout(timer);
      if (!(await tick())) return false;
    }
    this.inFlight += n;
    return true;
  }

  release(n: number): void {
    this.inFlight -= n;
    const w = this.wakers;
    this.wakers = [];
    for (const wake of w) wake();
  }
}

type CommitFn = (topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>) => Promise<void>;

/** Commits the positions settled calls earned, one commit at a time, coalescing what settles meanwhile. */
export class SettledCommits {
  /** The group's commit, from the latest eachBatch (kafkajs' consumer group outlives a batch). */
  commitFn: CommitFn | null = null;
  private committing: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly queue: CommitQueue,
    private readonly on: { committed(key: string, pos: bigint): void; failed(e: unknown): void; stopped(): boolean },
  ) {}

  commit(): void {
    if (this.committing) {
      this.again = true;
      return;
    }
    this.committing = (async () => {
      do {
        this.again = false;
        const positions = this.queue.take();
        const commit = this.commitFn;
        if (positions.size === 0 || !commit) continue;
        const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
        for (const [k, pos] of positions) {
          // Keys are `<partition>:<topic>` (positions.ts).
          const [p, ...rest] = k.split(':');
          const topic = rest.join(':');
          let list = byTopic.get(topic);
          if (!list) byTopic.set(topic, (list = []));
          list.push({ partition: Number(p), offset: pos.toString() });
        }
        try {
          await commit([...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
          for (const [k, pos] of positions) this.on.committed(k, pos);
        } catch (e) {
          // Kept for the next commit, tried in a second if nothing settles before (a rebalance voids
          // them: the next generation reads from the last commit).
          this.queue.restore(positions);
          this.on.failed(e);
          if (!this.on.stopped()) setTimeout(() => this.commit(), 1000).unref();
        }
      } while (this.again);
    })().finally(() => {
      this.committing = null;
    });
  }

  /** Commit what is earned and wait until no commit is in progress (stop()). */
  async idle(): Promise<void> {
    this.commit();
    while (this.committing) await this.committing;
  }
}
