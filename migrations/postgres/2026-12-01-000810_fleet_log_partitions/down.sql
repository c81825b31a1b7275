-- Back to one table: the records moved into a plain table with the keys and triggers of
-- migrations 000002 and 000006.
CREATE TABLE disclosure_records_plain (
    instance_id            TEXT     NOT NULL,
    seq                    BIGINT   NOT NULL CHECK (seq >= 1),
    trace_id               BYTEA    NOT NULL CHECK (length(trace_id) = 16),
    operation_id           BYTEA    NOT NULL CHECK (length(operation_id) = 8),
    parent_operation_id    BYTEA    NULL CHECK (length(parent_operation_id) = 8),
    foreign_trace_id       BYTEA    NULL CHECK (length(foreign_trace_id) = 16),
    foreign_operation_id   BYTEA    NULL CHECK (length(foreign_operation_id) = 8),
    foreign_entity         TEXT     NULL,
    name                   TEXT     NOT NULL,
    start_time_ms          BIGINT   NOT NULL,
    end_time_ms            BIGINT   NOT NULL,
    status                 TEXT     NOT NULL CHECK (status IN ('OK', 'ERROR', 'UNKNOWN')),
    refusal_code           TEXT     NULL,
    processing_activity_id TEXT     NULL,
    register_version       TEXT     NULL,
    requester_oin          TEXT     NULL,
    provider_oin           TEXT     NULL,
    case_reference         TEXT     NULL,
    fields                 TEXT     NOT NULL,
    record_count           INTEGER  NOT NULL CHECK (record_count >= 0),
    subject_pseudonym      BYTEA    NULL CHECK (length(subject_pseudonym) = 32),
    retain_until_ms        BIGINT   NOT NULL,
    prev_hash              BYTEA    NOT NULL CHECK (length(prev_hash) = 32),
    hash                   BYTEA    NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO disclosure_records_plain SELECT * FROM disclosure_records;
DROP TABLE disclosure_records;
ALTER TABLE disclosure_records_plain RENAME TO disclosure_records;
ALTER TABLE disclosure_records ADD PRIMARY KEY (instance_id, seq);
DROP FUNCTION doelpoort_log_partition(TEXT, BIGINT);
DROP FUNCTION doelpoort_drop_log_partition(TEXT);
DROP TABLE disclosure_partitions;

CREATE INDEX disclosure_records_subject ON disclosure_records (subject_pseudonym, start_time_ms)
    WHERE subject_pseudonym IS NOT NULL;
CREATE INDEX disclosure_records_requester ON disclosure_records (requester_oin, start_time_ms);
CREATE INDEX disclosure_records_provider ON disclosure_records (provider_oin, start_time_ms);
CREATE INDEX disclosure_records_activity ON disclosure_records (processing_activity_id, start_time_ms);
CREATE INDEX disclosure_records_time ON disclosure_records (start_time_ms);
CREATE INDEX disclosure_records_operation ON disclosure_records (trace_id, operation_id);
CREATE INDEX disclosure_records_retention ON disclosure_records (instance_id, retain_until_ms);
CREATE INDEX disclosure_records_case_reference ON disclosure_records (case_reference, start_time_ms)
    WHERE case_reference IS NOT NULL;

CREATE OR REPLACE FUNCTION doelpoort_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only records past their retention may go (the purge); nothing else, ever.
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'disclosure_records' THEN
        IF OLD.retain_until_ms < (extract(epoch FROM clock_timestamp()) * 1000)::bigint THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the disclosure log is append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER disclosure_records_append_only BEFORE UPDATE OR DELETE ON disclosure_records
    FOR EACH ROW EXECUTE FUNCTION doelpoort_append_only();
CREATE TRIGGER disclosure_records_no_truncate BEFORE TRUNCATE ON disclosure_records
    FOR EACH STATEMENT EXECUTE FUNCTION doelpoort_append_only();
GRANT SELECT, INSERT ON disclosure_records TO doelpoort_logwriter;
