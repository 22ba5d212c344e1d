DROP VIEW IF EXISTS samples_all
