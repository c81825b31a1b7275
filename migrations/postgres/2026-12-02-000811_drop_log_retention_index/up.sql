-- The index on (instance_id, retain_until_ms) served no query: a purge looks for the first
-- record still kept by walking the chain from its start along the primary key (instance_id,
-- seq), and stops there. Every record written paid for it all the same.
DROP INDEX disclosure_records_retention;
