-- 1-minute rollup of the unsorted tail (samples_recent), kept up to date by every insert in the
-- insert's transaction (ADR 0011, second amendment): one row per (patient key, metric, minute)
-- the tail holds, of de-duplicated rows. A batch's minute whose span [lo_ts, hi_ts] is disjoint
-- from the row's is added to it; one that intersects (a copy, a late sample) is recomputed from
-- the tail's raw rows. The trend query reads this instead of scanning the tail; the seal moves
-- it into samples_rollup_1m and empties it. At most one row per raw row of the tail, no index.
CREATE TABLE IF NOT EXISTS samples_recent_1m (
  patient_key VARCHAR NOT NULL,
  metric VARCHAR NOT NULL,
  minute_ms BIGINT NOT NULL,
  cnt BIGINT NOT NULL,
  min_v DOUBLE NOT NULL,
  max_v DOUBLE NOT NULL,
  sum_v DOUBLE NOT NULL,
  lo_ts BIGINT NOT NULL,
  hi_ts BIGINT NOT NULL
)
