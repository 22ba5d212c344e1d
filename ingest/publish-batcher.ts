/**
 * Coalesces the bus publishes of every device into one `bus.publish` per topic at a time: the
 * first batch leaves at the end of the event-loop turn, and while it is in flight the next one
 * fills (group commit, platform/group-commit.ts, at most `maxRecords` records each). Each caller's
 * promise settles with the publish its records went out in, so ack-after-durable holds per
 * message: nobody is acknowledged before the bus took their records, and when a batch fails every
 * caller in it sees the failure (and its device resends). Order is kept: records go out in call order.
 *
 * Why: the Kafka adapter joins up to 500 pending publish() calls into one produce request. At one
 * call per MQTT message, with batch payloads of up to 500 samples, that request could reach
 * 250,000 records, far past Kafka's size limit: every publish in it would fail, every device
 * resend, and fail again. Here one publish per topic is in flight and each is bounded
 * (`maxRecords`, `maxBytes`). Measured A/B on the ingest benchmark, throughput is the same with
 * or without it (the hoped-for gain from fewer, larger requests did not show); it is kept for
 * the bound and for fewer promises per message.
 */
import type { Bus, OutgoingRecord } from '../core/ports.js';
import { GroupCommit, type GroupBound } from '../platform/group-commit.js';

function valueBytes(records: OutgoingRecord[]): number {
  let bytes = 0;
  for (const r of records) bytes += r.value?.length ?? 0;
  return bytes;
}

function joined(calls: OutgoingRecord[][]): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  for (const rs of calls) for (const r of rs) out.push(r);
  return out;
}

export class PublishBatcher {
  private readonly topics = new Map<string, GroupCommit<OutgoingRecord[]>>();
  private readonly bounds: ReadonlyArray<GroupBound<OutgoingRecord[]>>;

  /**
   * @param maxRecords - most records in one bus publish (a larger single call goes alone)
   * @param maxBytes - most value bytes in one bus publish: below Kafka's default message.max.bytes
   *   (1 MiB per partition batch) even when every record has the same key
   * @param maxInFlight - publishes in flight per topic: the Kafka bus's producer lanes, so each
   *   lane can have a request at the broker while the next batch fills (ADR 0020). Batches are
   *   handed to the bus in order, so per-key order holds wherever the bus keeps it.
   */
  constructor(
    private readonly bus: Bus,
    maxRecords = 2000,
    maxBytes = 900_000,
    private readonly maxInFlight = 1,
  ) {
    this.bounds = [
      { size: (rs) => rs.length, max: maxRecords },
      { size: valueBytes, max: maxBytes },
    ];
  }

  publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    let q = this.topics.get(topic);
    if (!q) {
      q = new GroupCommit<OutgoingRecord[]>({
        bounds: this.bounds,
        maxInFlight: this.maxInFlight,
        write: (calls) => this.bus.publish(topic, calls.length === 1 ? (calls[0] as OutgoingRecord[]) : joined(calls)),
      });
      this.topics.set(topic, q);
    }
    return q.add(records);
  }
}
