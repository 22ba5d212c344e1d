-- 1-minute rollup as a plain view: at embedded scale GROUP BY over the raw rows is fast enough,
-- and raw rows are already deduplicated, so the view can never double-count.
CREATE VIEW IF NOT EXISTS samples_1m AS
SELECT
  patient_key,
  metric,
  time_bucket(INTERVAL 1 MINUTE, ts) AS minute,
  min(value) AS min_v,
  max(value) AS max_v,
  avg(value) AS avg_v,
  count(*) AS cnt
FROM samples
GROUP BY patient_key, metric, minute
