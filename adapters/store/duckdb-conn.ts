/**
 * DuckDB connection plumbing for the embedded store: opening an instance with explicit engine
 * settings, one operation at a time on the store's connection, transactions and row reads.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { VitalsError, isVitalsError } from '../../core/errors.js';

export const DUCKDB_DEFAULT_MEMORY_MB = 512;
export const DUCKDB_DEFAULT_THREADS = 1;

/** The engine settings a DuckDB store runs with, read back from DuckDB. */
export interface DuckDbEngineSettings {
  memoryLimitMb: number;
  threads: number;
}

/**
 * @param v - a configured value
 * @param min - smallest allowed
 * @param what - the option's name, for the error
 * @returns v, when it is a safe integer >= min
 */
export function positiveInt(v: number, min: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < min) throw new VitalsError('VTL_ERR_CONFIG', `duckdb ${what} must be an integer >= ${min}`);
  return v;
}

/**
 * Open a DuckDB instance with explicit settings, because DuckDB's defaults (80% of RAM, one
 * thread per core) assume it owns the box.
 * @param path - file path or ':memory:'
 * @param settings - buffer pool limit and worker threads
 * @returns the instance
 */
export function openInstance(path: string, settings: DuckDbEngineSettings): Promise<DuckDBInstance> {
  return DuckDBInstance.create(path, { memory_limit: `${settings.memoryLimitMb}MiB`, threads: String(settings.threads) });
}

/** Runs operations on one connection one at a time; `close()` refuses new work and waits for the queue. */
export interface SerialConnection {
  run<T>(op: string, fn: (c: DuckDBConnection) => Promise<T>): Promise<T>;
  readonly closing: boolean;
  /** When an operation last succeeded and last failed (ms since epoch; 0: never). */
  readonly lastOkAt: number;
  readonly lastFailedAt: number;
  /** Refuse new work and wait for queued work to finish. */
  drain(): Promise<void>;
}

/**
 * A store whose own work succeeded this recently, and has not failed since, is healthy without a
 * probe: under a heavy backfill the probe's `SELECT 1` waited for libuv's pool behind the inserts
 * and /readyz took up to 2.9 s while every insert was succeeding (issue 11's growth run).
 */
export const PASSIVE_HEALTH_MS = 5000;

/** @returns true when recent work vouches for the store; false means "probe it". */
export function recentlyHealthy(lastOkAt: number, lastFailedAt: number, now: number): boolean {
  return lastOkAt > lastFailedAt && now - lastOkAt < PASSIVE_HEALTH_MS;
}

/**
 * One connection, one transaction at a time: every operation runs through this queue so that
 * BEGIN ... COMMIT sequences and connection-local temp tables are never interleaved.
 * @param conn - the store's connection
 * @returns the queue
 */
export function serialConnection(conn: DuckDBConnection): SerialConnection {
  let tail: Promise<unknown> = Promise.resolve();
  let closing = false;
  let lastOkAt = 0;
  let lastFailedAt = 0;
  return {
    get closing() {
      return closing;
    },
    get lastOkAt() {
      return lastOkAt;
    },
    get lastFailedAt() {
      return lastFailedAt;
    },
    run<T>(op: string, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
      if (closing) return Promise.reject(new VitalsError('VTL_ERR_STORE_UNAVAILABLE', 'duckdb store is closed'));
      const run = async (): Promise<T> => {
        try {
          const out = await fn(conn);
          lastOkAt = Date.now();
          return out;
        } catch (e) {
          lastFailedAt = Date.now();
          if (isVitalsError(e)) throw e;
          // The driver's message can quote row values (constraint errors): keep it only as the cause.
          throw new VitalsError('VTL_ERR_INTERNAL', `duckdb ${op} failed`, { cause: e });
        }
      };
      const p = tail.then(run, run);
      tail = p.catch(() => undefined);
      return p;
    },
    async drain() {
      closing = true;
      await tail;
    },
  };
}

/**
 * Run `fn` inside BEGIN ... COMMIT, rolling back on any error.
 * @param c - the connection
 * @param fn - the transaction's work
 * @returns what fn returns
 */
export async function transaction<T>(c: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
  await c.run('BEGIN TRANSACTION');
  try {
    const out = await fn();
    await c.run('COMMIT');
    return out;
  } catch (e) {
    await c.run('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/**
 * @param c - the connection
 * @param sql - a query
 * @param values - bound parameters
 * @returns the rows as JS objects
 */
export async function rows(c: DuckDBConnection, sql: string, values?: DuckDBValue[]): Promise<Record<string, unknown>[]> {
  const reader = await c.runAndReadAll(sql, values);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

/**
 * @param c - the connection
 * @returns the settings DuckDB reports
 */
export async function engineSettings(c: DuckDBConnection): Promise<DuckDbEngineSettings> {
  const [r] = await rows(c, "SELECT current_setting('memory_limit') AS mem, CAST(current_setting('threads') AS INTEGER) AS threads");
  // DuckDB reports the limit as e.g. '512.0 MiB'.
  const mib = /^([\d.]+) MiB$/.exec(String(r?.mem));
  return { memoryLimitMb: mib ? Math.round(Number(mib[1])) : NaN, threads: Number(r?.threads) };
}

/** Memory DuckDB accounts for, by its own tag (buffer pool: table data, indexes, …). */
export interface EngineMemory {
  tag: string;
  bytes: number;
}

/**
 * @param c - a connection (the health one: this must not wait behind inserts)
 * @param timeoutMs - give up after this long: a scrape must not hang on a busy engine
 * @returns DuckDB's memory in use per tag, tags holding none left out; none when it did not answer in time
 */
export function engineMemory(c: DuckDBConnection, timeoutMs: number): Promise<EngineMemory[]> {
  const answer = rows(c, 'SELECT tag, memory_usage_bytes AS bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0 ORDER BY tag').then((rs) =>
    rs.map((r) => ({ tag: String(r.tag), bytes: Number(r.bytes) })),
  );
  return within(answer, timeoutMs, []);
}

/** `answer`, or `fallback` once `timeoutMs` has passed without one. */
async function within<T>(answer: Promise<T>, timeoutMs: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), timeoutMs);
  });
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A health probe on its own connection, so it never waits behind (or joins) a write transaction.
 * @param c - the health connection
 * @param timeoutMs - give up after this long
 * @returns whether DuckDB answered in time
 */
export function probe(c: DuckDBConnection, timeoutMs: number): Promise<boolean> {
  const answer = c
    .runAndReadAll('SELECT 1 AS ok')
    .then((r) => Number(r.getRowObjectsJS()[0]?.ok) === 1)
    .catch(() => false);
  return within(answer, timeoutMs, false);
}
