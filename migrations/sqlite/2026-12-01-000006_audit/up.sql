-- Every version of the register of processing activities the gateway has had in force, so that
-- a disclosure record (which names its register version) can be explained later with the
-- legal basis and purpose of that version, not of today's register. Written when a version is
-- loaded (start and reload); never changed.
CREATE TABLE register_versies (
    version      TEXT   NOT NULL PRIMARY KEY,
    loaded_at_ms BIGINT NOT NULL,
    -- JSON: [{"id", "name", "purpose", "legal_basis": {"citation", "reference"}, "provider",
    --         "valid_from", "valid_until", "retention_days"}]
    content      TEXT   NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER register_versies_no_update BEFORE UPDATE ON register_versies
BEGIN
    SELECT RAISE(ABORT, 'register versions are kept as loaded (UPDATE on register_versies)');
END;
CREATE TRIGGER register_versies_no_delete BEFORE DELETE ON register_versies
BEGIN
    SELECT RAISE(ABORT, 'register versions are kept as loaded (DELETE on register_versies)');
END;

-- The audit API filters on case references (and the anomaly signals group by them).
CREATE INDEX disclosure_records_case_reference ON disclosure_records (case_reference, start_time_ms)
    WHERE case_reference IS NOT NULL;
