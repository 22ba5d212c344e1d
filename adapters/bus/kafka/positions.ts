/**
 * Positions: where a reader is per partition and when it has caught up, and the start and end
 * offsets a tail or a partition owner begins from. Offsets are bigint (int64 on the wire).
 */
import type { Admin } from 'kafkajs';
import type { TailStart } from '../../../core/ports.js';

/** A partition's key in position maps: `<partition>:<topic>`. */
export const tp = (topic: string, partition: number): string => `${partition}:${topic}`;

/**
 * Tracks where a reader is per partition and when it has caught up with the high
 * watermarks it was given. Offsets are compared as bigint (they are int64 on the wire).
 */
export class Progress {
  readonly caughtUp: Promise<void>;
  private resolve!: () => void;
  private reject!: (e: unknown) => void;
  settled = false;
  /** Next offset to deliver, per partition. */
  readonly next = new Map<string, bigint>();
  private targets: Map<string, bigint> | null = null;

  constructor() {
    this.caughtUp = new Promise<void>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.caughtUp.catch(() => undefined);
  }

  setTargets(targets: Map<string, bigint>, starts: Map<string, bigint>): void {
    for (const [k, s] of starts) if ((this.next.get(k) ?? -1n) < s) this.next.set(k, s);
    this.targets = targets;
    this.check();
  }

  /** Partitions this reader no longer owns: neither a position nor a target to wait for. */
  forget(keys: readonly string[]): void {
    for (const k of keys) {
      this.next.delete(k);
      this.targets?.delete(k);
    }
    this.check();
  }

  advance(key: string, next: bigint): void {
    if ((this.next.get(key) ?? -1n) < next) this.next.set(key, next);
    this.check();
  }

  private check(): void {
    if (this.settled || !this.targets) return;
    for (const [k, target] of this.targets) if ((this.next.get(k) ?? -1n) < target) return;
    this.settled = true;
    this.resolve();
  }

  fail(e: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(e);
  }
}

/**
 * Start offsets for a chosen start, clamped to the log, and the high watermarks, per partition of
 * each topic (only `partitions` when given): a tail's positions, and a partition owner's gained ones.
 */
export async function positionsFor(admin: Admin, topics: readonly string[], from: TailStart, partitions?: ReadonlySet<number>): Promise<{ starts: Map<string, bigint>; highs: Map<string, bigint> }> {
  const starts = new Map<string, bigint>();
  const highs = new Map<string, bigint>();
  for (const topic of topics) {
    const offsets = await admin.fetchTopicOffsets(topic);
    const byTs = typeof from === 'object' ? await admin.fetchTopicOffsetsByTimestamp(topic, from.timestamp) : null;
    for (const o of offsets) {
      if (partitions && !partitions.has(o.partition)) continue;
      const low = BigInt(o.low);
      const high = BigInt(o.high);
      let start = from === 'earliest' ? low : high;
      const t = byTs?.find((x) => x.partition === o.partition);
      if (t) start = BigInt(t.offset);
      starts.set(tp(topic, o.partition), start < low ? low : start);
      highs.set(tp(topic, o.partition), high);
    }
  }
  return { starts, highs };
}

/**
 * Where a group member's assigned partitions start (the committed offset, or the start policy when
 * there is none or retention deleted it, as kafkajs resets) and the high watermarks it has caught
 * up at, read when it joins.
 */
export async function joinPositions(admin: Admin, groupId: string, assignment: Record<string, number[]>, fromBeginning: boolean): Promise<{ targets: Map<string, bigint>; starts: Map<string, bigint> }> {
  const targets = new Map<string, bigint>();
  const starts = new Map<string, bigint>();
  for (const [topic, partitions] of Object.entries(assignment)) {
    const offsets = await admin.fetchTopicOffsets(topic);
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const cParts = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const p of partitions) {
      const o = offsets.find((x) => x.partition === p);
      if (!o) continue;
      const low = BigInt(o.low);
      const high = BigInt(o.high);
      const c = BigInt(cParts.find((x) => x.partition === p)?.offset ?? '-1');
      starts.set(tp(topic, p), c >= low ? c : fromBeginning ? low : high);
      targets.set(tp(topic, p), high);
    }
  }
  return { targets, starts };
}
