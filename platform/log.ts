/**
 * Structured logging (pino, JSON). Patient data is PHI: it must never reach a log line.
 * Defence in depth: known PHI keys are redacted wherever they appear, and the e2e
 * suite scans a whole run's logs for patient identifiers.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Keys that may carry patient data; redacted at any depth we log. */
export const PHI_KEYS = ['patientId', 'patient', 'patientName', 'name', 'mrn', 'metrics', 'payload', 'samples', 'value', 'bed'];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const k of PHI_KEYS) paths.push(k, `*.${k}`, `*.*.${k}`);
  return paths;
}

export interface LogOptions {
  level?: string;
  destination?: DestinationStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.VITALS_LOG_LEVEL ?? 'info',
      base: { pid: process.pid },
      redact: { paths: redactPaths(), censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 2, sync: false }),
  );
}
