/**
 * Group commit: callers add items, items are written in groups (one write per group), and each
 * caller's promise settles with the write its item went out in: nobody is acknowledged before
 * the write that holds their item succeeded, and a failed write fails its own group only.
 *
 * The one batcher behind ingest's publishes, the Kafka producer lanes, the embedded bus's segment
 * appends and the sink's inserts (docs/decisions/0022 section 8). The rules:
 *
 * - A group is written no earlier than the end of the event-loop turn in which its first item
 *   arrived (setImmediate: every socket read of the turn has been handled), or at once when it is
 *   full (a bound reached).
 * - At most `maxInFlight` writes at a time; groups start in the order they were opened. While
 *   writes are in flight the newest group keeps filling until it starts or is full, unless
 *   `fillWhileWaiting` is false (then it closes at the end of its first turn).
 * - Nothing else is bounded: a caller that needs backpressure gets it from its own acknowledgements.
 */

/** A limit on one group: what an item adds to it, and the most a group holds. */
export interface GroupBound<I> {
  size: (item: I) => number;
  max: number;
}

export interface GroupCommitOptions<I> {
  /**
   * Writes one group (items in add order). Resolving means every item not failed is durable;
   * a rejection fails every item of the group not failed already. `fail` settles one item early
   * (e.g. refused before the write); the rest of the group is unaffected.
   */
  write: (items: I[], fail: (index: number, error: unknown) => void) => Promise<void>;
  /** Writes in flight at once (default 1). */
  maxInFlight?: number;
  /** A group closes once it reaches any of these. */
  bounds?: ReadonlyArray<GroupBound<I>>;
  /**
   * `split` (default): an item that would take a non-empty group past a bound starts the next
   * group, so only an item alone can exceed a bound. `fill`: the item joins, and the group closes
   * having reached the bound (it may pass it by that item's size).
   */
  overflow?: 'split' | 'fill';
  /**
   * true (default): a group waiting for a free write keeps taking items until it starts or is
   * full (fewer, larger writes). false: it takes no more after its first turn, so a caller is not
   * held behind items that arrived later (the sink: its callers' acks gate the bus's next fetch).
   */
  fillWhileWaiting?: boolean;
  /**
   * How long (ms) a group may wait to fill before it may start, asked as the group opens; 0 or
   * absent: the end of its turn. A bound reached still starts it at once.
   */
  linger?: () => number;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Group<I> {
  items: I[];
  waiters: Waiter[];
  /** Per bound, the sizes added so far. */
  totals: number[];
  /** May start: its first turn (or its linger) has ended, or it is full. */
  due: boolean;
  timer: NodeJS.Timeout | null;
}

export class GroupCommit<I> {
  private readonly write: GroupCommitOptions<I>['write'];
  private readonly maxInFlight: number;
  private readonly bounds: ReadonlyArray<GroupBound<I>>;
  private readonly split: boolean;
  private readonly fillWhileWaiting: boolean;
  private readonly linger: (() => number) | undefined;
  /** Groups not started yet, oldest first; the last one may still be filling. */
  private readonly groups: Array<Group<I>> = [];
  /** The group taking items: the last of `groups`, unless that one is full or started. */
  private filling: Group<I> | null = null;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly sizes: number[];

  constructor(opts: GroupCommitOptions<I>) {
    this.write = opts.write;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 1);
    this.bounds = opts.bounds ?? [];
    this.split = (opts.overflow ?? 'split') === 'split';
    this.fillWhileWaiting = opts.fillWhileWaiting ?? true;
    this.linger = opts.linger;
    this.sizes = this.bounds.map(() => 0);
  }

  /** Settles once the write holding `item` did. */
  add(item: I): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const bounds = this.bounds;
      const n = bounds.length;
      // add() runs to completion before another can start: one scratch array serves every call.
      const sizes = this.sizes;
      for (let i = 0; i < n; i++) sizes[i] = (bounds[i] as GroupBound<I>).size(item);
      let g = this.filling;
      let closed = false;
      if (g !== null && this.split && g.items.length > 0) {
        for (let i = 0; i < n; i++) {
          if ((g.totals[i] as number) + (sizes[i] as number) > (bounds[i] as GroupBound<I>).max) {
            g.due = true;
            g = this.filling = null;
            closed = true;
            break;
          }
        }
      }
      if (g === null) {
        const fresh: Group<I> = { items: [], waiters: [], totals: bounds.map(() => 0), due: false, timer: null };
        g = this.filling = fresh;
        this.groups.push(fresh);
        const lingerMs = this.linger?.() ?? 0;
        // Its own timer, not one shared with an earlier group: a group opened by a setImmediate
        // callback still gets the next turn's reads (a shared one could fire later in this phase).
        if (lingerMs > 0) fresh.timer = setTimeout(() => this.turnEnded(fresh), lingerMs);
        else setImmediate(() => this.turnEnded(fresh));
      }
      g.items.push(item);
      g.waiters.push({ resolve, reject });
      let full = false;
      for (let i = 0; i < n; i++) {
        const t = (g.totals[i] as number) + (sizes[i] as number);
        g.totals[i] = t;
        if (t >= (bounds[i] as GroupBound<I>).max) full = true;
      }
      if (full) {
        g.due = true;
        this.filling = null;
      }
      // A group closed above (split) or here (full) may start now.
      if (closed || full) this.pump();
    });
  }

  /** Until everything added so far, and anything added meanwhile, has been written or failed. */
  idle(): Promise<void> {
    if (this.groups.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private turnEnded(g: Group<I>): void {
    g.timer = null;
    g.due = true;
    if (!this.fillWhileWaiting && this.filling === g) this.filling = null;
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight) {
      const g = this.groups[0];
      if (!g || !g.due) return;
      this.groups.shift();
      if (g === this.filling) this.filling = null;
      this.start(g);
    }
  }

  private start(g: Group<I>): void {
    if (g.timer) clearTimeout(g.timer); // full before its linger ended
    this.inFlight++;
    const { waiters } = g;
    let p: Promise<void>;
    try {
      p = this.write(g.items, (i, e) => waiters[i]?.reject(e));
    } catch (e) {
      p = Promise.reject(e);
    }
    // A promise settles once: the items failed early stay failed.
    p.then(
      () => {
        for (const w of waiters) w.resolve();
      },
      (e: unknown) => {
        for (const w of waiters) w.reject(e);
      },
    ).finally(() => {
      this.inFlight--;
      this.pump();
      if (this.inFlight === 0 && this.groups.length === 0 && this.idleWaiters.length > 0) {
        const ws = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of ws) w();
      }
    });
  }
}
