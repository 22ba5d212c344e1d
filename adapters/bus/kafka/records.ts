/**
 * Kafka messages as the bus's records: a plain message is one BusRecord, a bundle (bundle.ts)
 * the records it carries.
 */
import type { KafkaMessage } from 'kafkajs';
import type { BusRecord } from '../../../core/ports.js';
import type { Logger } from '../../../platform/log.js';
import { BUNDLE_VERSION, bundleVersion, decodeBundle, type UnbundledRecord } from './bundle.js';

/**
 * A Kafka record as the BusRecords it carries, appended to `out`: itself, or a bundle's records
 * in their order, each with the bundle's offset (kafka/bundle.ts). A bundle that cannot be read
 * (corrupt, or a newer format) is delivered as one record with its raw value, so the reader's
 * "unreadable record" path counts and skips (or dead-letters) it instead of losing it silently.
 */
export function appendRecords(out: BusRecord[], topic: string, partition: number, m: KafkaMessage, log: Logger | undefined, startTime?: number): void {
  const version = m.value === null ? null : bundleVersion(m.headers);
  if (version !== null) {
    const unbundled = version === BUNDLE_VERSION ? decodeBundle(m.value as Buffer) : null;
    if (unbundled !== null) {
      // The first bundle of a start from a time: from its first record at or after that time.
      let i = 0;
      if (startTime !== undefined) while (i < unbundled.length && (unbundled[i] as UnbundledRecord).timestamp < startTime) i++;
      for (; i < unbundled.length; i++) {
        const r = unbundled[i] as UnbundledRecord;
        out.push({ topic, partition, offset: m.offset, key: r.key, value: r.value, timestamp: r.timestamp });
      }
      return;
    }
    // Offsets only: the bytes are patient data.
    log?.warn({ topic, partition, offset: m.offset, version }, 'kafka: unreadable bundle delivered as one record');
  }
  out.push({
    topic,
    partition,
    offset: m.offset,
    key: m.key === null ? '' : m.key.toString('utf8'),
    value: m.value === null ? null : m.value.toString('utf8'),
    timestamp: Number(m.timestamp),
  });
}
