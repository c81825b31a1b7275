DROP TABLE disclosure_checkpoints;
DROP TABLE disclosure_records;
DROP FUNCTION doelpoort_append_only();
