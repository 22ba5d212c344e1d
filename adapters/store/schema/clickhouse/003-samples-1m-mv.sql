-- TO an explicit table (not an inner one) so erasure and retention can address it by name.
CREATE MATERIALIZED VIEW IF NOT EXISTS samples_1m_mv TO samples_1m AS
SELECT
  patient_key,
  metric,
  toStartOfMinute(ts) AS minute,
  minState(value) AS min_v,
  maxState(value) AS max_v,
  avgState(value) AS avg_v,
  countState() AS cnt,
  uniqExactState(ts_ms) AS uniq_ts
FROM samples
GROUP BY patient_key, metric, minute
