ALTER TABLE samples_rollup_1m ADD COLUMN hi_ts BIGINT
