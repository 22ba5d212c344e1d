-- Existing rows are already unique (the old primary key), so a plain copy keeps them so.
INSERT INTO samples_append SELECT * FROM samples
