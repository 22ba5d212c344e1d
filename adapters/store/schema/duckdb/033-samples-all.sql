-- As 012, over the views.
CREATE VIEW IF NOT EXISTS samples_all AS
SELECT * FROM samples UNION ALL SELECT * FROM samples_recent
