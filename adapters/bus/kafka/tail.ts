/**
 * Tails: positions fixed before the consumer exists ("latest" means latest now), then the
 * ephemeral group's consumer sought there. Nothing is committed (the group is removed on stop).
 */
import type { Admin } from 'kafkajs';
import { VitalsError } from '../../../core/errors.js';
import type { TailOptions } from '../../../core/ports.js';
import { retry } from '../../../platform/backoff.js';
import type { Logger } from '../../../platform/log.js';
import type { KafkaSubscription } from './consumer.js';
import { errorText, mapKafkaError } from './errors.js';
import { positionsFor } from './positions.js';

/** Fix a tail's start and target offsets per partition before its consumer exists. */
async function readTailPositions(admin: Admin, opts: TailOptions): Promise<{ starts: Map<string, bigint>; highs: Map<string, bigint> }> {
  const existing = new Set(await admin.listTopics());
  const missing = opts.topics.filter((t) => !existing.has(t));
  if (missing.length > 0) throw new VitalsError('VTL_ERR_NOT_FOUND', `unknown topic "${missing.join('", "')}" (call ensureTopics first)`);
  return positionsFor(admin, opts.topics, opts.from);
}

/** A tail's start offsets and the high watermarks it has caught up at, per partition. */
export async function tailPositions(admin: Admin, opts: TailOptions): Promise<{ starts: Map<string, bigint>; highs: Map<string, bigint> }> {
  // Leadership of a topic created a moment ago may not have reached every broker's
  // metadata yet (NOT_LEADER_FOR_PARTITION): retry retriable errors for about ten seconds.
  return retry(
    async () => {
      try {
        return await readTailPositions(admin, opts);
      } catch (e) {
        throw e instanceof VitalsError ? e : mapKafkaError(e, 'tail');
      }
    },
    { retries: 40, delay: () => 250 },
  );
}

/** Seek a started tail's consumer to its start offsets. */
export function seekTail(sub: KafkaSubscription, starts: ReadonlyMap<string, bigint>, log: Logger | undefined): void {
  for (const [k, start] of starts) {
    const [p, ...rest] = k.split(':');
    try {
      sub.consumer.seek({ topic: rest.join(':'), partition: Number(p), offset: start.toString() });
    } catch (e) {
      // The consumer crashed and is restarting (a broker restart): kafkajs then has no group to seek in.
      // Nothing is lost: eachBatch drops what lies before the tail's position, so only the skip is slower.
      log?.warn({ topic: rest.join(':'), partition: Number(p), error: errorText(e) }, 'kafka: tail seek deferred to filtering');
    }
  }
}
