-- The rollup view reads samples; it is recreated over samples_unique in 011.
DROP VIEW IF EXISTS samples_1m
