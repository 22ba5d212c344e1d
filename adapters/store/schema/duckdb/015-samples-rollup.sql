-- 1-minute rollup of the sealed runs (ADR 0011 amendment): one row per (patient key, metric,
-- minute), computed from de-duplicated rows, so a re-delivered sample is never counted twice.
-- Maintained when the tail is sealed into a run: minutes new to the rollup are added from the
-- tail, minutes it already holds (a copy or a late sample) are recomputed from the sealed rows.
-- The 24-hour trend query reads about 1,440 of these rows plus the small unsorted tail instead
-- of 86,400 raw rows per metric. minute_ms is the minute's start in epoch ms; sum_v / cnt is
-- the mean. No key or index, as for raw rows: rows are appended sorted per seal.
CREATE TABLE IF NOT EXISTS samples_rollup_1m (
  patient_key VARCHAR NOT NULL,
  metric VARCHAR NOT NULL,
  minute_ms BIGINT NOT NULL,
  cnt BIGINT NOT NULL,
  min_v DOUBLE NOT NULL,
  max_v DOUBLE NOT NULL,
  sum_v DOUBLE NOT NULL
)
