-- The tail an existing store holds enters its rollup once, through the identity of samples_unique.
INSERT INTO samples_recent_1m
SELECT patient_key, metric, (ts_ms // 60000) * 60000 AS minute_ms, count(*), min(value), max(value), sum(value), min(ts_ms), max(ts_ms)
FROM (SELECT DISTINCT ON (patient_key, metric, ts_ms) patient_key, metric, ts_ms, value FROM samples_recent)
GROUP BY patient_key, metric, minute_ms
ORDER BY patient_key, metric, minute_ms
