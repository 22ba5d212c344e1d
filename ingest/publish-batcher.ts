/**
 * Coalesces the bus publishes of every device into one `bus.publish` per topic at a time: the
 * first batch leaves at the end of the event-loop turn, and while it is in flight the next one
 * fills (group commit, at most `maxRecords` records each). Each caller's promise settles with
 * the publish its records went out in, so ack-after-durable holds per message: nobody is
 * acknowledged before the bus took their records, and when a batch fails every caller in it
 * sees the failure (and its device resends). Order is kept: records go out in call order.
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

interface Batch {
  records: OutgoingRecord[];
  bytes: number;
  waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
}

interface TopicQueue {
  /** Batches not sent yet, oldest first; the last one is still filling. */
  batches: Batch[];
  inFlight: number;
}

export class PublishBatcher {
  private readonly topics = new Map<string, TopicQueue>();
  private scheduled = false;

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
    private readonly maxRecords = 2000,
    private readonly maxBytes = 900_000,
    private readonly maxInFlight = 1,
  ) {}

  publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let q = this.topics.get(topic);
      if (!q) this.topics.set(topic, (q = { batches: [], inFlight: 0 }));
      let bytes = 0;
      for (const r of records) bytes += r.value?.length ?? 0;
      let b = q.batches[q.batches.length - 1];
      const full = b && b.records.length > 0 && (b.records.length + records.length > this.maxRecords || b.bytes + bytes > this.maxBytes);
      if (!b || full) q.batches.push((b = { records: [], bytes: 0, waiters: [] }));
      for (const r of records) b.records.push(r);
      b.bytes += bytes;
      b.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate runs after the poll phase: every socket read of this turn has been handled.
        setImmediate(() => {
          this.scheduled = false;
          for (const [t, tq] of this.topics) this.next(t, tq);
        });
      }
    });
  }

  /**
   * At most `maxInFlight` publishes in flight per topic: what arrives meanwhile forms the next
   * batch (group commit). This also bounds a produce request: the Kafka adapter joins whatever
   * publishes are pending into one request, which would otherwise grow without limit under a flood.
   */
  private next(topic: string, q: TopicQueue): void {
    while (q.inFlight < this.maxInFlight && q.batches.length > 0) this.send(topic, q, q.batches.shift() as Batch);
  }

  private send(topic: string, q: TopicQueue, b: Batch): void {
    q.inFlight++;
    let p: Promise<void>;
    try {
      p = this.bus.publish(topic, b.records);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      () => {
        for (const w of b.waiters) w.resolve();
      },
      (e: unknown) => {
        for (const w of b.waiters) w.reject(e);
      },
    ).finally(() => {
      q.inFlight--;
      this.next(topic, q);
    });
  }
}
