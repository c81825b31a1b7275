-- Signals between organisations (activities signaal-melding and laa-signaal): the signal as
-- its sender wrote it, the persons it names, and its status history. The history is
-- append-only: a status change adds a row, no row is ever changed, and no row goes while its
-- signal exists. `signalen.status` and `statusvolgnummer` repeat the newest history row (the
-- only columns of a signal that ever change), so an inbox can be filtered by status and a
-- change can be made only from the state it was checked against.
CREATE TABLE signalen (
    id                            TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    activiteit                    TEXT    NOT NULL,
    soort                         TEXT    NOT NULL CHECK (soort IN ('melding', 'verzoek-gezamenlijke-interventie', 'laa-signaal', 'informatie')),
    afzender_oin                  TEXT    NOT NULL CHECK (length(afzender_oin) = 20),
    ontvanger_oin                 TEXT    NOT NULL CHECK (length(ontvanger_oin) = 20),
    omschrijving                  TEXT    NOT NULL,
    urgent                        BOOLEAN NOT NULL,
    adres_postcode                TEXT    NULL CHECK (length(adres_postcode) = 6),
    adres_huisnummer              INTEGER NULL,
    adres_huisletter              TEXT    NULL,
    adres_huisnummertoevoeging    TEXT    NULL,
    werkgever_loonheffingennummer TEXT    NULL CHECK (length(werkgever_loonheffingennummer) = 12),
    werkgever_kvk_nummer          TEXT    NULL CHECK (length(werkgever_kvk_nummer) = 8),
    werkgever_naam                TEXT    NULL,
    aantal_inschrijvingen         INTEGER NULL,
    status                        TEXT    NOT NULL CHECK (status IN ('ontvangen', 'in-behandeling', 'doorverwezen', 'afgesloten')),
    statusvolgnummer              INTEGER NOT NULL CHECK (statusvolgnummer >= 1),
    ontvangen_ms                  BIGINT  NOT NULL,
    CHECK (afzender_oin <> ontvanger_oin)
);

-- Inbox and outbox pages, newest first, with and without a status filter.
CREATE INDEX signalen_inbox ON signalen (ontvanger_oin, activiteit, ontvangen_ms, id);
CREATE INDEX signalen_outbox ON signalen (afzender_oin, activiteit, ontvangen_ms, id);
CREATE INDEX signalen_inbox_status ON signalen (ontvanger_oin, activiteit, status, ontvangen_ms, id);
CREATE INDEX signalen_outbox_status ON signalen (afzender_oin, activiteit, status, ontvangen_ms, id);

-- The persons a signal names (the source data of the exchange, as rni_personen is).
CREATE TABLE signaal_betrokkenen (
    signaal_id          TEXT    NOT NULL REFERENCES signalen (id) ON DELETE CASCADE,
    volgnummer          INTEGER NOT NULL,
    burgerservicenummer TEXT    NOT NULL CHECK (length(burgerservicenummer) = 9),
    PRIMARY KEY (signaal_id, volgnummer)
);

CREATE TABLE signaal_statussen (
    signaal_id  TEXT    NOT NULL REFERENCES signalen (id) ON DELETE CASCADE,
    volgnummer  INTEGER NOT NULL CHECK (volgnummer >= 1),
    status      TEXT    NOT NULL CHECK (status IN ('ontvangen', 'in-behandeling', 'doorverwezen', 'afgesloten')),
    reden       TEXT    NULL,
    uitkomst    TEXT    NULL,
    tijdstip_ms BIGINT  NOT NULL,
    door_oin    TEXT    NOT NULL CHECK (length(door_oin) = 20),
    PRIMARY KEY (signaal_id, volgnummer),
    CHECK (volgnummer = 1 OR (reden IS NOT NULL AND length(trim(reden)) > 0))
);

CREATE FUNCTION signaal_statussen_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM signalen WHERE id = OLD.signaal_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the status history of a signal is append-only (% on signaal_statussen)', TG_OP;
END;
$$;
CREATE TRIGGER signaal_statussen_append_only BEFORE UPDATE OR DELETE ON signaal_statussen
    FOR EACH ROW EXECUTE FUNCTION signaal_statussen_append_only();
CREATE FUNCTION signaal_statussen_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the status history of a signal is append-only (TRUNCATE on %)', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER signaal_statussen_no_truncate BEFORE TRUNCATE ON signaal_statussen
    FOR EACH STATEMENT EXECUTE FUNCTION signaal_statussen_no_truncate();

CREATE FUNCTION signaal_betrokkenen_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the persons of a signal do not change (UPDATE on signaal_betrokkenen)';
END;
$$;
CREATE TRIGGER signaal_betrokkenen_no_update BEFORE UPDATE ON signaal_betrokkenen
    FOR EACH ROW EXECUTE FUNCTION signaal_betrokkenen_no_update();

CREATE FUNCTION signalen_only_status_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a signal does not change once sent; only its status does';
END;
$$;
CREATE TRIGGER signalen_only_status_changes BEFORE UPDATE OF
    id, activiteit, soort, afzender_oin, ontvanger_oin, omschrijving, urgent, adres_postcode,
    adres_huisnummer, adres_huisletter, adres_huisnummertoevoeging, werkgever_loonheffingennummer,
    werkgever_kvk_nummer, werkgever_naam, aantal_inschrijvingen, ontvangen_ms ON signalen
    FOR EACH ROW EXECUTE FUNCTION signalen_only_status_changes();
