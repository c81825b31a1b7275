-- Every version of the register of processing activities the gateway has had in force, so that
-- a disclosure record (which names its register version) can be explained later with the
-- legal basis and purpose of that version, not of today's register. Written when a version is
-- loaded (start and reload); never changed.
CREATE TABLE register_versies (
    version      TEXT   PRIMARY KEY,
    loaded_at_ms BIGINT NOT NULL,
    -- JSON: [{"id", "name", "purpose", "legal_basis": {"citation", "reference"}, "provider",
    --         "valid_from", "valid_until", "retention_days"}]
    content      TEXT   NOT NULL
);

CREATE FUNCTION doelpoort_register_versies_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'register versions are kept as loaded (% on register_versies)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER register_versies_frozen BEFORE UPDATE OR DELETE ON register_versies
    FOR EACH ROW EXECUTE FUNCTION doelpoort_register_versies_frozen();
CREATE TRIGGER register_versies_no_truncate BEFORE TRUNCATE ON register_versies
    FOR EACH STATEMENT EXECUTE FUNCTION doelpoort_register_versies_frozen();
GRANT SELECT, INSERT ON register_versies TO doelpoort_logwriter;

-- The audit API filters on case references (and the anomaly signals group by them).
CREATE INDEX disclosure_records_case_reference ON disclosure_records (case_reference, start_time_ms)
    WHERE case_reference IS NOT NULL;
