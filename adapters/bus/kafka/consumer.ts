/**
 * The consumer side: a group member or a tail on a kafkajs consumer. eachBatch per partition, the
 * handler awaited and retried until it takes the batch, the offset resolved and committed only
 * after; partition-owning groups get the co-partition assigner and a hand-over on each assignment
 * (docs/decisions/0018).
 */
import type { Admin, Batch, Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { VitalsError } from '../../../core/errors.js';
import type { BatchHandler, BusRecord, ConsumeOptions, PartitionOwner, Subscription } from '../../../core/ports.js';
import { backoffDelay, retry } from '../../../platform/backoff.js';
import type { Logger } from '../../../platform/log.js';
import { coPartitionAssigner } from './assigner.js';
import { type KafkaClient, sleep, withTimeout } from './client.js';
import { errorText, mapKafkaError } from './errors.js';
import { appendRecords } from './records.js';
import { joinPositions, positionsFor, Progress, tp } from './positions.js';
import { Admission, CommitQueue, SettledCommits, type Ticket } from './prefetch.js';

/** What a subscription needs from its bus. */
export interface SubscriptionHost {
  readonly kafka: KafkaClient;
  readonly admin: Admin;
  readonly log: Logger | undefined;
  readonly opts: { connectTimeoutMs: number };
  /** Handler retry backoff. */
  readonly backoff: { initial: number; max: number };
  removeSub(sub: KafkaSubscription): void;
}

export interface SubOptions {
  groupId: string;
  topics: string[];
  handler: BatchHandler;
  fromBeginning: boolean;
  /** Group consumers commit; tails never do. */
  commit: boolean;
  batching?: ConsumeOptions['batching'];
  partitioned?: PartitionOwner | undefined;
}

export class KafkaSubscription implements Subscription {
  readonly consumer: Consumer;
  readonly progress = new Progress();
  /**
   * Partitions started from a time: the offset of their first record at or after it, and the
   * time. A bundle at that offset holds older records too (its timestamp is its newest record's);
   * those before its first record at or after the time are not delivered, as they would not be
   * had they travelled as plain records.
   */
  readonly timeStarts = new Map<string, { offset: string; timestamp: number }>();
  private stopping: Promise<void> | null = null;
  private stopped = false;
  /** Retry waits in progress; stop() ends them at once. */
  private readonly sleepers = new Set<() => void>();
  /** Partition-owning consumers: the partitions owned now, and the hand-over in progress (eachBatch waits for it). */
  private owned = new Set<number>();
  private handover: Promise<void> = Promise.resolve();
  private handoverDone = true;
  private joined = false;
  /**
   * Bounded prefetch (batching.prefetch; committing, non-partitioned members only): handler calls
   * run past eachBatch, offsets commit in partition order once they resolve (prefetch.ts).
   */
  private readonly prefetch: { queue: CommitQueue; admission: Admission; commits: SettledCommits } | null;
  /** Handler calls started by prefetch and not settled yet; stop() waits for them. */
  private readonly calls = new Set<Promise<void>>();

  constructor(
    private readonly bus: SubscriptionHost,
    private readonly o: SubOptions,
  ) {
    this.consumer = bus.kafka.consumer({
      groupId: o.groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 30_000,
      allowAutoTopicCreation: false,
      // Bounded long-poll: stop() waits for an in-flight fetch.
      maxWaitTimeInMs: o.batching?.maxWaitMs ?? 500,
      minBytes: o.batching?.minBytes ?? 1,
      retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 8 },
      ...(o.partitioned ? { partitionAssigners: [coPartitionAssigner(() => this.owned)] } : {}),
    });
    const prefetch = o.batching?.prefetch ?? 0;
    if (prefetch > 0 && o.commit && !o.partitioned) {
      const queue = new CommitQueue();
      const commits = new SettledCommits(queue, {
        committed: (key, pos) => this.progress.advance(key, pos),
        failed: (e) => this.bus.log?.warn({ groupId: o.groupId, error: errorText(e) }, 'kafka: offset commit failed; retried with the next one'),
        stopped: () => this.stopped,
      });
      this.prefetch = { queue, admission: new Admission(prefetch), commits };
    } else this.prefetch = null;
    const { CRASH, GROUP_JOIN } = this.consumer.events;
    this.consumer.on(CRASH, (ev) => {
      const { error, restart } = ev.payload;
      bus.log?.error({ groupId: o.groupId, tail: this.isTail, restart, error: errorText(error) }, 'kafka consumer crashed');
      if (!restart && !this.stopped) this.progress.fail(mapKafkaError(error, 'consumer crashed'));
    });
    const owner = o.partitioned;
    if (owner) {
      // Synchronous listener: the hand-over is in place before kafkajs fetches for the new assignment.
      this.consumer.on(GROUP_JOIN, (ev) => {
        const assignment = ev.payload.memberAssignment;
        this.handoverDone = false;
        const run = this.handover.then(() => this.handOver(owner, assignment));
        this.handover = run;
        void run.finally(() => {
          if (this.handover === run) this.handoverDone = true;
        });
      });
      this.consumer.on(this.consumer.events.REBALANCING, () => owner.onRebalance?.());
    } else if (o.commit) {
      this.consumer.on(GROUP_JOIN, (ev) => {
        // A new generation reads from the committed offsets: calls still in flight commit nothing.
        this.prefetch?.queue.reset();
        void this.onJoin(ev.payload.memberAssignment);
      });
    }
  }

  /**
   * Apply a new assignment: the owner forgets lost partitions, rebuilds gained ones and chooses
   * where they start; gained partitions are sought there. Retried until it succeeds or the member
   * stops: records of a partition are never handed over before its owner has rebuilt it.
   */
  private async handOver(owner: PartitionOwner, assignment: Record<string, number[]>): Promise<void> {
    const now = new Set(Object.values(assignment).flat());
    const lost = [...this.owned].filter((p) => !now.has(p)).sort((a, b) => a - b);
    const gained = [...now].filter((p) => !this.owned.has(p)).sort((a, b) => a - b);
    this.owned = now;
    this.progress.forget(lost.flatMap((p) => this.o.topics.map((t) => tp(t, p))));
    const first = !this.joined;
    this.joined = true;
    if (this.stopped) return;
    try {
      await retry(
        async () => {
          if (lost.length > 0) await owner.onRevoked(lost);
          lost.length = 0;
          const from = await owner.onAssigned(gained);
          const { starts, highs } = await positionsFor(this.bus.admin, this.o.topics, from, new Set(gained));
          for (const [k, start] of starts) {
            const [p, ...rest] = k.split(':');
            this.progress.next.set(k, start);
            if (typeof from === 'object') this.timeStarts.set(k, { offset: start.toString(), timestamp: from.timestamp });
            else this.timeStarts.delete(k);
            this.consumer.seek({ topic: rest.join(':'), partition: Number(p), offset: start.toString() });
          }
          if (first) this.progress.setTargets(highs, starts);
          this.bus.log?.info({ groupId: this.o.groupId, owned: [...now].sort((a, b) => a - b), gained, lost }, 'kafka: partitions handed over');
        },
        {
          // Whatever failed (the owner's rebuild, the offsets read), no record may pass before it is done.
          retriable: () => true,
          aborted: () => this.stopped,
          delay: (attempt) => backoffDelay(attempt, Math.random, { initialMs: 200, maxMs: 5_000 }),
          sleep: (ms) => this.pause(ms),
          onRetry: (e, attempt, waitMs) =>
            this.bus.log?.warn({ groupId: this.o.groupId, attempt: attempt + 1, retryInMs: waitMs, error: errorText(e) }, 'kafka: partition hand-over failed; retrying'),
        },
      );
    } catch {
      // stopped: retry() throws only once aborted
    }
  }

  /** Sleep that stop() cuts short. */
  private pause(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((res) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        res();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  /** Wait for a hand-over in progress, heartbeating; false if the member stopped or is rebalancing again. */
  private async awaitHandover(heartbeat: () => Promise<void>, isRunning: () => boolean): Promise<boolean> {
    while (!this.handoverDone) {
      if (!isRunning() || this.stopped) return false;
      await Promise.race([this.handover, sleep(1_000)]);
      if (this.handoverDone) break;
      try {
        await heartbeat();
      } catch {
        return false; // rebalancing: the batch stays unresolved and is fetched again after the rejoin
      }
    }
    return !this.stopped;
  }

  get isTail(): boolean {
    return !this.o.commit;
  }

  get groupId(): string {
    return this.o.groupId;
  }

  get topics(): readonly string[] {
    return this.o.topics;
  }

  get caughtUp(): Promise<void> {
    return this.progress.caughtUp;
  }

  async start(): Promise<void> {
    const deadline = Math.max(this.bus.opts.connectTimeoutMs, 30_000);
    const timeout = (): VitalsError => new VitalsError('VTL_ERR_BUS_UNAVAILABLE', `consumer did not join within ${deadline} ms`);
    await withTimeout(
      (async () => {
        await this.consumer.connect();
        await this.consumer.subscribe({ topics: this.o.topics, fromBeginning: this.o.fromBeginning });
        // kafkajs 2.2.4: run() resolves after the first join (GROUP_JOIN fired already).
        await this.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: this.o.batching?.concurrency ?? 1,
          eachBatch: (payload) => this.eachBatch(payload),
        });
      })(),
      deadline,
      timeout,
    );
  }

  /** caughtUp for a group: the high watermarks of the assigned partitions, read at join. */
  private async onJoin(assignment: Record<string, number[]>): Promise<void> {
    if (this.progress.settled || this.stopped) return;
    await retry(
      async () => {
        const { targets, starts } = await joinPositions(this.bus.admin, this.o.groupId, assignment, this.o.fromBeginning);
        this.progress.setTargets(targets, starts);
      },
      {
        // Five attempts: caughtUp is for tests and start-up readiness; the member consumes regardless.
        retries: 4,
        retriable: () => true,
        aborted: () => this.stopped,
        delay: (attempt) => backoffDelay(attempt, Math.random, { initialMs: 200, maxMs: 1_000 }),
        sleep: (ms) => this.pause(ms),
        onRetry: (e, attempt) => this.bus.log?.warn({ groupId: this.o.groupId, attempt: attempt + 1, error: errorText(e) }, 'kafka: could not read offsets for caughtUp; retrying'),
      },
    ).catch((e: unknown) => {
      // Given up (or stopped): caughtUp waits for the next join, or stop() fails it.
      if (!this.stopped) this.bus.log?.warn({ groupId: this.o.groupId, error: errorText(e) }, 'kafka: could not read offsets for caughtUp; gave up until the next join');
    });
  }

  private recordsOf(batch: Batch, messages: KafkaMessage[]): BusRecord[] {
    const records: BusRecord[] = [];
    const timeStart = this.timeStarts.get(tp(batch.topic, batch.partition));
    for (const m of messages) appendRecords(records, batch.topic, batch.partition, m, this.bus.log, timeStart?.offset === m.offset ? timeStart.timestamp : undefined);
    return records;
  }

  /**
   * eachBatch with prefetch: admit the batch (bounded records in flight), start its handler call,
   * resolve its offset so kafkajs fetches on, and return; the call commits when it settles.
   */
  private async prefetchBatch(pf: { queue: CommitQueue; admission: Admission; commits: SettledCommits }, payload: EachBatchPayload, messages: KafkaMessage[], next: bigint): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    pf.commits.commitFn = (topics) => commitOffsetsIfNecessary({ topics });
    const alive = (): boolean => isRunning() && !isStale() && !this.stopped;
    const records = messages.length > 0 ? this.recordsOf(batch, messages) : [];
    const admitted = await pf.admission.admit(records.length, async () => {
      if (!alive()) return false;
      try {
        await heartbeat();
        return true;
      } catch {
        return false; // rebalancing: unresolved, fetched again after the rejoin
      }
    });
    if (!admitted) return;
    if (!alive()) {
      pf.admission.release(records.length);
      return;
    }
    const from = messages.length > 0 ? BigInt((messages[0] as KafkaMessage).offset) : next;
    const ticket = pf.queue.open(tp(batch.topic, batch.partition), from, next);
    resolveOffset(batch.lastOffset());
    const call = (records.length > 0 ? this.deliver(batch, records, heartbeat, isRunning, isStale) : Promise.resolve(true)).then((ok) => {
      pf.admission.release(records.length);
      this.calls.delete(call);
      if (ok) {
        if (pf.queue.settle(ticket)) pf.commits.commit();
        return;
      }
      this.abandon(pf.queue, ticket, batch.topic, batch.partition);
    });
    this.calls.add(call);
    await heartbeat().catch(() => undefined); // a rebalance shows up in the runner's next fetch
  }

  /** A prefetched call that will not resolve: read its partition again from its oldest unsettled call. */
  private abandon(queue: CommitQueue, ticket: Ticket, topic: string, partition: number): void {
    const from = queue.abandon(ticket);
    if (from === null || this.stopped) return; // a restart or rejoin reads from the committed offset anyway
    try {
      this.consumer.seek({ topic, partition, offset: from.toString() });
    } catch (e) {
      // Not running (crashed, restarting): the restart reads from the committed offset.
      this.bus.log?.warn({ groupId: this.o.groupId, topic, partition, error: errorText(e) }, 'kafka: could not rewind a partition after an abandoned batch');
    }
  }

  /** Until every prefetched call settled and what they earned is committed (stop()). */
  private async drainPrefetch(): Promise<void> {
    while (this.calls.size > 0) await Promise.all([...this.calls]);
    await this.prefetch?.commits.idle();
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const key = tp(batch.topic, batch.partition);
    const last = BigInt(batch.lastOffset());
    let messages = batch.messages;
    if (this.o.partitioned) {
      if (!(await this.awaitHandover(heartbeat, isRunning))) return;
      // Fetched for a partition since lost, or before its seek to the owner's start: drop it unresolved.
      if (!this.owned.has(batch.partition) || isStale()) return;
      const from = this.progress.next.get(key);
      if (from === undefined) return;
      if (messages.length > 0 && BigInt((messages[0] as KafkaMessage).offset) < from) messages = messages.filter((m) => BigInt(m.offset) >= from);
    } else if (this.isTail) {
      // A tail drops what lies before its position: a fetch that raced the seek, or a restart
      // after a crash (which forgets the seek and would replay from the beginning).
      const from = this.progress.next.get(key) ?? 0n;
      if (messages.length > 0 && BigInt((messages[0] as KafkaMessage).offset) < from) {
        messages = messages.filter((m) => BigInt(m.offset) >= from);
      }
    }
    const next = last + 1n;
    if (this.prefetch) return this.prefetchBatch(this.prefetch, payload, messages, next);
    if (messages.length > 0) {
      const records = this.recordsOf(batch, messages);
      if (!(await this.deliver(batch, records, heartbeat, isRunning, isStale))) return; // unresolved: redelivered
    }
    resolveOffset(batch.lastOffset());
    if (this.o.commit) {
      await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next.toString() }] }] });
    }
    this.progress.advance(key, next);
    await heartbeat();
  }

  /** Hand the batch to the handler until it succeeds; false if the member stopped or lost the partition. */
  private async deliver(batch: Batch, records: BusRecord[], heartbeat: () => Promise<void>, isRunning: () => boolean, isStale: () => boolean): Promise<boolean> {
    const { initial, max } = this.bus.backoff;
    let rebalancing = false;
    const aborted = (): boolean => rebalancing || !isRunning() || isStale() || this.stopped;
    if (aborted()) return false;
    try {
      // Every failure is retried: the batch is committed only once the handler takes it (at-least-once).
      await retry(() => this.o.handler(records), {
        retriable: () => true,
        aborted,
        delay: (attempt) => backoffDelay(attempt, Math.random, { initialMs: initial, maxMs: max }),
        // Sleep in slices, heartbeating, so a long backoff neither loses the group nor delays stop().
        sleep: async (ms) => {
          const until = Date.now() + ms;
          while (Date.now() < until) {
            if (!isRunning() || this.stopped) return;
            await this.pause(Math.min(250, until - Date.now()));
            try {
              await heartbeat();
            } catch {
              rebalancing = true; // the runner rejoins; the batch was not resolved
              return;
            }
          }
        },
        onRetry: (e, attempt, waitMs) =>
          // Offsets and counts only: records carry patient data.
          this.bus.log?.warn(
            {
              topic: batch.topic,
              partition: batch.partition,
              groupId: this.isTail ? null : this.o.groupId,
              firstOffset: records[0]?.offset,
              lastOffset: records[records.length - 1]?.offset,
              count: records.length,
              attempt: attempt + 1,
              retryInMs: waitMs,
              error: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : typeof e,
            },
            'bus handler failed; retrying the batch',
          ),
      });
      return true;
    } catch {
      return false; // aborted: retry() throws only then
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      for (const wake of [...this.sleepers]) wake();
      try {
        // Prefetched calls in progress finish (their inserts are under way) and commit before the member leaves.
        await withTimeout(this.drainPrefetch(), 20_000, () => new Error('prefetched batches did not settle')).catch((e: unknown) =>
          this.bus.log?.warn({ groupId: this.o.groupId, error: errorText(e) }, 'kafka: stopped with batches unsettled; they are delivered again'),
        );
        // Bounded: a broker that went away must not hang shutdown (kafkajs retries the leave).
        await withTimeout(this.consumer.disconnect(), 20_000, () => new Error('consumer disconnect timed out'));
      } catch (e) {
        this.bus.log?.warn({ groupId: this.isTail ? null : this.o.groupId, error: errorText(e) }, 'kafka consumer did not disconnect cleanly');
      } finally {
        this.progress.fail(new VitalsError('VTL_ERR_BUS_UNAVAILABLE', 'subscription stopped before it caught up'));
        this.bus.removeSub(this);
        if (this.isTail) {
          // The ephemeral group committed nothing; remove it so it does not linger in listings.
          await withTimeout(this.bus.admin.deleteGroups([this.o.groupId]), 2000, () => new Error('deleteGroups timed out')).catch(() => undefined);
        }
      }
    })();
    return this.stopping;
  }
}
