-- Every alert lifecycle event, deduplicated on event_id; json holds the full AlertEvent.
CREATE TABLE IF NOT EXISTS alert_events (
  event_id VARCHAR PRIMARY KEY,
  alert_id VARCHAR NOT NULL,
  patient_id VARCHAR NOT NULL,
  ward VARCHAR NOT NULL,
  rule_id VARCHAR NOT NULL,
  kind VARCHAR NOT NULL,
  priority VARCHAR NOT NULL,
  state VARCHAR NOT NULL,
  event VARCHAR NOT NULL,
  ts TIMESTAMP NOT NULL,
  ts_ms BIGINT NOT NULL,
  opened_at_ms BIGINT NOT NULL,
  ack_by VARCHAR NOT NULL,
  message VARCHAR NOT NULL,
  value DOUBLE,
  json VARCHAR NOT NULL
)
