/**
 * Time-bounded sample windows for trend (rate-of-change) rules.
 *
 * A ring buffer of (t, v) in time order plus running least-squares sums, so adding a
 * sample and reading the fitted slope are O(1) amortised with no per-sample allocation.
 * The fit is the ordinary least-squares line that simple-statistics' `linearRegression`
 * computes (core/windows.test.ts checks them against each other); recomputing it from an
 * array on every sample would cost O(window) per sample.
 */

const MS_PER_MIN = 60_000;

/** A least-squares line fit over the current window contents. */
export interface TrendFit {
  /** Fitted slope, units per minute; NaN when fewer than two distinct times. */
  slopePerMin: number;
  /** Number of samples in the window. */
  n: number;
  /** Newest minus oldest sample time, ms. */
  spanMs: number;
}

/**
 * A ring of (time, value) samples, oldest at `head`, whose arrays double up to a cap. The
 * windows below add what they keep beside it (running sums, a sorted copy).
 */
abstract class SampleRing {
  protected t: Float64Array;
  protected v: Float64Array;
  protected head = 0;
  protected size = 0;

  /**
   * @param windowMs - samples older than newest − windowMs are evicted
   * @param maxCapacity - hard cap on samples kept (oldest dropped first); bounds memory at high rates
   * @param initialCapacity - slots allocated at first (at most maxCapacity)
   */
  constructor(
    readonly windowMs: number,
    protected readonly maxCapacity: number,
    initialCapacity: number,
  ) {
    const cap = Math.min(initialCapacity, maxCapacity);
    this.t = new Float64Array(cap);
    this.v = new Float64Array(cap);
  }

  get length(): number {
    return this.size;
  }

  /** Allocated slots (for memory estimates). */
  get capacity(): number {
    return this.t.length;
  }

  /** Move the samples, oldest first, into arrays of `next` slots. */
  protected resize(next: number): void {
    const cap = this.t.length;
    const t = new Float64Array(next);
    const v = new Float64Array(next);
    for (let i = 0; i < this.size; i++) {
      const k = (this.head + i) % cap;
      t[i] = this.t[k] as number;
      v[i] = this.v[k] as number;
    }
    this.t = t;
    this.v = v;
    this.head = 0;
  }
}

export class TrendWindow extends SampleRing {
  /** x = (t - origin) / 1 min keeps the sums small, avoiding cancellation on epoch-ms times. */
  private origin = 0;
  private sx = 0;
  private sy = 0;
  private sxx = 0;
  private sxy = 0;
  private evictedSinceRebuild = 0;

  /**
   * @param windowMs - samples older than newest − windowMs are evicted
   * @param maxCapacity - hard cap on samples kept (oldest dropped first); bounds memory at high rates
   */
  constructor(windowMs: number, maxCapacity = 4096, initialCapacity = 16) {
    super(windowMs, maxCapacity, initialCapacity);
  }

  /** Newest sample time, or -Infinity when empty. */
  get newest(): number {
    return this.size === 0 ? -Infinity : (this.t[(this.head + this.size - 1) % this.t.length] as number);
  }

  /** Oldest sample time, or Infinity when empty. */
  get oldest(): number {
    return this.size === 0 ? Infinity : (this.t[this.head] as number);
  }

  /**
   * Add a sample in time order; an older one (late) is inserted at its place.
   * @returns false when a sample with the same time is already present (duplicate)
   * or when it is older than the window
   */
  add(t: number, v: number): boolean {
    if (this.size > 0 && t < this.newest - this.windowMs) return false;
    if (this.size === this.t.length) this.grow();
    const cap = this.t.length;
    // Walk back from the tail to the insertion point (0 steps for in-order samples).
    let pos = this.size;
    while (pos > 0) {
      const prevT = this.t[(this.head + pos - 1) % cap] as number;
      if (prevT === t) return false;
      if (prevT < t) break;
      pos--;
    }
    for (let i = this.size; i > pos; i--) {
      const to = (this.head + i) % cap;
      const from = (this.head + i - 1) % cap;
      this.t[to] = this.t[from] as number;
      this.v[to] = this.v[from] as number;
    }
    const at = (this.head + pos) % cap;
    this.t[at] = t;
    this.v[at] = v;
    if (this.size === 0) this.origin = t;
    this.size++;
    this.accumulate(t, v, 1);
    this.trim(this.newest);
    return true;
  }

  /** Evict samples older than `now - windowMs`. */
  trim(now: number): void {
    const cutoff = now - this.windowMs;
    while (this.size > 0 && (this.t[this.head] as number) < cutoff) this.evictOldest();
    if (this.size === 0) this.reset();
  }

