/**
 * A trend answered from memory alone (ADR 0011, sixth amendment): the sealed rows the cache holds
 * and the tail's rollup, without DuckDB and without the store's serial queue. Pure and
 * synchronous: duckdb.ts calls it before queueing a trend, and rollupBuckets again inside the queue.
 */
import type { BucketPoint } from '../../core/ports.js';
import { bucketsFromRows, C_MINUTE, firstRowAtOrAfter, rowsMeet } from './rollup.js';
import type { SealedRollupCache } from './sealed-cache.js';
import type { TailRollup } from './tail-rollup.js';

/** A bucketed history query on the rollups: series, step-aligned range, bucket width (a multiple of a minute), most buckets. */
export interface RollupQuery { patientKey: string; metric: string; from: number; to: number; step: number; limit: number }

/** Sealed buckets of a series with no sealed rows held: also the token its tail buckets were built against. */
const NO_BUCKETS: readonly BucketPoint[] = Object.freeze([]);
const NO_ROWS = new Float64Array(0);

/** Index of the first bucket of an ascending list whose ts is >= x. */
function firstBucketAtOrAfter(list: readonly BucketPoint[], x: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.ts < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The answer from memory alone, synchronously, when the sealed cache holds the series (or covers
 * it) and no tail minute meets a sealed row in the range; null otherwise (the caller goes through
 * DuckDB). The answer is the series' shared sealed buckets before the tail's first bucket and its
 * shared tail buckets from there on (both frozen, built once per change of their rows): a query
 * allocates the answer's array and nothing else.
 * @param q - the query
 * @param tail - the tail's rollup
 * @param cache - the sealed rows held
 * @param count - count the lookup in the cache's hits and misses
 * @returns buckets ascending, or null
 */
export function memoryBuckets(q: RollupQuery, tail: TailRollup, cache: SealedRollupCache, count: boolean): BucketPoint[] | null {
  const view = cache.view(q.patientKey, q.metric, q.from, q.to, count);
  if (!view) return null;
  const s = tail.series(q.patientKey, q.metric);
  const rows = s?.rows ?? NO_ROWS;
  const n = s?.n ?? 0;
  const held = cache.bucketsOf(view, q.step) ?? NO_BUCKETS;
  // Shared tail buckets still valid: built against these sealed rows, and clean means no tail
  // minute meets any sealed row held, so no range can need the recompute.
  const built = s?.buckets?.step === q.step && s.buckets.sealed === held ? s.buckets : null;
  if (!built?.clean && rowsMeet(view.data, view.start, view.end, rows, firstRowAtOrAfter(rows, n, q.from), firstRowAtOrAfter(rows, n, q.to))) return null;
  if (!count) cache.hits += 1;
  // Buckets before the tail's first one hold sealed rows only; from there on, the tail's buckets.
  const cut = n > 0 ? Math.floor(rows[C_MINUTE]! / q.step) * q.step : Number.POSITIVE_INFINITY;
  const i0 = firstBucketAtOrAfter(held, q.from);
  const i1 = Math.max(i0, firstBucketAtOrAfter(held, Math.min(cut, q.to)));
  // A slice copies the references in one native call.
  const out = held.slice(i0, i0 + Math.min(i1 - i0, q.limit));
  if (!s || n === 0 || cut >= q.to || out.length === q.limit) return out;
  let tb = built;
  if (!tb) {
    // Built over every tail minute and every sealed row from the cut on, so any query with an aligned
    // range can slice it; minutes that meet outside one query's range are caught by its own rowsMeet.
    const from = firstRowAtOrAfter(view.data, view.held, cut);
    const list = bucketsFromRows(view.data, from, view.held, rows, 0, n, q.step, Number.MAX_SAFE_INTEGER);
    for (const b of list) Object.freeze(b);
    tb = s.buckets = { step: q.step, sealed: held, list, clean: !rowsMeet(view.data, 0, view.held, rows, 0, n) };
  }
  const j0 = firstBucketAtOrAfter(tb.list, Math.max(q.from, cut));
  const j1 = Math.min(firstBucketAtOrAfter(tb.list, q.to), j0 + q.limit - out.length);
  // concat copies both runs into one array of the exact length (pushing grew it, copying it again).
  return j1 > j0 ? out.concat(tb.list.slice(j0, j1)) : out;
}
