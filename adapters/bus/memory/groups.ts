/**
 * Consumer groups of the embedded bus: committed offsets (persisted to `_group-offsets.json`,
 * coalesced), which groups have their one member active, and how long an idle group still holds
 * retention (`inactiveGroupHoldMs`).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ConsumerLag } from '../../../core/ports.js';
import type { Logger } from '../../../platform/log.js';
import { busError, errorText } from './topic-log.js';

const OFFSETS_FILE = '_group-offsets.json';
/**
 * How long commits coalesce before the offsets file is rewritten. Each rewrite (write a temporary
 * file, rename it) costs ~0.85 ms of CPU here, most of it handing four operations to libuv's pool
 * and back: at 50 ms that was ~17 µs per record at 1,000 records/s (BENCHMARKS.md, issue 11).
 * A crash redelivers at most this much to each group; every reader already takes records at
 * least once (the store hides copies, the rules role skips alert events it has logged).
 */
export const OFFSETS_WRITE_EVERY_MS = 1000;
const DEFAULT_INACTIVE_GROUP_HOLD_MS = 15 * 60_000;

export class ConsumerGroups {
  /** groupId -> topic -> next offset to read */
  private readonly committed = new Map<string, Map<string, number>>();
  private readonly active = new Set<string>();
  /** groupId -> when it last had an active member or committed (epoch ms); bounds how long an idle group holds retention. */
  private readonly seen = new Map<string, number>();
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private readonly holdMs: number;

  /** @param dir - where the offsets file lives; null: memory only */
  constructor(
    private readonly dir: string | null,
    private readonly log: Logger | undefined,
    holdMs: number | undefined,
  ) {
    this.holdMs = holdMs ?? DEFAULT_INACTIVE_GROUP_HOLD_MS;
  }

  /** Where `groupId` left off on `topic`, if it committed. */
  committedOffset(groupId: string, topic: string): number | undefined {
    return this.committed.get(groupId)?.get(topic);
  }

  /** Throws VTL_ERR_CONFLICT when the group already has its one member (a bug in one process, not a rebalance). */
  assertFree(groupId: string): void {
    if (this.active.has(groupId)) throw busError('VTL_ERR_CONFLICT', `consumer group "${groupId}" already has an active member in this process`);
  }

  join(groupId: string): void {
    this.active.add(groupId);
    this.seen.set(groupId, Date.now());
  }

  leave(groupId: string): void {
    this.active.delete(groupId);
    this.seen.set(groupId, Date.now());
  }

  /** Whether a group with no active member still holds retention (seen within the hold time). */
  private holding(groupId: string, now: number): boolean {
    return this.active.has(groupId) || now - (this.seen.get(groupId) ?? 0) <= this.holdMs;
  }

  /** The lowest committed offset on `topic` among groups holding retention, if below `floor`. */
  floor(topic: string, floor: number, now: number): number {
    for (const [g, offsets] of this.committed) {
      const c = offsets.get(topic);
      if (c !== undefined && c < floor && this.holding(g, now)) floor = c;
    }
    return floor;
  }

  /** Idle groups still holding retention: their lag is real work waiting for them. */
  idleLag(nextOffset: (topic: string) => number | undefined, now: number): ConsumerLag[] {
    const out: ConsumerLag[] = [];
    for (const [g, offsets] of this.committed) {
      if (this.active.has(g) || !this.holding(g, now)) continue;
      for (const [topic, c] of offsets) {
        const next = nextOffset(topic);
        if (next !== undefined) out.push({ consumer: g, topic, lag: Math.max(0, next - c), required: true });
      }
    }
    return out;
  }

  commit(groupId: string, topic: string, next: number): void {
    let g = this.committed.get(groupId);
    if (!g) this.committed.set(groupId, (g = new Map()));
    g.set(topic, next);
    if (!this.dir) return;
    this.dirty = true;
    // Coalesce commits: a crash may redeliver up to this window (at-least-once).
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.write();
      }, OFFSETS_WRITE_EVERY_MS);
    }
  }

  /** Write what is not written yet now (close). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.write();
  }

  private write(): Promise<void> {
    this.writing = this.writing.then(async () => {
      if (!this.dirty || !this.dir) return;
      this.dirty = false;
      const obj: Record<string, Record<string, number>> = {};
      for (const [g, m] of this.committed) obj[g] = Object.fromEntries(m);
      const file = path.join(this.dir, OFFSETS_FILE);
      try {
        await fsp.writeFile(`${file}.tmp`, JSON.stringify(obj));
        await fsp.rename(`${file}.tmp`, file);
      } catch (e) {
        this.dirty = true;
        this.log?.error({ error: errorText(e) }, 'could not persist consumer group offsets');
      }
    });
    return this.writing;
  }

  async load(): Promise<void> {
    if (!this.dir) return;
    let text: string;
    try {
      text = await fsp.readFile(path.join(this.dir, OFFSETS_FILE), 'utf8');
    } catch {
      return;
    }
    const obj = JSON.parse(text) as Record<string, Record<string, number>>;
    const now = Date.now();
    for (const [g, m] of Object.entries(obj)) {
      this.committed.set(g, new Map(Object.entries(m)));
      // A group from before the restart holds retention for a while, so its consumer can re-attach.
      this.seen.set(g, now);
    }
  }
}
