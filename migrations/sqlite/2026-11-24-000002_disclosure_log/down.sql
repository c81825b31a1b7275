DROP TABLE disclosure_checkpoints;
DROP TABLE disclosure_records;
