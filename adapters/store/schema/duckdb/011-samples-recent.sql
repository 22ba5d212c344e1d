-- Where inserts append (DuckDB appender). When it holds sealRows rows the store moves them to
-- samples sorted by (patient_key, metric, ts_ms), so a query for one patient reads a few row
-- groups of each sorted run (zone maps) instead of every row of the time range.
CREATE TABLE IF NOT EXISTS samples_recent (
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
