-- THE identity of a stored sample, in one place: rows equal on these columns are one sample
-- (at-least-once delivery writes a re-delivered batch again). Every read of raw telemetry goes
-- through this view; DuckDB pushes the readers' key and time filters below the DISTINCT ON and
-- the UNION ALL, so de-duplication costs only the rows a query reads. Which copy is kept is
-- unspecified. To change the identity (e.g. add `source`), add a migration replacing this view.
CREATE VIEW IF NOT EXISTS samples_unique AS
SELECT DISTINCT ON (patient_key, metric, ts_ms) * FROM samples_all
