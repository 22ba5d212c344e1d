-- Append-only audit trail, deduplicated on id. Never touched by erasePatient.
CREATE TABLE IF NOT EXISTS audit (
  id VARCHAR PRIMARY KEY,
  ts TIMESTAMP NOT NULL,
  ts_ms BIGINT NOT NULL,
  user_id VARCHAR NOT NULL,
  role VARCHAR NOT NULL,
  action VARCHAR NOT NULL,
  resource VARCHAR NOT NULL,
  patient_id VARCHAR,
  address VARCHAR NOT NULL,
  outcome VARCHAR NOT NULL
)
