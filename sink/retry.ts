/** Which store failures the sink retries (the loop and pacing: platform/backoff.ts). */
import { isVitalsError } from '../core/errors.js';
import { isRetriable } from '../platform/backoff.js';

/**
 * ClickHouse server codes that mean "try later": 159 timeout, 209/210 socket and network,
 * 241 memory limit, 242 table read-only, 252 too many parts, 999 keeper. The adapter wraps
 * every coded server error as VTL_ERR_INTERNAL (the original is the cause), so these are
 * recognised here until adapters/store/clickhouse.ts marks them retriable itself.
 */
const TRANSIENT_CLICKHOUSE_CODES = new Set([159, 209, 210, 241, 242, 252, 999]);

function clickHouseCode(cause: unknown): number | undefined {
  const field = (cause as { code?: unknown } | null)?.code;
  if (typeof field === 'string' && /^\d+$/.test(field)) return Number(field);
  const m = /Code: (\d+)/.exec(cause instanceof Error ? cause.message : '');
  return m ? Number(m[1]) : undefined;
}

/** True for a retriable VitalsError (store unavailable, closed) or a transient ClickHouse server error. */
export function isTransientStoreError(e: unknown): boolean {
  if (isRetriable(e)) return true;
  const code = isVitalsError(e) ? clickHouseCode(e.cause) : undefined;
  return code !== undefined && TRANSIENT_CLICKHOUSE_CODES.has(code);
}
