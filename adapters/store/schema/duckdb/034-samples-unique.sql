-- As 013 (the identity of a stored sample is unchanged: patient_key, metric, ts_ms).
CREATE VIEW IF NOT EXISTS samples_unique AS
SELECT DISTINCT ON (patient_key, metric, ts_ms) * FROM samples_all
