-- Append-only audit trail, deduplicated on id. Never touched by erasePatient.
CREATE TABLE IF NOT EXISTS audit (
  id String,
  ts DateTime,
  ts_ms UInt64,
  user_id String,
  role String,
  action String,
  resource String,
  patient_id Nullable(String),
  address String,
  outcome String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY id
