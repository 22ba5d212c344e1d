/**
 * One topic's log on the embedded bus: records and their offsets in memory (a single partition),
 * the readers waiting for more, and, when durable, the segment files and their write chain.
 * Retention and compaction over it are in retention.ts, the files in segment-files.ts.
 */
import type { FileHandle } from 'node:fs/promises';
import { VitalsError } from '../../../core/errors.js';
import type { BusRecord, OutgoingRecord, TailStart, TopicSpec } from '../../../core/ports.js';
import type { GroupCommit } from '../../../platform/group-commit.js';
import type { Logger } from '../../../platform/log.js';

export interface Segment {
  file: string;
  /** Next offset when the segment was created; orders segments and restores `next` when it is empty. */
  base: number;
  lastOffset: number;
  bytes: number;
}

/** A publish accepted but not yet appended to the segment file (the publishes of a turn join one write). */
export interface PendingPublish {
  records: OutgoingRecord[];
  timestamps: number[];
}

export function busError(code: 'VTL_ERR_BUS_UNAVAILABLE' | 'VTL_ERR_NOT_FOUND' | 'VTL_ERR_BAD_REQUEST' | 'VTL_ERR_CONFLICT', detail: string, cause?: unknown): VitalsError {
  return new VitalsError(code, detail, cause === undefined ? undefined : { cause });
}

/** Error text for logs: name and message only; handler errors are the handler's to keep free of PHI. */
export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : typeof e;
}

/** One topic's log (single partition) plus, when durable, its segment files. */
export class TopicLog {
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
  /** Durable topics: publishes joined into one append at a time (set by the bus). */
  appends: GroupCommit<PendingPublish> | null = null;
  /** The write chain: flushes and segment deletions run one at a time. */
  io: Promise<void> = Promise.resolve();
  skippedWarned = false;
  /** Records below this offset no longer hold their decoded value (every reader was past them). */
  decodedFrom = 0;

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
}

/** The offset a reader starting at `from` reads first. */
export function startPosition(t: TopicLog, from: TailStart): number {
  if (from === 'earliest') return t.offs[0] ?? t.next;
  if (from === 'latest') return t.next;
  // Record timestamps need not be monotonic: the first record at or after the time, by offset.
  const i = t.records.findIndex((r) => r.timestamp >= from.timestamp);
  return i < 0 ? t.next : (t.offs[i] as number);
}
