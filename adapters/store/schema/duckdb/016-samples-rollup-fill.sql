-- Existing sealed runs enter the rollup once, through the same identity as samples_unique;
-- the unsorted tail is not in the rollup (queries aggregate it from raw rows).
INSERT INTO samples_rollup_1m
SELECT patient_key, metric, (ts_ms // 60000) * 60000 AS minute_ms, count(*), min(value), max(value), sum(value)
FROM (SELECT DISTINCT ON (patient_key, metric, ts_ms) patient_key, metric, ts_ms, value FROM samples)
GROUP BY patient_key, metric, minute_ms
ORDER BY patient_key, metric, minute_ms
