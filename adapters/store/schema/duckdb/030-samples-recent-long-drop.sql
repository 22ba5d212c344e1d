DROP TABLE samples_recent
