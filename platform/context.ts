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
