-- The rollup view read the keyed table; it is recreated over samples_unique in 014.
DROP VIEW IF EXISTS samples_1m
