/**
 * ClickHouse errors as VitalsErrors, and the client's own logging routed to ours. 18.16 errors are
 * not ClickHouseError objects, so codes are parsed from the message text.
 */
import type { Logger as ClientLogger, LogParams, WarnLogParams } from '@clickhouse/client';
import type { Logger } from 'pino';
import { VitalsError, isVitalsError } from '../../core/errors.js';

/**
 * The numeric ClickHouse error code in an error, if any. 18.16 formats errors as
 * "Code: 81, e.displayText() = DB::Exception: ...", which the client surfaces as a plain Error.
 * @param e - anything thrown by the client
 * @returns the code, or undefined for network and client-side errors
 */
export function clickHouseErrorCode(e: unknown): number | undefined {
  const fromField = (e as { code?: unknown } | null)?.code;
  if (typeof fromField === 'string' && /^\d+$/.test(fromField)) return Number(fromField);
  const m = /Code: (\d+)/.exec(e instanceof Error ? e.message : String(e));
  return m ? Number(m[1]) : undefined;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/**
 * Map a client error to a VitalsError. Server messages can quote the failing SQL, which holds
 * patient ids as literals, so the message keeps only the operation and code; the original is the cause.
 */
export function wrap(op: string, e: unknown): VitalsError {
  if (isVitalsError(e)) return e;
  const code = clickHouseErrorCode(e);
  if (code !== undefined) return new VitalsError('VTL_ERR_INTERNAL', `clickhouse ${op} failed (code ${code})`, { cause: e });
  const sys = (e as { code?: unknown } | null)?.code;
  const network = (typeof sys === 'string' && NETWORK_CODES.has(sys)) || /timeout|socket hang up|ECONN/i.test(e instanceof Error ? e.message : '');
  return new VitalsError(network ? 'VTL_ERR_STORE_UNAVAILABLE' : 'VTL_ERR_INTERNAL', `clickhouse ${op} failed${typeof sys === 'string' ? ` (${sys})` : ''}`, { cause: e });
}

/**
 * The client logs to the console by default. Route its warnings to our pino logger (or nowhere),
 * with the message only: its error objects can quote server messages, and those can quote SQL
 * holding patient ids. The same errors reach the caller as VitalsErrors anyway.
 */
export function clientLoggerClass(log: Logger | undefined): new () => ClientLogger {
  return class implements ClientLogger {
    trace(_p: LogParams): void {}
    debug(_p: LogParams): void {}
    info(_p: LogParams): void {}
    warn(p: WarnLogParams): void {
      log?.warn({ component: 'clickhouse-client', module: p.module }, p.message);
    }
    error(p: WarnLogParams): void {
      log?.debug({ component: 'clickhouse-client', module: p.module, code: clickHouseErrorCode(p.err) }, p.message);
    }
  };
}
