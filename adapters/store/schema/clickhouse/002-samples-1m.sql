-- 1-minute rollup target, fed by the samples_1m_mv materialized view.
-- An MV sees every inserted block, duplicates included, so min/max are exact but count/avg can be
-- inflated by re-deliveries. uniq_ts (distinct event times) detects that: a bucket is clean iff
-- count = uniqExact(ts_ms), because ts_ms is the dedup key within (patient_key, metric).
-- Readers use clean buckets as-is and recompute dirty ones from samples FINAL (docs/storage.md).
CREATE TABLE IF NOT EXISTS samples_1m (
  patient_key String,
  metric String,
  minute DateTime,
  min_v AggregateFunction(min, Float64),
  max_v AggregateFunction(max, Float64),
  avg_v AggregateFunction(avg, Float64),
  cnt AggregateFunction(count),
  uniq_ts AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMMDD(minute)
ORDER BY (patient_key, metric, minute)
