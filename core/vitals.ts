/**
 * The canonical sample: the contract on the `vitals.samples` topic.
 * Units are fixed; ingest converts everything else before a sample gets here.
 */

/** Metric names and their fixed units. */
export const METRICS = {
  hr: { unit: '/min', label: 'Heart rate' },
  spo2: { unit: '%', label: 'SpO2' },
  rr: { unit: '/min', label: 'Respiration rate' },
  temp: { unit: 'Cel', label: 'Temperature' },
  sbp: { unit: 'mm[Hg]', label: 'Systolic BP' },
  dbp: { unit: 'mm[Hg]', label: 'Diastolic BP' },
} as const;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

export function isMetricName(s: string): s is MetricName {
  return Object.prototype.hasOwnProperty.call(METRICS, s);
}

/** ACVPU consciousness scale: Alert, new Confusion, Voice, Pain, Unresponsive. */
export type Acvpu = 'A' | 'C' | 'V' | 'P' | 'U';
export const ACVPU_VALUES: readonly Acvpu[] = ['A', 'C', 'V', 'P', 'U'];

export type SampleSource = 'device' | 'manual';

export interface CanonicalSample {
  v: 1;
  deviceId: string;
  /** null when the device has no patient assignment: stored, never scored. */
  patientId: string | null;
  ward: string | null;
  bed?: string | null;
  /** Event time (device clock), epoch ms. */
  ts: number;
  /** Time ingest received it, epoch ms. */
  recvTs: number;
  source: SampleSource;
  metrics: Partial<Record<MetricName, number>>;
  /** Per-metric signal quality, 0..1. */
  quality?: Partial<Record<MetricName, number>>;
  /** On supplemental oxygen. */
  o2?: boolean;
  acvpu?: Acvpu;
  /** Battery level 0..1. */
  battery?: number;
  traceId: string;
}

/** The bus key of a sample: patient when assigned (per-patient order), device otherwise. */
export function sampleKey(s: Pick<CanonicalSample, 'patientId' | 'deviceId'>): string {
  return s.patientId ?? `device:${s.deviceId}`;
}
