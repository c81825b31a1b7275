-- The RNI dataset, for a gateway that hosts RvIG's data itself (and for the embedded default,
-- filled by `doelpoort seed`). Codes follow the landelijke tabellen: nationaliteit (tabel 32),
-- land (tabel 34), RNI-deelnemer (tabel 60), gemeente (tabel 33 / CBS).
CREATE TABLE rni_personen (
    burgerservicenummer      TEXT    PRIMARY KEY NOT NULL CHECK (length(burgerservicenummer) = 9),
    voornamen                TEXT    NOT NULL,
    voorvoegsel              TEXT    NULL,
    geslachtsnaam            TEXT    NOT NULL,
    geslacht                 TEXT    NOT NULL CHECK (geslacht IN ('M', 'V', 'O')),
    geboortedatum            TEXT    NOT NULL,
    geboorteplaats           TEXT    NOT NULL,
    geboorteland_code        TEXT    NOT NULL,
    nationaliteit_code       TEXT    NOT NULL,
    buitenland_adresregel1   TEXT    NOT NULL,
    buitenland_adresregel2   TEXT    NOT NULL,
    buitenland_land_code     TEXT    NOT NULL,
    verblijf_straat          TEXT    NULL,
    verblijf_huisnummer      INTEGER NULL,
    verblijf_huisletter      TEXT    NULL,
    verblijf_toevoeging      TEXT    NULL,
    verblijf_postcode        TEXT    NULL,
    verblijf_woonplaats      TEXT    NULL,
    verblijf_gemeentecode    TEXT    NULL,
    verblijf_datum_aanvang   TEXT    NULL,
    telefoonnummer           TEXT    NULL,
    emailadres               TEXT    NULL,
    datum_inschrijving       TEXT    NOT NULL,
    rni_deelnemer_code       TEXT    NOT NULL
);

CREATE INDEX rni_personen_verblijfadres ON rni_personen (verblijf_postcode, verblijf_huisnummer);
CREATE INDEX rni_personen_gemeente ON rni_personen (verblijf_gemeentecode, verblijf_postcode, verblijf_huisnummer);
CREATE INDEX rni_personen_naam ON rni_personen (geslachtsnaam, geboortedatum);

-- Which gemeente a 4-digit postcode area lies in (for scope checks).
CREATE TABLE postcodegebieden (
    pc4          TEXT PRIMARY KEY NOT NULL CHECK (length(pc4) = 4),
    gemeentecode TEXT NOT NULL
);
