-- UWV's polisadministratie and benefits, SVB's benefits and A1 statements, and the BRP's
-- ingezetenen (BSN → woongemeente), for a gateway that hosts these sources itself (and for the
-- embedded default, filled by `doelpoort seed`). Dates are ISO 8601 text (YYYY-MM-DD), amounts
-- euro cents.

-- Employers, by loonheffingennummer (RSIN + 'L' + 2-digit subnumber).
CREATE TABLE uwv_werkgevers (
    loonheffingennummer TEXT    PRIMARY KEY NOT NULL
        CHECK (length(loonheffingennummer) = 12 AND substr(loonheffingennummer, 10, 1) = 'L'),
    naam                TEXT    NOT NULL,
    kvk_nummer          TEXT    NOT NULL CHECK (length(kvk_nummer) = 8),
    uitzendbureau       BOOLEAN NOT NULL
);

-- Employment relations (inkomstenverhoudingen) as the polisadministratie has them. `id` orders
-- an employer's relations for paging.
CREATE TABLE uwv_dienstverbanden (
    id                      BIGINT  PRIMARY KEY NOT NULL,
    burgerservicenummer     TEXT    NOT NULL CHECK (length(burgerservicenummer) = 9),
    loonheffingennummer     TEXT    NOT NULL REFERENCES uwv_werkgevers (loonheffingennummer),
    datum_aanvang           TEXT    NOT NULL,
    datum_einde             TEXT    NULL,
    uren_per_week           INTEGER NOT NULL CHECK (uren_per_week BETWEEN 0 AND 80),
    sv_loon_per_maand_cent  BIGINT  NOT NULL CHECK (sv_loon_per_maand_cent >= 0),
    soort_arbeidsrelatie    TEXT    NOT NULL CHECK (soort_arbeidsrelatie IN
        ('uitzendovereenkomst', 'bepaalde-tijd', 'onbepaalde-tijd', 'oproepovereenkomst')),
    CHECK (datum_einde IS NULL OR datum_einde >= datum_aanvang)
);

CREATE INDEX uwv_dienstverbanden_bsn ON uwv_dienstverbanden (burgerservicenummer);
CREATE INDEX uwv_dienstverbanden_werkgever ON uwv_dienstverbanden (loonheffingennummer, id);

-- UWV benefits (for work and income: WW, ZW, WIA, Wajong).
CREATE TABLE uwv_uitkeringen (
    burgerservicenummer TEXT NOT NULL CHECK (length(burgerservicenummer) = 9),
    soort               TEXT NOT NULL CHECK (soort IN ('WW', 'ZW', 'WIA-WGA', 'WIA-IVA', 'Wajong')),
    datum_ingang        TEXT NOT NULL,
    datum_einde         TEXT NULL,
    PRIMARY KEY (burgerservicenummer, soort, datum_ingang),
    CHECK (datum_einde IS NULL OR datum_einde >= datum_ingang)
);

-- SVB benefits: AOW (old age), AKW (child benefit), Anw (surviving dependants).
CREATE TABLE svb_uitkeringen (
    burgerservicenummer TEXT NOT NULL CHECK (length(burgerservicenummer) = 9),
    soort               TEXT NOT NULL CHECK (soort IN ('AOW', 'AKW', 'Anw')),
    datum_ingang        TEXT NOT NULL,
    datum_einde         TEXT NULL,
    PRIMARY KEY (burgerservicenummer, soort, datum_ingang),
    CHECK (datum_einde IS NULL OR datum_einde >= datum_ingang)
);

-- A1 statements registered with the SVB: a worker posted to the Netherlands stays insured in
-- the member state (ISO 3166-1 alpha-2) that issued it, for the employer named, in the period.
CREATE TABLE svb_a1_verklaringen (
    burgerservicenummer TEXT NOT NULL CHECK (length(burgerservicenummer) = 9),
    lidstaat            TEXT NOT NULL CHECK (length(lidstaat) = 2),
    werkgever_naam      TEXT NOT NULL,
    datum_ingang        TEXT NOT NULL,
    datum_einde         TEXT NOT NULL,
    PRIMARY KEY (burgerservicenummer, datum_ingang),
    CHECK (datum_einde >= datum_ingang)
);

-- Residents (ingezetenen) and the gemeente they live in, from the BRP: the truth for the
-- own-inhabitants scope. RNI persons are by definition not in it.
CREATE TABLE ingezetenen (
    burgerservicenummer TEXT PRIMARY KEY NOT NULL CHECK (length(burgerservicenummer) = 9),
    gemeentecode        TEXT NOT NULL CHECK (length(gemeentecode) = 4)
);
