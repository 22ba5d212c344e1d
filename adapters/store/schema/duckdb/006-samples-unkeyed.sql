-- Raw telemetry without a primary key (ADR 0011): a unique index over every row ever stored made
-- each insert, and the process's memory, grow with history. New rows are appended to
-- samples_recent (011) and moved here in sorted runs; re-delivered copies are hidden at read time
-- by the samples_unique view (013). Steps 006-010 move the existing rows over.
CREATE TABLE IF NOT EXISTS samples_unkeyed (
  patient_key VARCHAR NOT NULL,
  patient_id VARCHAR NOT NULL,
  device_id VARCHAR NOT NULL,
  ward VARCHAR NOT NULL,
  metric VARCHAR NOT NULL,
  ts TIMESTAMP NOT NULL,
  ts_ms BIGINT NOT NULL,
  value DOUBLE NOT NULL,
  quality REAL NOT NULL,
  source VARCHAR NOT NULL,
  recv_ts_ms BIGINT NOT NULL,
  trace_id VARCHAR NOT NULL
)
