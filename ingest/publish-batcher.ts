/**
 * Coalesces the bus publishes of every device made in one turn of the event loop into one
 * `bus.publish` per topic. Each caller's promise settles with the publish its records went
 * out in, so ack-after-durable holds per message: nobody is acknowledged before the bus took
 * their records, and when a batch fails every caller in it sees the failure (and its device
 * resends). Order is kept: records go out in call order, batches in creation order.
 *
 * Why: the Kafka adapter coalesces up to 500 publish() calls per produce request with one
 * request in flight; at one call per MQTT message, 500 samples per broker round trip capped
 * ingest at a few thousand samples/s. One call per topic per tick lifts that cap and cuts
 * per-call overhead on the embedded bus too.
 */
import type { Bus, OutgoingRecord } from '../core/ports.js';

interface Batch {
  records: OutgoingRecord[];
  waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
}

export class PublishBatcher {
  private readonly pending = new Map<string, Batch>();
  private scheduled = false;

  /** @param maxRecords - a batch is sent as soon as it would exceed this many records */
  constructor(
    private readonly bus: Bus,
    private readonly maxRecords = 4000,
  ) {}

  publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let b = this.pending.get(topic);
      if (b && b.records.length + records.length > this.maxRecords) {
        this.send(topic, b);
        b = undefined;
      }
      if (!b) {
        b = { records: [], waiters: [] };
        this.pending.set(topic, b);
      }
      for (const r of records) b.records.push(r);
      b.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate runs after the poll phase: every socket read of this turn has been handled.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    for (const [topic, b] of this.pending) this.send(topic, b);
  }

  private send(topic: string, b: Batch): void {
    this.pending.delete(topic);
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
    );
  }
}
