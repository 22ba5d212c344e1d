/**
 * Kafka's failures in the error table: kafkajs' errors mapped to VitalsError codes (with
 * `retriable`), the cause worth logging, and the broker answers that mean a producer's state is gone.
 */
import { VitalsError } from '../../../core/errors.js';

type BusErrorCode = 'VTL_ERR_BUS_UNAVAILABLE' | 'VTL_ERR_NOT_FOUND' | 'VTL_ERR_BAD_REQUEST' | 'VTL_ERR_PAYLOAD_TOO_LARGE' | 'VTL_ERR_INTERNAL';

export interface KafkaishError {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
}

/** The innermost cause: kafkajs wraps the real error in KafkaJSNumberOfRetriesExceeded and friends. */
export function rootCause(e: unknown): KafkaishError {
  let cur = e as KafkaishError;
  for (let i = 0; i < 10 && cur && typeof cur === 'object' && cur.cause && typeof cur.cause === 'object'; i++) cur = cur.cause as KafkaishError;
  return cur ?? {};
}

/**
 * Map a kafkajs error to the error table. Broker/network trouble is retriable for the caller
 * even when kafkajs marks it non-retriable after exhausting its own retries.
 */
export function mapKafkaError(e: unknown, what: string): VitalsError {
  if (e instanceof VitalsError) return e;
  const root = rootCause(e);
  const kind = root.type ?? root.name ?? 'Error';
  const detail = `${what}: ${kind}${root.message ? `: ${root.message.slice(0, 200)}` : ''}`;
  let code: BusErrorCode = 'VTL_ERR_BUS_UNAVAILABLE';
  if (kind === 'MESSAGE_TOO_LARGE' || kind === 'RECORD_LIST_TOO_LARGE') code = 'VTL_ERR_PAYLOAD_TOO_LARGE';
  else if (kind === 'UNKNOWN_TOPIC_OR_PARTITION' || kind === 'KafkaJSTopicMetadataNotLoaded') code = 'VTL_ERR_NOT_FOUND';
  else if (kind === 'INVALID_RECORD' || kind === 'CORRUPT_MESSAGE' || kind === 'INVALID_TOPIC_EXCEPTION') code = 'VTL_ERR_BAD_REQUEST';
  else if (PRODUCER_STATE_LOST.has(kind)) code = 'VTL_ERR_BUS_UNAVAILABLE'; // a new producer fixes it: retry
  else if (root.retriable === false && root.name !== 'KafkaJSConnectionError' && root.name !== 'KafkaJSRequestTimeoutError' && root.name !== 'KafkaJSNumberOfRetriesExceeded') {
    code = 'VTL_ERR_INTERNAL';
  }
  return new VitalsError(code, detail, { cause: e });
}

/** Broker answers meaning it no longer knows this idempotent producer's state. */
export const PRODUCER_STATE_LOST = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']);

export function errorText(e: unknown): string {
  const root = rootCause(e);
  return `${root.type ?? root.name ?? 'Error'}: ${root.message ?? ''}`.slice(0, 300);
}
