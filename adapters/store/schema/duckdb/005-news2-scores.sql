-- NEWS2 results over time, deduplicated on (patient, event time); json holds the whole ScoreOutput.
CREATE TABLE IF NOT EXISTS news2_scores (
  patient_id VARCHAR NOT NULL,
  ward VARCHAR NOT NULL,
  ts TIMESTAMP NOT NULL,
  ts_ms BIGINT NOT NULL,
  score INTEGER NOT NULL,
  max_score INTEGER NOT NULL,
  risk VARCHAR NOT NULL,
  complete BOOLEAN NOT NULL,
  json VARCHAR NOT NULL,
  PRIMARY KEY (patient_id, ts_ms)
)
