-- Haal Centraal ZoekMetGeslachtsnaamEnGeboortedatum looks persons up by birth date (the name
-- filter is case-insensitive and may be a prefix, so it runs over the few rows of one date).
CREATE INDEX rni_personen_geboortedatum ON rni_personen (geboortedatum);

-- Experiment ABO: every change a gemeente makes to a temporary stay address keeps the
-- previous value here, with who changed it, when, and the disclosure record of the change.
-- Rows are never edited.
CREATE TABLE rni_verblijfsadres_historie (
    burgerservicenummer    TEXT    NOT NULL CHECK (length(burgerservicenummer) = 9),
    volgnummer             INTEGER NOT NULL CHECK (volgnummer >= 1),
    verblijf_straat        TEXT    NULL,
    verblijf_huisnummer    INTEGER NULL,
    verblijf_huisletter    TEXT    NULL,
    verblijf_toevoeging    TEXT    NULL,
    verblijf_postcode      TEXT    NULL,
    verblijf_woonplaats    TEXT    NULL,
    verblijf_gemeentecode  TEXT    NULL,
    verblijf_datum_aanvang TEXT    NULL,
    gewijzigd_op_ms        BIGINT  NOT NULL,
    gewijzigd_door_oin     TEXT    NOT NULL,
    disclosure_id          TEXT    NOT NULL,
    PRIMARY KEY (burgerservicenummer, volgnummer)
) WITHOUT ROWID;

CREATE TRIGGER rni_verblijfsadres_historie_no_update BEFORE UPDATE ON rni_verblijfsadres_historie
BEGIN
    SELECT RAISE(ABORT, 'the stay-address history is never edited');
END;
