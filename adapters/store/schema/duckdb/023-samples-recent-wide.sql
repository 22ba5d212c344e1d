-- The unsorted tail in the shape of samples_wide (022): where inserts append; every sealRows values
-- it is moved to samples_wide as one sorted run.
CREATE TABLE IF NOT EXISTS samples_recent_wide (
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
