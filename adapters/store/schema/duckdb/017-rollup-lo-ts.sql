-- Span of event times a rollup row aggregates (ADR 0011, second amendment). Rows of one minute
-- with disjoint spans cannot share a sample, so a seal may append a minute's new part as a
-- second row, and a query may add the tail's row to it, without reading raw rows. NULL (rows
-- from before this step) means unknown: such a minute is recomputed from raw rows when touched.
ALTER TABLE samples_rollup_1m ADD COLUMN lo_ts BIGINT
