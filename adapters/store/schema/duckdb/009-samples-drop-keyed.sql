DROP TABLE samples
