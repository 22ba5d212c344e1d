/** Parse-or-skip for bus readers: one place that decides what a refused record leaves behind. */
import { decodeRecord, type Decoder } from '../core/bus-messages.js';
import type { BusRecord } from '../core/ports.js';
import type { Logger } from './log.js';

/**
 * Decode a record once per process (core/bus-messages.ts). One the decoder refuses is logged by
 * topic and offset only (its value may hold patient data) and skipped: the result is null, as
 * for a tombstone, which is not logged.
 */
export function decodeOrSkip<T>(r: BusRecord, decoder: Decoder<T>, log: Logger): T | null {
  const v = decodeRecord(r, decoder);
  if (v === null && r.value !== null) log.warn({ topic: r.topic, offset: r.offset }, 'unreadable record skipped');
  return v;
}
