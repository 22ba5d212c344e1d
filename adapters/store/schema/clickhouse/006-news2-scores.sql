-- NEWS2 results over time, one row per (patient, event time); json holds the whole ScoreOutput
-- for an exact round trip, the other columns exist for filtering and ad-hoc trend queries.
-- Re-delivered scores collapse in merges; reads use FINAL. Day partitions, like samples, so
-- retention drops whole days.
CREATE TABLE IF NOT EXISTS news2_scores (
  patient_id String,
  ward String,
  ts DateTime,
  ts_ms UInt64,
  score UInt8,
  max_score UInt8,
  risk String,
  complete UInt8,
  json String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(ts)
ORDER BY (patient_id, ts_ms)
