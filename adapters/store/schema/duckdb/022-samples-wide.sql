-- Raw samples as stored since 022 (ADR 0011, seventh amendment): one row per sample, a value and a
-- quality column per metric (NULL: not reported), in sorted runs by (patient_key, ts_ms). A row per
-- metric repeated every key, time and trace column four to six times: DuckDB's string statistics and
-- compression of those copies were most of an insert's and a seal's CPU. Readers see one row per
-- metric through the view `samples` (031), as before. A new metric is a new column pair here and in 023.
CREATE TABLE IF NOT EXISTS samples_wide (
  patient_key VARCHAR NOT NULL,
  patient_id VARCHAR NOT NULL,
  device_id VARCHAR NOT NULL,
  ward VARCHAR NOT NULL,
  ts_ms BIGINT NOT NULL,
  source VARCHAR NOT NULL,
  recv_ts_ms BIGINT NOT NULL,
  trace_id VARCHAR NOT NULL,
  v_hr DOUBLE,
  q_hr REAL,
  v_spo2 DOUBLE,
  q_spo2 REAL,
  v_rr DOUBLE,
  q_rr REAL,
  v_temp DOUBLE,
  q_temp REAL,
  v_sbp DOUBLE,
  q_sbp REAL,
  v_dbp DOUBLE,
  q_dbp REAL
)
