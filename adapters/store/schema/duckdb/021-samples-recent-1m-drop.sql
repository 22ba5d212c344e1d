-- The tail's 1-minute rollup is now held in memory by the store process and rebuilt from
-- samples_recent (the raw rows, the truth) when a store opens (ADR 0011, third amendment); the
-- seal writes it in bulk through a temp table. The per-insert table of migration 019 is unused.
DROP TABLE IF EXISTS samples_recent_1m
