-- The disclosure log (Logboek Dataverwerkingen): one record per disclosure per data subject,
-- one per refused request. Each gateway instance keeps its own hash chain (instance_id, seq).
-- Append-only: UPDATE and TRUNCATE are refused, DELETE only of records past their retention.
CREATE TABLE disclosure_records (
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
    hash                   BYTEA    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (instance_id, seq)
);

CREATE INDEX disclosure_records_subject ON disclosure_records (subject_pseudonym, start_time_ms)
    WHERE subject_pseudonym IS NOT NULL;
CREATE INDEX disclosure_records_requester ON disclosure_records (requester_oin, start_time_ms);
CREATE INDEX disclosure_records_provider ON disclosure_records (provider_oin, start_time_ms);
CREATE INDEX disclosure_records_activity ON disclosure_records (processing_activity_id, start_time_ms);
CREATE INDEX disclosure_records_time ON disclosure_records (start_time_ms);
CREATE INDEX disclosure_records_operation ON disclosure_records (trace_id, operation_id);
CREATE INDEX disclosure_records_retention ON disclosure_records (instance_id, retain_until_ms);

-- Signed checkpoints of each instance's chain: periodic, and one after every purge.
CREATE TABLE disclosure_checkpoints (
    instance_id     TEXT    NOT NULL,
    seq             BIGINT  NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('periodic', 'purge')),
    head_hash       BYTEA   NOT NULL CHECK (length(head_hash) = 32),
    first_seq       BIGINT  NOT NULL,
    first_prev_hash BYTEA   NOT NULL CHECK (length(first_prev_hash) = 32),
    created_at_ms   BIGINT  NOT NULL,
    public_key      BYTEA   NOT NULL CHECK (length(public_key) = 32),
    signature       BYTEA   NOT NULL CHECK (length(signature) = 64),
    PRIMARY KEY (instance_id, seq, kind)
);

CREATE FUNCTION doelpoort_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER disclosure_checkpoints_append_only BEFORE UPDATE OR DELETE ON disclosure_checkpoints
    FOR EACH ROW EXECUTE FUNCTION doelpoort_append_only();
CREATE TRIGGER disclosure_checkpoints_no_truncate BEFORE TRUNCATE ON disclosure_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION doelpoort_append_only();

-- A role for the gateway's own connections in production: it may read and append, nothing else.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'doelpoort_logwriter') THEN
        CREATE ROLE doelpoort_logwriter NOLOGIN;
    END IF;
END
$$;
GRANT SELECT, INSERT ON disclosure_records, disclosure_checkpoints TO doelpoort_logwriter;
