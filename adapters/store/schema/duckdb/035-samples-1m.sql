-- As 014.
CREATE VIEW IF NOT EXISTS samples_1m AS
SELECT
  patient_key,
  metric,
  time_bucket(INTERVAL 1 MINUTE, ts) AS minute,
  min(value) AS min_v,
  max(value) AS max_v,
  avg(value) AS avg_v,
  count(*) AS cnt
FROM samples_unique
GROUP BY patient_key, metric, minute
