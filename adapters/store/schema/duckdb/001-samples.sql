-- Raw telemetry: one row per (patient key, metric, event time), enforced by the primary key;
-- inserts use INSERT OR IGNORE, so a re-delivered sample is dropped at write time.
-- Same shape as ClickHouse: '' means absent for patient_id/ward, quality -1 means not reported.
CREATE TABLE IF NOT EXISTS samples (
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
  trace_id VARCHAR NOT NULL,
  PRIMARY KEY (patient_key, metric, ts_ms)
)
