ALTER TABLE samples_append RENAME TO samples
