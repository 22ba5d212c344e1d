-- Every alert lifecycle event; json holds the full AlertEvent for an exact round trip.
-- Dedup key is event_id (ORDER BY); readers also use LIMIT 1 BY event_id so an unmerged
-- duplicate is never returned twice.
CREATE TABLE IF NOT EXISTS alert_events (
  event_id String,
  alert_id String,
  patient_id String,
  ward String,
  rule_id String,
  kind String,
  priority String,
  state String,
  event String,
  ts DateTime,
  ts_ms UInt64,
  opened_at_ms UInt64,
  ack_by String,
  message String,
  value Nullable(Float64),
  json String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY event_id
