DROP INDEX disclosure_records_case_reference;
DROP TABLE register_versies;
