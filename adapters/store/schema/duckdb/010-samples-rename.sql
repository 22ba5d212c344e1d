ALTER TABLE samples_unkeyed RENAME TO samples
