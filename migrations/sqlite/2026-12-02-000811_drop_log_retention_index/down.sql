CREATE INDEX disclosure_records_retention ON disclosure_records (instance_id, retain_until_ms);
