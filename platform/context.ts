/**
 * What every module's init receives. No singletons: `vitals start` builds one
 * context and shares it; a test can build two side by side.
 */
import type { Registry } from 'prom-client';
import type { Bus, Clock, Store } from '../core/ports.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';

export interface Context {
  config: Config;
  log: Logger;
  clock: Clock;
  /** Prometheus registry of this process (not the global default). */
  metrics: Registry;
  bus: Bus;
  store: Store;
  /** Extra /readyz checks (set by cli/runtime.ts; absent where a test builds the context by hand). */
  ops?: OpsHooks;
}

/**
 * How a module adds to its process's ops endpoints beyond `Service.ready`: a named readiness check
 * (e.g. "partitions: assigned"). Metrics go on `metrics` (platform/metrics.ts: `gauge`, `counter`,
 * `sampledGauge` for a value read at scrape time).
 */
export interface OpsHooks {
  /** Adds `name` to /readyz; the returned function removes it (call it in the module's stop). */
  addReadinessCheck(name: string, check: () => Promise<{ ok: boolean; detail?: string }>): () => void;
}

/** A running module. */
export interface Service {
  name: string;
  /** Whether this service can do its job right now (for /readyz); with a reason when not. */
  ready?(): Promise<{ ok: boolean; detail?: string }>;
  /** Graceful stop: stop accepting work, flush, commit. */
  stop(): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now() };
