import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { busContract } from '../../test/support/bus-contract.js';
import { createKafkaBus, describeKafkaTopics, mapKafkaError } from './kafka.js';

// The full suite runs against a real broker: the global setup starts one (or uses the given
// KAFKA_BROKERS). Unset means the setup did not run: fail loudly rather than skip.
const brokersEnv = process.env['KAFKA_BROKERS'];

describe('Kafka bus environment', () => {
  it('KAFKA_BROKERS is set (test/global-setup.ts provides it)', () => {
    expect(brokersEnv, 'KAFKA_BROKERS must point at a real Kafka for the integration suite').toBeTruthy();
  });
});

const brokers = (brokersEnv ?? '').split(',').filter(Boolean);

busContract('kafka', () => createKafkaBus({ brokers, clientId: 'vitals-contract', connectTimeoutMs: 15_000, retryBackoffMs: { initial: 50, max: 500 } }), {
  partitions: 3,
});

describe('Kafka bus specifics', () => {
  it('fails with a retriable error within connectTimeoutMs, also against a peer that never answers', async () => {
    // Worst case: the TCP connect succeeds and the request then hangs (kafkajs would wait 30 s).
    const sockets = new Set<net.Socket>();
    const blackHole = net.createServer((s) => void sockets.add(s));
    await new Promise<void>((res) => blackHole.listen(0, '127.0.0.1', res));
    const port = (blackHole.address() as net.AddressInfo).port;
    // And a port nobody listens on: taken from the OS, then released.
    const probe = net.createServer();
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
    const closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((res) => probe.close(() => res()));
    try {
      for (const broker of [`127.0.0.1:${port}`, `127.0.0.1:${closedPort}`]) {
        const t0 = Date.now();
        const err = await createKafkaBus({ brokers: [broker], connectTimeoutMs: 1500 }).catch((e: unknown) => e);
        expect(Date.now() - t0, broker).toBeLessThan(4000);
        expect(err, broker).toMatchObject({ code: 'VTL_ERR_BUS_UNAVAILABLE', retriable: true });
      }
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => blackHole.close(() => res()));
    }
  });

  it('maps kafkajs errors to retriable and non-retriable codes', () => {
    const retriesExceeded = Object.assign(new Error('retries'), {
      name: 'KafkaJSNumberOfRetriesExceeded',
      retriable: false,
      cause: Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError', retriable: true }),
    });
    expect(mapKafkaError(retriesExceeded, 'publish')).toMatchObject({ code: 'VTL_ERR_BUS_UNAVAILABLE', retriable: true });
    const tooLarge = Object.assign(new Error('too large'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false });
    expect(mapKafkaError(tooLarge, 'publish')).toMatchObject({ code: 'VTL_ERR_PAYLOAD_TOO_LARGE', retriable: false });
    const unknownTopic = Object.assign(new Error('unknown'), { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true });
    expect(mapKafkaError(unknownTopic, 'publish')).toMatchObject({ code: 'VTL_ERR_NOT_FOUND', retriable: false });
  });

  it('creates topics with the compaction and retention configs of their specs', async () => {
    const bus = await createKafkaBus({ brokers, clientId: 'vitals-contract' });
    try {
      const name = `contract.cfg.${Date.now()}`;
      await bus.ensureTopics([{ name, partitions: 1, compacted: true }, { name: `${name}.r`, partitions: 2, retentionMs: 3_600_000 }]);
      await bus.ensureTopics([{ name, partitions: 1, compacted: true }]);
      const [compacted, retained] = await describeKafkaTopics(brokers, [name, `${name}.r`]);
      expect(compacted).toMatchObject({ partitions: 1, configs: { 'cleanup.policy': 'compact' } });
      expect(retained).toMatchObject({ partitions: 2, configs: { 'retention.ms': '3600000' } });
    } finally {
      await bus.close();
    }
  });
});
