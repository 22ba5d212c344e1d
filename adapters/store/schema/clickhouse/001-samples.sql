-- Raw telemetry: one row per (patient key, metric, event time).
-- ReplacingMergeTree collapses re-delivered rows (at-least-once bus) in background merges;
-- reads use FINAL so a duplicate that has not been merged yet is still invisible.
-- ts (DateTime, seconds) exists for partitioning: DateTime64 is not on 18.16, so ts_ms keeps the milliseconds.
-- Empty string means "absent" for patient_id and ward (unassigned device / no ward); quality -1 means "not reported".
CREATE TABLE IF NOT EXISTS samples (
  patient_key String,
  patient_id String,
  device_id String,
  ward String,
  metric String,
  ts DateTime,
  ts_ms UInt64,
  value Float64,
  quality Float32,
  source String,
  recv_ts_ms UInt64,
  trace_id String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(ts)
ORDER BY (patient_key, metric, ts_ms)
