-- Every stored raw row, sealed or recent, duplicates included.
CREATE VIEW IF NOT EXISTS samples_all AS
SELECT * FROM samples UNION ALL SELECT * FROM samples_recent