  /** The least-squares fit of the current contents. */
  fit(): TrendFit {
    const n = this.size;
    const spanMs = n === 0 ? 0 : this.newest - this.oldest;
    const den = n * this.sxx - this.sx * this.sx;
    // Relative test: with identical times den is ~0 up to rounding of the running sums.
    const slopePerMin = n < 2 || spanMs === 0 || !(den > 1e-12 * n * this.sxx) ? Number.NaN : (n * this.sxy - this.sx * this.sy) / den;
    return { slopePerMin, n, spanMs };
  }

  private accumulate(t: number, v: number, sign: 1 | -1): void {
    const x = (t - this.origin) / MS_PER_MIN;
    this.sx += sign * x;
    this.sy += sign * v;
    this.sxx += sign * x * x;
    this.sxy += sign * x * v;
  }

  private evictOldest(): void {
    const t = this.t[this.head] as number;
    const v = this.v[this.head] as number;
    this.head = (this.head + 1) % this.t.length;
    this.size--;
    this.accumulate(t, v, -1);
    // Subtracting accumulates rounding error and the origin drifts behind the data:
    // rebuild from the buffer once per capacity evictions (amortised O(1)).
    if (++this.evictedSinceRebuild >= this.t.length) this.rebuild();
  }

  private rebuild(): void {
    this.evictedSinceRebuild = 0;
    this.sx = this.sy = this.sxx = this.sxy = 0;
    if (this.size === 0) return;
    this.origin = this.t[this.head] as number;
    const cap = this.t.length;
    for (let i = 0; i < this.size; i++) {
      const k = (this.head + i) % cap;
      this.accumulate(this.t[k] as number, this.v[k] as number, 1);
    }
  }

  private reset(): void {
    this.head = 0;
    this.sx = this.sy = this.sxx = this.sxy = 0;
    this.evictedSinceRebuild = 0;
  }

  private grow(): void {
    const cap = this.t.length;
    if (cap >= this.maxCapacity) {
      // At the cap the window keeps the newest maxCapacity samples.
      this.evictOldest();
      return;
    }
    this.resize(Math.min(cap * 2, this.maxCapacity));
  }
}

/**
 * The median of the samples of the last `windowMs` (by sample time), for scoring a continuous
 * parameter on a short robust summary instead of its newest reading (docs/rules.md, "Continuous
 * data and NEWS2"). A time-ordered ring for eviction plus a sorted copy of the values: adding is
 * O(n) moves in a window of n (n ≈ 60 at 1 Hz), the median O(1), no allocation after warm-up.
 */
export class MedianWindow extends SampleRing {
  private sorted: Float64Array;

  /**
   * @param windowMs - samples older than newest − windowMs are evicted (0: keep only the newest)
   * @param maxCapacity - hard cap on samples kept (oldest dropped first); bounds memory at high rates
   */
  constructor(windowMs: number, maxCapacity = 256, initialCapacity = 16) {
    super(windowMs, maxCapacity, initialCapacity);
    this.sorted = new Float64Array(this.t.length);
  }

  /**
   * Add a sample newer than every sample held (callers drop late and duplicate samples first);
   * evicts what fell out of the window.
   */
  add(t: number, v: number): void {
    if (this.size > 0 && t <= (this.t[(this.head + this.size - 1) % this.t.length] as number)) return;
    const cutoff = t - this.windowMs;
    while (this.size > 0 && (this.t[this.head] as number) < cutoff) this.evictOldest();
    if (this.size === this.t.length) {
      if (this.size >= this.maxCapacity) this.evictOldest();
      else this.grow();
    }
    this.t[(this.head + this.size) % this.t.length] = t;
    this.v[(this.head + this.size) % this.t.length] = v;
    // Insert into the sorted copy (binary search, then shift the tail by one).
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sorted[mid] as number) <= v) lo = mid + 1;
      else hi = mid;
    }
    this.sorted.copyWithin(lo + 1, lo, this.size);
    this.sorted[lo] = v;
    this.size++;
  }

  /** Median of the window (mean of the two middle values for an even count); NaN when empty. */
  median(): number {
    const n = this.size;
    if (n === 0) return Number.NaN;
    const mid = n >>> 1;
    return n % 2 === 1 ? (this.sorted[mid] as number) : ((this.sorted[mid - 1] as number) + (this.sorted[mid] as number)) / 2;
  }

  /** Forget every sample (after a gap in the data the old readings no longer describe the patient). */
  clear(): void {
    this.head = 0;
    this.size = 0;
  }

  private evictOldest(): void {
    const v = this.v[this.head] as number;
    this.head = (this.head + 1) % this.t.length;
    this.size--;
    // Remove one occurrence of v from the sorted copy.
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sorted[mid] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    this.sorted.copyWithin(lo, lo + 1, this.size + 1);
  }

  private grow(): void {
    const next = Math.min(this.t.length * 2, this.maxCapacity);
    const sorted = new Float64Array(next);
    sorted.set(this.sorted.subarray(0, this.size));
    this.sorted = sorted;
    this.resize(next);
  }
}
