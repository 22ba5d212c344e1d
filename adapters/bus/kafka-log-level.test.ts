import { describe, expect, it } from 'vitest';
import { isLeadershipMove } from './kafka-log-level.js';

describe('kafkajs log level', () => {
  it('leader and coordinator moves are routine; other errors are not', () => {
    expect(isLeadershipMove('This server is not the leader for that topic-partition')).toBe(true);
    expect(isLeadershipMove(new Error('This is not the correct coordinator for this group'))).toBe(true);
    expect(isLeadershipMove('KafkaJSProtocolError: There is no leader for this topic-partition as we are in the middle of a leadership election')).toBe(true);
    expect(isLeadershipMove('Connection error: connect ECONNREFUSED 127.0.0.1:9092')).toBe(false);
    expect(isLeadershipMove('The broker received an out of order sequence number')).toBe(false);
    expect(isLeadershipMove(undefined)).toBe(false);
  });
});
