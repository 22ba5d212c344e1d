DROP VIEW IF EXISTS samples_unique
