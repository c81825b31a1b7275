-- The disclosure log partitioned by month: by range of start_time_ms (UTC months), and each
-- month by list of instance_id, one leaf table per (month, instance). A purge drops a whole
-- leaf once every record in it is past retention (src/disclosure/partitions.rs); a query over a
-- period reads only the months it names (partition pruning). SQLite keeps one table.
--
-- A primary key on a partitioned table must hold the partition keys: (instance_id, seq,
-- start_time_ms). That (instance_id, seq) is unique is the writer's to keep (one writer per
-- instance, seq = head + 1) and `log verify`'s to check: a second record with a seq breaks
-- the chain.
ALTER TABLE disclosure_records RENAME TO disclosure_records_unpartitioned;

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
    hash                   BYTEA    NOT NULL CHECK (length(hash) = 32)
) PARTITION BY RANGE (start_time_ms);

-- Which leaf holds which (instance, month). Written only by the two functions below.
CREATE TABLE disclosure_partitions (
    instance_id    TEXT   NOT NULL,
    month_start_ms BIGINT NOT NULL,
    month_end_ms   BIGINT NOT NULL,
    table_name     TEXT   NOT NULL UNIQUE,
    PRIMARY KEY (instance_id, month_start_ms)
);

-- Only records past their retention may go (the purge); nothing else, ever. Row triggers on a
-- partitioned table fire on its leaves (TG_TABLE_NAME is the leaf's name), so the log's
-- triggers say which they guard with an argument.
CREATE OR REPLACE FUNCTION doelpoort_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND (TG_TABLE_NAME = 'disclosure_records'
                             OR (TG_NARGS > 0 AND TG_ARGV[0] = 'records')) THEN
        IF OLD.retain_until_ms < (extract(epoch FROM clock_timestamp()) * 1000)::bigint THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the disclosure log is append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- The leaf for `instance`'s records at `at_ms` (and its month), made if missing. SECURITY
-- DEFINER: the gateway's role (doelpoort_logwriter: SELECT and INSERT only) may call it but
-- may not create, alter or drop tables itself. It waits at most 2 s for the lock on the log
-- (a long audit export holds it); the writer makes the next month's leaf a month ahead.
CREATE FUNCTION doelpoort_log_partition(p_instance TEXT, p_at_ms BIGINT) RETURNS TEXT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET lock_timeout = '2s' AS $$
DECLARE
    m        timestamp := date_trunc('month', to_timestamp(p_at_ms / 1000.0) AT TIME ZONE 'UTC');
    start_ms BIGINT := (extract(epoch FROM m AT TIME ZONE 'UTC') * 1000)::bigint;
    end_ms   BIGINT := (extract(epoch FROM (m + interval '1 month') AT TIME ZONE 'UTC') * 1000)::bigint;
    month_t  TEXT := 'disclosure_records_' || to_char(m, 'YYYY"m"MM');
    leaf     TEXT := month_t || '_' || left(encode(sha256(convert_to(p_instance, 'UTF8')), 'hex'), 12);
    found_t  TEXT;
BEGIN
    SELECT table_name INTO found_t FROM disclosure_partitions
        WHERE instance_id = p_instance AND month_start_ms = start_ms;
    IF found_t IS NOT NULL THEN
        RETURN found_t;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('doelpoort_log_partition'));
    SELECT table_name INTO found_t FROM disclosure_partitions
        WHERE instance_id = p_instance AND month_start_ms = start_ms;
    IF found_t IS NOT NULL THEN
        RETURN found_t;
    END IF;
    IF to_regclass(month_t) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF disclosure_records FOR VALUES FROM (%s) TO (%s) PARTITION BY LIST (instance_id)',
                       month_t, start_ms, end_ms);
        EXECUTE format('CREATE TRIGGER no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION doelpoort_append_only()', month_t);
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES IN (%L)', leaf, month_t, p_instance);
    EXECUTE format('CREATE TRIGGER no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION doelpoort_append_only()', leaf);
    INSERT INTO disclosure_partitions VALUES (p_instance, start_ms, end_ms, leaf);
    RETURN leaf;
END
$$;

-- Drops a leaf, only if the database's own clock says every record in it is past retention
-- (as the DELETE trigger would), and its month when no leaf is left in it. Owner only.
CREATE FUNCTION doelpoort_drop_log_partition(p_table TEXT) RETURNS BIGINT
LANGUAGE plpgsql SET search_path = public SET lock_timeout = '5s' AS $$
DECLARE
    kept   BIGINT;
    n      BIGINT;
    parent TEXT;
BEGIN
    IF NOT EXISTS (SELECT FROM disclosure_partitions WHERE table_name = p_table) THEN
        RAISE EXCEPTION '% is not a partition of the disclosure log', p_table;
    END IF;
    EXECUTE format('SELECT count(*) FILTER (WHERE retain_until_ms >= %s), count(*) FROM %I',
                   (extract(epoch FROM clock_timestamp()) * 1000)::bigint, p_table) INTO kept, n;
    IF kept > 0 THEN
        RAISE EXCEPTION 'the disclosure log is append-only (% records in % are not past retention)', kept, p_table
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT i.inhparent::regclass::text INTO parent FROM pg_inherits i
        WHERE i.inhrelid = to_regclass(p_table);
    EXECUTE format('DROP TABLE %I', p_table);
    DELETE FROM disclosure_partitions WHERE table_name = p_table;
    IF parent IS NOT NULL AND parent <> 'disclosure_records'
       AND NOT EXISTS (SELECT FROM pg_inherits WHERE inhparent = to_regclass(parent)) THEN
        EXECUTE format('DROP TABLE %I', parent);
    END IF;
    RETURN n;
END
$$;

-- The records there are, moved in.
SELECT doelpoort_log_partition(instance_id, month_ms) FROM (
    SELECT DISTINCT instance_id,
        (extract(epoch FROM date_trunc('month', to_timestamp(start_time_ms / 1000.0) AT TIME ZONE 'UTC')
                        AT TIME ZONE 'UTC') * 1000)::bigint AS month_ms
    FROM disclosure_records_unpartitioned
) months;
INSERT INTO disclosure_records SELECT * FROM disclosure_records_unpartitioned;
DROP TABLE disclosure_records_unpartitioned;

ALTER TABLE disclosure_records ADD PRIMARY KEY (instance_id, seq, start_time_ms);
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

CREATE TRIGGER disclosure_records_append_only BEFORE UPDATE OR DELETE ON disclosure_records
    FOR EACH ROW EXECUTE FUNCTION doelpoort_append_only('records');
CREATE TRIGGER disclosure_records_no_truncate BEFORE TRUNCATE ON disclosure_records
    FOR EACH STATEMENT EXECUTE FUNCTION doelpoort_append_only();

GRANT SELECT, INSERT ON disclosure_records TO doelpoort_logwriter;
GRANT SELECT ON disclosure_partitions TO doelpoort_logwriter;
REVOKE ALL ON FUNCTION doelpoort_log_partition(TEXT, BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION doelpoort_log_partition(TEXT, BIGINT) TO doelpoort_logwriter;
REVOKE ALL ON FUNCTION doelpoort_drop_log_partition(TEXT) FROM PUBLIC;
