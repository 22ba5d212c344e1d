/**
 * The kafkajs client as this adapter uses it: its exports, its log lines bridged to ours, and the
 * deadlines every call that may hang on a broker is raced against.
 */
import kafkajs from 'kafkajs';
import type { LogEntry } from 'kafkajs';
import type { Logger } from '../../../platform/log.js';
import { isLeadershipMove } from '../kafka-log-level.js';

export const { AssignerProtocol, ConfigResourceTypes, Kafka, Partitioners, logLevel } = kafkajs;
export type KafkaClient = InstanceType<typeof Kafka>;

export const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/** Race a promise against a deadline; the loser's rejection is swallowed. */
export async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  p.catch(() => undefined);
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(onTimeout()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Logger bridge: kafkajs' own lines, reduced to fields that cannot carry payloads. */
export function logCreator(log: Logger | undefined) {
  return () =>
    ({ namespace, level, log: entry }: LogEntry): void => {
      if (!log) return;
      // Deliberate choice (bounded publish latency), documented in the ADR; not worth a warning per start.
      if (entry.message.startsWith('Limiting retries for the idempotent producer')) return;
      const fields: Record<string, unknown> = { component: 'kafkajs', namespace };
      for (const k of ['groupId', 'topic', 'broker', 'clientId', 'retryCount', 'retryTime'] as const) {
        if (entry[k] !== undefined) fields[k] = entry[k];
      }
      if (typeof entry.error === 'string') fields.error = entry.error.slice(0, 300);
      else if (entry.error instanceof Error) fields.error = `${entry.error.name}: ${entry.error.message}`.slice(0, 300);
      if (level === logLevel.ERROR && !isLeadershipMove(entry.error)) log.error(fields, entry.message);
      else if (level === logLevel.ERROR) log.warn(fields, `${entry.message} (leadership move; retried)`);
      else if (level === logLevel.WARN) log.warn(fields, entry.message);
      else log.debug(fields, entry.message);
    };
}
