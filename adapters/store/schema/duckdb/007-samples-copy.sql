-- Existing rows are unique (the old primary key); sorted, as every run in this table is.
INSERT INTO samples_unkeyed SELECT * FROM samples ORDER BY patient_key, metric, ts_ms
