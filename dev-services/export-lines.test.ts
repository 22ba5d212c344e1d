import { describe, expect, it } from 'vitest';
import { exportLines } from './index.js';

describe('exportLines', () => {
  it('renders one shell export per endpoint, newline-terminated', () => {
    expect(exportLines({ kafkaBrokers: '127.0.0.1:29092', clickhouseUrl: 'http://127.0.0.1:28123' })).toBe(
      'export KAFKA_BROKERS=127.0.0.1:29092\nexport CLICKHOUSE_URL=http://127.0.0.1:28123\n',
    );
  });

  it('uses the endpoints it is given, not the local defaults', () => {
    expect(exportLines({ kafkaBrokers: 'k1:9092,k2:9092', clickhouseUrl: 'http://ch:8123' })).toBe(
      'export KAFKA_BROKERS=k1:9092,k2:9092\nexport CLICKHOUSE_URL=http://ch:8123\n',
    );
  });
});
