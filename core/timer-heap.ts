/**
 * A binary min-heap of event-time deadlines. The rules engine keeps one entry per armed
 * timer (missing data, unacknowledged escalation, idle eviction) and checks an entry's
 * validity when it pops ("lazy" timers), so a sample never has to touch the heap.
 * Ties pop in insertion order, which keeps replays deterministic.
 */

export interface TimerEntry<T> {
  due: number;
  value: T;
}

export class TimerHeap<T> {
  private readonly due: number[] = [];
  private readonly seq: number[] = [];
  private readonly values: T[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.due.length;
  }

  /** Add a deadline (event time, epoch ms). */
  push(due: number, value: T): void {
    this.due.push(due);
    this.seq.push(this.nextSeq++);
    this.values.push(value);
    this.up(this.due.length - 1);
  }

  /** Earliest deadline, or Infinity when empty. */
  peekDue(): number {
    return this.due.length === 0 ? Infinity : (this.due[0] as number);
  }

  /** Remove and return the earliest entry with `due <= now`, or undefined. */
  popDue(now: number): TimerEntry<T> | undefined {
    if (this.due.length === 0 || (this.due[0] as number) > now) return undefined;
    const out = { due: this.due[0] as number, value: this.values[0] as T };
    const last = this.due.length - 1;
    this.swap(0, last);
    this.due.pop();
    this.seq.pop();
    this.values.pop();
    this.down(0);
    return out;
  }

  private less(a: number, b: number): boolean {
    const da = this.due[a] as number;
    const db = this.due[b] as number;
    return da < db || (da === db && (this.seq[a] as number) < (this.seq[b] as number));
  }

  private swap(a: number, b: number): void {
    [this.due[a], this.due[b]] = [this.due[b] as number, this.due[a] as number];
    [this.seq[a], this.seq[b]] = [this.seq[b] as number, this.seq[a] as number];
    [this.values[a], this.values[b]] = [this.values[b] as T, this.values[a] as T];
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) return;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.due.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
