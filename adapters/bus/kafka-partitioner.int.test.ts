// docs/decisions/0005: the producer names its partitioner, so kafkajs' "switched default
// partitioner" warning never fires and no KAFKAJS_NO_PARTITIONER_WARNING is needed. kafkajs warns
// at most once per module instance; this file runs in its own worker, so nothing earlier hid it.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/log.js';
import { createKafkaBus } from './kafka.js';

describe('Kafka bus partitioner', () => {
  it('connects without the partitioner warning, with KAFKAJS_NO_PARTITIONER_WARNING unset', async () => {
    delete process.env['KAFKAJS_NO_PARTITIONER_WARNING'];
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
    const bus = await createKafkaBus({ brokers: (process.env['KAFKA_BROKERS'] ?? '').split(','), clientId: 'vitals-partitioner-check', log });
    await bus.close();
    expect(lines.filter((l) => /partitioner/i.test(l))).toEqual([]);
  });
});
