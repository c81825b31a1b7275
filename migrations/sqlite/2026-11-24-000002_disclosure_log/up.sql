-- The disclosure log (Logboek Dataverwerkingen): one record per disclosure per data subject,
-- one per refused request. Each gateway instance keeps its own hash chain (instance_id, seq).
-- Append-only: UPDATE is refused, DELETE only of records past their retention.
CREATE TABLE disclosure_records (
    instance_id            TEXT    NOT NULL,
    seq                    BIGINT  NOT NULL CHECK (seq >= 1),
    trace_id               BLOB    NOT NULL CHECK (length(trace_id) = 16),
    operation_id           BLOB    NOT NULL CHECK (length(operation_id) = 8),
    parent_operation_id    BLOB    NULL CHECK (length(parent_operation_id) = 8),
    foreign_trace_id       BLOB    NULL CHECK (length(foreign_trace_id) = 16),
    foreign_operation_id   BLOB    NULL CHECK (length(foreign_operation_id) = 8),
    foreign_entity         TEXT    NULL,
    name                   TEXT    NOT NULL,
    start_time_ms          BIGINT  NOT NULL,
    end_time_ms            BIGINT  NOT NULL,
    status                 TEXT    NOT NULL CHECK (status IN ('OK', 'ERROR', 'UNKNOWN')),
    refusal_code           TEXT    NULL,
    processing_activity_id TEXT    NULL,
    register_version       TEXT    NULL,
    requester_oin          TEXT    NULL,
    provider_oin           TEXT    NULL,
    case_reference         TEXT    NULL,
    fields                 TEXT    NOT NULL,
    record_count           INTEGER NOT NULL CHECK (record_count >= 0),
    subject_pseudonym      BLOB    NULL CHECK (length(subject_pseudonym) = 32),
    retain_until_ms        BIGINT  NOT NULL,
    prev_hash              BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash                   BLOB    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;

CREATE INDEX disclosure_records_subject ON disclosure_records (subject_pseudonym, start_time_ms)
    WHERE subject_pseudonym IS NOT NULL;
CREATE INDEX disclosure_records_requester ON disclosure_records (requester_oin, start_time_ms);
CREATE INDEX disclosure_records_provider ON disclosure_records (provider_oin, start_time_ms);
CREATE INDEX disclosure_records_activity ON disclosure_records (processing_activity_id, start_time_ms);
CREATE INDEX disclosure_records_time ON disclosure_records (start_time_ms);
CREATE INDEX disclosure_records_operation ON disclosure_records (trace_id, operation_id);
CREATE INDEX disclosure_records_retention ON disclosure_records (instance_id, retain_until_ms);

CREATE TABLE disclosure_checkpoints (
    instance_id     TEXT    NOT NULL,
    seq             BIGINT  NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('periodic', 'purge')),
    head_hash       BLOB    NOT NULL CHECK (length(head_hash) = 32),
    first_seq       BIGINT  NOT NULL,
    first_prev_hash BLOB    NOT NULL CHECK (length(first_prev_hash) = 32),
    created_at_ms   BIGINT  NOT NULL,
    public_key      BLOB    NOT NULL CHECK (length(public_key) = 32),
    signature       BLOB    NOT NULL CHECK (length(signature) = 64),
    PRIMARY KEY (instance_id, seq, kind)
) WITHOUT ROWID;

CREATE TRIGGER disclosure_records_no_update BEFORE UPDATE ON disclosure_records
BEGIN
    SELECT RAISE(ABORT, 'the disclosure log is append-only (UPDATE on disclosure_records)');
END;
CREATE TRIGGER disclosure_records_no_delete BEFORE DELETE ON disclosure_records
    WHEN OLD.retain_until_ms >= CAST(strftime('%s', 'now') AS INTEGER) * 1000
BEGIN
    SELECT RAISE(ABORT, 'the disclosure log is append-only (DELETE on disclosure_records before retention)');
END;
CREATE TRIGGER disclosure_checkpoints_no_update BEFORE UPDATE ON disclosure_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'the disclosure log is append-only (UPDATE on disclosure_checkpoints)');
END;
CREATE TRIGGER disclosure_checkpoints_no_delete BEFORE DELETE ON disclosure_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'the disclosure log is append-only (DELETE on disclosure_checkpoints)');
END;
