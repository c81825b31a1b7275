//! Synthetic UWV and SVB data beside the RNI persons, and synthetic residents (ingezetenen)
//! with UWV data: what `doelpoort seed` adds for the `uwv-*` and `svb-*` exchanges.
//!
//! Deterministic like the persons: the same persons and seed give the same rows. The generator
//! draws from a random stream of its own, so the RNI persons are the same as without it.
//!
//! - Employers: one per 40 persons, every fifth an uitzendbureau. Employers' sizes follow a
//!   Zipf law, and 70% of the labour migrants' employment relations are with uitzendbureaus,
//!   so a few agencies employ thousands. Names are synthetic; fiscal numbers (RSIN) are the
//!   elfproef series starting with 8.
//! - RNI persons: ~10% were posted to the Netherlands with an A1 statement from their home
//!   member state (and then mostly have no Dutch employment); most others have 1–3 employment
//!   relations starting around their RNI registration, earlier ones ended; hours and SV wages
//!   by sector (2026 hourly wages from the minimum wage up, lower in earlier years). Some have
//!   WW after their last job ended or ZW during one, ~10% of those born before 2001 child
//!   benefit (AKW), a few an Anw benefit.
//! - Residents: one per 10 RNI persons, BSNs from the series starting with 2 (never an RNI
//!   BSN), spread over the gemeenten with the big cities weighing most; nearly nine in ten
//!   have UWV data (work, WW, ZW, WIA, Wajong), a few receive AOW.

use chrono::{Datelike, Duration, NaiveDate};
use diesel::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{elfproef_number, RniPersoon, Territory, HOTSPOTS, ORIGINS};
use crate::storage::schema::{
    ingezetenen, svb_a1_verklaringen, svb_uitkeringen, uwv_dienstverbanden, uwv_uitkeringen,
    uwv_werkgevers,
};

#[derive(Debug, Clone, Insertable, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = uwv_werkgevers)]
pub struct Werkgever {
    pub loonheffingennummer: String,
    pub naam: String,
    pub kvk_nummer: String,
    pub uitzendbureau: bool,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = uwv_dienstverbanden)]
pub struct Dienstverband {
    pub id: i64,
    pub burgerservicenummer: String,
    pub loonheffingennummer: String,
    pub datum_aanvang: String,
    pub datum_einde: Option<String>,
    pub uren_per_week: i32,
    pub sv_loon_per_maand_cent: i64,
    pub soort_arbeidsrelatie: String,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = uwv_uitkeringen)]
pub struct UwvUitkering {
    pub burgerservicenummer: String,
    pub soort: String,
    pub datum_ingang: String,
    pub datum_einde: Option<String>,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = svb_uitkeringen)]
pub struct SvbUitkering {
    pub burgerservicenummer: String,
    pub soort: String,
    pub datum_ingang: String,
    pub datum_einde: Option<String>,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = svb_a1_verklaringen)]
pub struct A1Verklaring {
    pub burgerservicenummer: String,
    pub lidstaat: String,
    pub werkgever_naam: String,
    pub datum_ingang: String,
    pub datum_einde: String,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = ingezetenen)]
pub struct Ingezetene {
    pub burgerservicenummer: String,
    pub gemeentecode: String,
}

/// The rows one batch of persons adds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub dienstverbanden: Vec<Dienstverband>,
    pub uwv_uitkeringen: Vec<UwvUitkering>,
    pub svb_uitkeringen: Vec<SvbUitkering>,
    pub a1_verklaringen: Vec<A1Verklaring>,
    pub ingezetenen: Vec<Ingezetene>,
}

/// Residents generated for `persons` RNI persons.
pub fn ingezetenen_for(persons: usize) -> usize {
    persons / 10
}

/// The synthetic world's today: nothing starts after it, and what runs on it has no end date.
fn peildatum() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).expect("valid date")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sector {
    Glastuinbouw,
    Logistiek,
    Vleesverwerking,
    Voedingsindustrie,
    Bouw,
    Metaal,
    Schoonmaak,
    Horeca,
}

impl Sector {
    /// Gross hourly wage in 2026, euro cents: from the statutory minimum (≈ €14.60) up.
    fn uurloon(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Sector::Glastuinbouw => 1460..=1650,
            Sector::Logistiek => 1480..=1850,
            Sector::Vleesverwerking => 1500..=1800,
            Sector::Voedingsindustrie => 1490..=1900,
            Sector::Bouw => 1850..=2700,
            Sector::Metaal => 1700..=2400,
            Sector::Schoonmaak => 1460..=1600,
            Sector::Horeca => 1460..=1650,
        }
    }

    /// Name patterns: `{a}` a Dutch surname, `{g}` the gemeente of the establishment.
    fn namen(self) -> &'static [&'static str] {
        match self {
            Sector::Glastuinbouw => &[
                "Kwekerij {a}",
                "{a} Plantenkwekerij B.V.",
                "Tuinbouwbedrijf {a} {g}",
                "Glastuinbouw {g} B.V.",
            ],
            Sector::Logistiek => &[
                "Distributiecentrum {g} B.V.",
                "{a} Logistiek B.V.",
                "{a} Transport en Opslag B.V.",
            ],
            Sector::Vleesverwerking => &["{a} Vleeswaren B.V.", "Vleesverwerking {g} B.V."],
            Sector::Voedingsindustrie => &[
                "{a} Foods B.V.",
                "{g} Voedingsmiddelen B.V.",
                "Conservenfabriek {a} B.V.",
            ],
            Sector::Bouw => &["Bouwbedrijf {a} B.V.", "{a} Bouw en Onderhoud {g} B.V."],
            Sector::Metaal => &["{a} Metaaltechniek B.V.", "Constructiebedrijf {a} {g} B.V."],
            Sector::Schoonmaak => &["{a} Schoonmaakdiensten B.V.", "Schoonmaakbedrijf {g} B.V."],
            Sector::Horeca => &["Hotel-Restaurant {a}", "Party- en Congrescentrum {g} B.V."],
        }
    }
}

/// Direct employers by sector (weights).
const SECTORS: &[(Sector, u32)] = &[
    (Sector::Glastuinbouw, 25),
    (Sector::Logistiek, 15),
    (Sector::Vleesverwerking, 10),
    (Sector::Voedingsindustrie, 15),
    (Sector::Bouw, 15),
    (Sector::Metaal, 8),
    (Sector::Schoonmaak, 7),
    (Sector::Horeca, 5),
];

/// Where uitzendbureaus place labour migrants (weights).
const PLAATSINGEN: &[(Sector, u32)] = &[
    (Sector::Glastuinbouw, 30),
    (Sector::Logistiek, 30),
    (Sector::Vleesverwerking, 12),
    (Sector::Voedingsindustrie, 15),
    (Sector::Metaal, 6),
    (Sector::Bouw, 7),
];

const ACHTERNAMEN: &[&str] = &[
    "De Vries",
    "Jansen",
    "Van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "De Boer",
    "Mulder",
    "De Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Van Leeuwen",
    "Dekker",
    "Brouwer",
    "De Wit",
    "Dijkstra",
    "De Graaf",
    "Van der Meer",
    "Van der Linden",
    "Kok",
    "De Haan",
    "Vermeulen",
    "Van den Heuvel",
    "Van der Veen",
    "Van Dijk",
    "Koster",
    "Prins",
    "Huisman",
    "Postma",
];

const MERK_BEGIN: &[&str] = &[
    "Flex", "Euro", "Inter", "Delta", "Polder", "Horizon", "Noordzee", "Kempen", "Maas", "Rijn",
    "Tulp", "Atlas", "Prima", "Vita", "Nova", "Kompas",
];
const MERK_EIND: &[&str] = &[
    "work", "staff", "jobs", "force", "link", "point", "team", "flex", "people",
];
const UITZEND_SOORT: &[&str] = &[
    "Uitzendbureau",
    "Personeelsdiensten",
    "Staffing",
    "Uitzendgroep",
    "Detachering",
];

/// Member states of the home countries (tabel 34 land code → ISO 3166-1 alpha-2) and the
/// legal form of a small company there, for the employers named on A1 statements.
const LIDSTATEN: &[(&str, &str, &str)] = &[
    ("7028", "PL", "Sp. z o.o."),
    ("7047", "RO", "S.R.L."),
    ("7024", "BG", "EOOD"),
    ("9089", "DE", "GmbH"),
    ("5017", "HU", "Kft."),
    ("7066", "LT", "UAB"),
    ("7064", "LV", "SIA"),
    ("6067", "SK", "s.r.o."),
    ("7050", "PT", "Lda."),
    ("6037", "ES", "S.L."),
    ("6003", "GR", "I.K.E."),
    ("7044", "IT", "S.r.l."),
    ("5051", "HR", "d.o.o."),
];
const A1_ACTIVITEIT: &[&str] = &["Construction", "Montage", "Services", "Agro", "Logistics"];

/// Where residents live: the big cities weigh most (weights); every other gemeente 1.
const WOONGEMEENTEN: &[(&str, u32)] = &[
    ("0363", 30),
    ("0599", 25),
    ("0518", 20),
    ("0344", 15),
    ("0772", 8),
    ("0014", 8),
    ("0034", 7),
    ("0855", 7),
    ("0758", 6),
    ("0268", 6),
];

/// Picks an index with probability proportional to its weight.
struct Picker {
    indices: Vec<usize>,
    cumulative: Vec<f64>,
}

impl Picker {
    fn new(items: impl IntoIterator<Item = (usize, f64)>) -> Picker {
        let mut total = 0.0;
        let (indices, cumulative) = items
            .into_iter()
            .map(|(i, w)| {
                total += w;
                (i, total)
            })
            .unzip();
        Picker {
            indices,
            cumulative,
        }
    }

    fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        let total = *self.cumulative.last().expect("not empty");
        let x = rng.gen::<f64>() * total;
        let at = self.cumulative.partition_point(|&c| c <= x);
        self.indices[at.min(self.indices.len() - 1)]
    }
}

fn weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut pick = rng.gen_range(0..total);
    for &(item, w) in items {
        if pick < w {
            return item;
        }
        pick -= w;
    }
    items.last().expect("not empty").0
}

fn one<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

fn days(rng: &mut ChaCha8Rng, range: std::ops::RangeInclusive<i64>) -> Duration {
    Duration::days(rng.gen_range(range))
}

fn between(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    from + Duration::days(rng.gen_range(0..=(to - from).num_days().max(0)))
}

/// The first day of the quarter after `d` (child benefit runs per quarter).
fn next_quarter(d: NaiveDate) -> NaiveDate {
    let q = (d.month0() / 3 + 1) * 3;
    let (y, m) = if q == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), q + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("valid date")
}

/// An end date, or none when it lies past the peildatum (the benefit or job still runs).
fn einde(d: NaiveDate) -> Option<String> {
    (d < peildatum()).then(|| d.to_string())
}

/// The generator of everything beside the RNI persons.
pub struct Generator {
    rng: ChaCha8Rng,
    werkgevers: Vec<Werkgever>,
    /// The sector of each direct employer; `None` for an uitzendbureau.
    sectoren: Vec<Option<Sector>>,
    uitzendbureaus: Picker,
    overige: Picker,
    woongemeenten: Vec<(String, u32)>,
    next_id: i64,
    next_ingezetene: u64,
}

impl Generator {
    /// The employers for `persons` RNI persons from `seed`, ready to give each batch of
    /// persons its rows.
    pub fn new(persons: usize, seed: u64, territory: &Territory) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7577_762d_7376_6221);
        let count = if persons == 0 {
            0
        } else {
            (persons / 40).max(10)
        };
        let mut werkgevers = Vec::with_capacity(count);
        let mut sectoren = Vec::with_capacity(count);
        let mut rsin_n = 0u64;
        let hotspots: Vec<&(String, String)> = HOTSPOTS
            .iter()
            .filter_map(|h| territory.gemeenten.iter().find(|(c, _)| c == h))
            .collect();
        for i in 0..count {
            let rsin = loop {
                rsin_n += 1;
                if let Some(n) = elfproef_number(8, rsin_n) {
                    break n;
                }
            };
            let sub = if rng.gen_range(0..20) == 0 { 2 } else { 1 };
            let gemeente = if rng.gen_bool(0.6) {
                &hotspots[rng.gen_range(0..hotspots.len())].1
            } else {
                &territory.gemeenten[rng.gen_range(0..territory.gemeenten.len())].1
            };
            let uitzendbureau = i % 5 == 0;
            let (naam, sector) = if uitzendbureau {
                let naam = format!(
                    "{}{} {} B.V.",
                    one(&mut rng, MERK_BEGIN),
                    one(&mut rng, MERK_EIND),
                    one(&mut rng, UITZEND_SOORT)
                );
                (naam, None)
            } else {
                let sector = weighted(&mut rng, SECTORS);
                let naam = one(&mut rng, sector.namen())
                    .replace("{a}", one(&mut rng, ACHTERNAMEN))
                    .replace("{g}", gemeente);
                (naam, Some(sector))
            };
            werkgevers.push(Werkgever {
                loonheffingennummer: format!("{rsin}L{sub:02}"),
                naam,
                kvk_nummer: format!("{}", 10_000_000 + (i as u64 * 5_237_711) % 90_000_000),
                uitzendbureau,
            });
            sectoren.push(sector);
        }
        // Zipf: the k-th employer of its kind weighs 1/k (agencies) or 1/k^0.8 (the others).
        let zipf = |uitzend: bool, s: f64| {
            Picker::new(
                (0..count)
                    .filter(|&i| (i % 5 == 0) == uitzend)
                    .enumerate()
                    .map(move |(rank, i)| (i, 1.0 / ((rank + 1) as f64).powf(s))),
            )
        };
        let uitzendbureaus = zipf(true, 1.0);
        let overige = zipf(false, 0.8);
        let woongemeenten = territory
            .gemeenten
            .iter()
            .map(|(code, _)| {
                let w = WOONGEMEENTEN
                    .iter()
                    .find(|(c, _)| c == code)
                    .map_or(1, |(_, w)| *w);
                (code.clone(), w)
            })
            .collect();
        Generator {
            rng,
            werkgevers,
            sectoren,
            uitzendbureaus,
            overige,
            woongemeenten,
            next_id: 0,
            next_ingezetene: 0,
        }
    }

    pub fn werkgevers(&self) -> &[Werkgever] {
        &self.werkgevers
    }

    /// An employer: an uitzendbureau with probability `uitzend`.
    fn werkgever(&mut self, uitzend: f64) -> usize {
        let agency = !self.uitzendbureaus.is_empty()
            && (self.overige.is_empty() || self.rng.gen_bool(uitzend));
        if agency {
            self.uitzendbureaus.pick(&mut self.rng)
        } else {
            self.overige.pick(&mut self.rng)
        }
    }

    /// One employment relation from `start`, ended at `end` (none: still running).
    fn dienstverband(
        &mut self,
        bsn: &str,
        werkgever: usize,
        start: NaiveDate,
        end: Option<NaiveDate>,
        deeltijd: bool,
    ) -> Dienstverband {
        let rng = &mut self.rng;
        let (sector, soort) = match self.sectoren[werkgever] {
            None => (weighted(rng, PLAATSINGEN), "uitzendovereenkomst"),
            Some(s) => (
                s,
                weighted(
                    rng,
                    &[
                        ("bepaalde-tijd", 50),
                        ("onbepaalde-tijd", 25),
                        ("oproepovereenkomst", 25),
                    ],
                ),
            ),
        };
        let uren: i32 = if deeltijd {
            rng.gen_range(8..=24)
        } else {
            match soort {
                "uitzendovereenkomst" => [32, 36, 38, 40, 40, 40, 40, 45][rng.gen_range(0..8)],
                "oproepovereenkomst" => rng.gen_range(6..=28),
                _ => [16, 24, 32, 36, 38, 40, 40][rng.gen_range(0..7)],
            }
        };
        // Wages rose ~4.6% a year (the minimum wage went from ≈ €8.60 to ≈ €14.60 an hour
        // from 2014 to 2026): the SV wage is that of the last month worked.
        let year = end.unwrap_or_else(peildatum).year();
        let factor = 1.046f64.powi(year - peildatum().year());
        let uurloon = f64::from(rng.gen_range(sector.uurloon())) * factor;
        let per_maand = uurloon * f64::from(uren) * 52.0 / 12.0;
        self.next_id += 1;
        Dienstverband {
            id: self.next_id,
            burgerservicenummer: bsn.to_owned(),
            loonheffingennummer: self.werkgevers[werkgever].loonheffingennummer.clone(),
            datum_aanvang: start.to_string(),
            datum_einde: end.map(|d| d.to_string()),
            uren_per_week: uren,
            sv_loon_per_maand_cent: per_maand.round() as i64,
            soort_arbeidsrelatie: soort.to_owned(),
        }
    }

    /// Up to `count` consecutive relations from `start`; the last still runs with probability
    /// `doorlopend`. Returns the end of the last one when it ended.
    fn loopbaan(
        &mut self,
        bsn: &str,
        mut start: NaiveDate,
        count: usize,
        uitzend: f64,
        doorlopend: f64,
        out: &mut Vec<Dienstverband>,
    ) -> Option<NaiveDate> {
        let mut ended = None;
        for k in 0..count {
            if start >= peildatum() {
                break;
            }
            let werkgever = self.werkgever(uitzend);
            let last = k + 1 == count;
            let duur = if self.sectoren[werkgever].is_none() {
                days(&mut self.rng, 30..=540)
            } else {
                days(&mut self.rng, 90..=900)
            };
            let end = if last && self.rng.gen_bool(doorlopend) {
                None
            } else {
                Some(start + duur).filter(|e| *e < peildatum())
            };
            let d = self.dienstverband(bsn, werkgever, start, end, false);
            out.push(d);
            ended = end;
            match end {
                Some(e) => start = e + days(&mut self.rng, 1..=90),
                None => break,
            }
        }
        ended
    }

    fn uwv(bsn: &str, soort: &str, start: NaiveDate, duur: Option<Duration>) -> UwvUitkering {
        UwvUitkering {
            burgerservicenummer: bsn.to_owned(),
            soort: soort.to_owned(),
            datum_ingang: start.to_string(),
            datum_einde: duur.and_then(|d| einde(start + d)),
        }
    }

    fn svb(bsn: &str, soort: &str, start: NaiveDate, end: Option<NaiveDate>) -> SvbUitkering {
        SvbUitkering {
            burgerservicenummer: bsn.to_owned(),
            soort: soort.to_owned(),
            datum_ingang: start.to_string(),
            datum_einde: end.and_then(einde),
        }
    }

    /// The UWV and SVB rows of a batch of RNI persons, in their order.
    pub fn for_rni(&mut self, persons: &[RniPersoon]) -> Batch {
        let mut b = Batch::default();
        let parse = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("seeded date");
        for p in persons {
            let bsn = p.burgerservicenummer.as_str();
            let ingeschreven = parse(&p.datum_inschrijving);
            let geboren = parse(&p.geboortedatum);
            let posted = self.rng.gen_bool(0.10);
            if posted {
                let (_, lidstaat, vorm) = LIDSTATEN
                    .iter()
                    .find(|l| l.0 == p.buitenland_land_code)
                    .copied()
                    .unwrap_or(LIDSTATEN[0]);
                let surnames = ORIGINS
                    .iter()
                    .find(|o| o.land == p.buitenland_land_code)
                    .map_or(ORIGINS[0].surnames, |o| o.surnames);
                let start = ingeschreven - days(&mut self.rng, 0..=60);
                let end = start + days(&mut self.rng, 90..=730);
                b.a1_verklaringen.push(A1Verklaring {
                    burgerservicenummer: bsn.to_owned(),
                    lidstaat: lidstaat.to_owned(),
                    werkgever_naam: format!(
                        "{} {} {vorm}",
                        one(&mut self.rng, surnames),
                        one(&mut self.rng, A1_ACTIVITEIT)
                    ),
                    datum_ingang: start.to_string(),
                    datum_einde: end.to_string(),
                });
            }
            // Posted workers stay insured at home; one in ten also turns up in the polis.
            if !posted || self.rng.gen_bool(0.10) {
                let count = match self.rng.gen_range(0..100) {
                    0..=7 => 0,
                    8..=54 => 1,
                    55..=82 => 2,
                    _ => 3,
                };
                let start = ingeschreven - days(&mut self.rng, 0..=30);
                let first = b.dienstverbanden.len();
                let ended = self.loopbaan(bsn, start, count, 0.7, 0.65, &mut b.dienstverbanden);
                if let Some(end) = ended.filter(|_| self.rng.gen_bool(0.25)) {
                    let ww = Self::uwv(
                        bsn,
                        "WW",
                        end + Duration::days(1),
                        Some(days(&mut self.rng, 90..=420)),
                    );
                    b.uwv_uitkeringen.push(ww);
                }
                if b.dienstverbanden.len() > first && self.rng.gen_bool(0.04) {
                    let d = &b.dienstverbanden[self.rng.gen_range(first..b.dienstverbanden.len())];
                    let from = parse(&d.datum_aanvang);
                    let to = d.datum_einde.as_deref().map_or(peildatum(), parse);
                    let start =
                        between(&mut self.rng, from, to.min(peildatum() - Duration::days(1)));
                    let zw = Self::uwv(bsn, "ZW", start, Some(days(&mut self.rng, 7..=180)));
                    b.uwv_uitkeringen.push(zw);
                }
            }
            // Child benefit for children (mostly abroad) of those old enough to have them.
            if geboren.year() < 2001 && self.rng.gen_bool(0.10) {
                let start = next_quarter(ingeschreven.max(geboren + Duration::days(20 * 365)));
                if start < peildatum() {
                    let end =
                        (!self.rng.gen_bool(0.75)).then(|| start + days(&mut self.rng, 365..=2190));
                    b.svb_uitkeringen.push(Self::svb(bsn, "AKW", start, end));
                }
            }
            if self.rng.gen_bool(0.003) {
                let start = ingeschreven + days(&mut self.rng, 0..=1500);
                if start < peildatum() {
                    b.svb_uitkeringen.push(Self::svb(bsn, "Anw", start, None));
                }
            }
        }
        b
    }

    /// The next `count` residents and their UWV and SVB rows.
    pub fn ingezetenen(&mut self, count: usize) -> Batch {
        let mut b = Batch::default();
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
        for _ in 0..count {
            let bsn = loop {
                self.next_ingezetene += 1;
                if let Some(n) = elfproef_number(2, self.next_ingezetene) {
                    break n;
                }
            };
            let gemeente = {
                let total: u32 = self.woongemeenten.iter().map(|g| g.1).sum();
                let mut pick = self.rng.gen_range(0..total);
                let mut chosen = &self.woongemeenten[0].0;
                for (code, w) in &self.woongemeenten {
                    if pick < *w {
                        chosen = code;
                        break;
                    }
                    pick -= w;
                }
                chosen.clone()
            };
            let bsn = bsn.as_str();
            let start = between(&mut self.rng, ymd(2010, 1, 1), ymd(2026, 6, 1));
            let profiel = self.rng.gen_range(0..100);
            let rows = &mut b.dienstverbanden;
            match profiel {
                // No work, no UWV benefit (yet): the gemeente's own case.
                0..=9 => {}
                10..=54 => {
                    let count = self.rng.gen_range(1..=3);
                    self.loopbaan(bsn, start, count, 0.3, 1.0, rows);
                }
                55..=74 => {
                    let count = self.rng.gen_range(1..=2);
                    if let Some(end) = self.loopbaan(bsn, start, count, 0.3, 0.0, rows) {
                        let ww = Self::uwv(
                            bsn,
                            "WW",
                            end + Duration::days(1),
                            Some(days(&mut self.rng, 90..=720)),
                        );
                        b.uwv_uitkeringen.push(ww);
                    }
                }
                75..=79 => {
                    self.loopbaan(bsn, start, 1, 0.3, 0.5, rows);
                    let from = start + days(&mut self.rng, 30..=365);
                    if from < peildatum() {
                        let zw = Self::uwv(bsn, "ZW", from, Some(days(&mut self.rng, 14..=730)));
                        b.uwv_uitkeringen.push(zw);
                    }
                }
                80..=87 => {
                    if self.rng.gen_bool(0.5) {
                        let w = self.werkgever(0.1);
                        let d = self.dienstverband(bsn, w, start, None, true);
                        rows.push(d);
                    }
                    let wga = Self::uwv(
                        bsn,
                        "WIA-WGA",
                        between(&mut self.rng, ymd(2012, 1, 1), ymd(2026, 6, 1)),
                        None,
                    );
                    b.uwv_uitkeringen.push(wga);
                }
                88..=91 => {
                    let iva = Self::uwv(
                        bsn,
                        "WIA-IVA",
                        between(&mut self.rng, ymd(2010, 1, 1), ymd(2026, 6, 1)),
                        None,
                    );
                    b.uwv_uitkeringen.push(iva);
                }
                92..=96 => {
                    if self.rng.gen_bool(0.3) {
                        let w = self.werkgever(0.1);
                        let d = self.dienstverband(bsn, w, start, None, true);
                        rows.push(d);
                    }
                    let wajong = Self::uwv(
                        bsn,
                        "Wajong",
                        between(&mut self.rng, ymd(2010, 1, 1), ymd(2026, 6, 1)),
                        None,
                    );
                    b.uwv_uitkeringen.push(wajong);
                }
                // Past the state pension age: AOW from the SVB, nothing from UWV.
                _ => {
                    let aow = between(&mut self.rng, ymd(2010, 1, 1), ymd(2026, 11, 1));
                    b.svb_uitkeringen.push(Self::svb(bsn, "AOW", aow, None));
                }
            }
            if profiel < 97 && self.rng.gen_bool(0.25) {
                let akw = next_quarter(between(&mut self.rng, ymd(2010, 1, 1), ymd(2026, 6, 1)));
                let end = self
                    .rng
                    .gen_bool(0.3)
                    .then(|| akw + days(&mut self.rng, 365..=4000));
                b.svb_uitkeringen.push(Self::svb(bsn, "AKW", akw, end));
            }
            if self.rng.gen_bool(0.01) {
                let anw = between(&mut self.rng, ymd(2012, 1, 1), ymd(2026, 11, 1));
                b.svb_uitkeringen.push(Self::svb(bsn, "Anw", anw, None));
            }
            b.ingezetenen.push(Ingezetene {
                burgerservicenummer: bsn.to_owned(),
                gemeentecode: gemeente,
            });
        }
        b
    }
}

/// Writing the generated rows, on either backend.
pub(super) trait Rows {
    /// Removes every row of these tables (before a `--replace`).
    fn clear_uwv_svb(&mut self) -> QueryResult<()>;
    fn insert_werkgevers(&mut self, werkgevers: &[Werkgever]) -> QueryResult<()>;
    fn insert_batch(&mut self, batch: &Batch) -> QueryResult<()>;
}

/// SQLite binds at most 32,766 values per statement: rows per statement for `columns` columns.
const fn per_statement(columns: usize) -> usize {
    32_000 / columns
}

macro_rules! rows_for {
    ($conn:ty) => {
        impl Rows for $conn {
            fn clear_uwv_svb(&mut self) -> QueryResult<()> {
                diesel::delete(uwv_dienstverbanden::table).execute(self)?;
                diesel::delete(uwv_werkgevers::table).execute(self)?;
                diesel::delete(uwv_uitkeringen::table).execute(self)?;
                diesel::delete(svb_uitkeringen::table).execute(self)?;
                diesel::delete(svb_a1_verklaringen::table).execute(self)?;
                diesel::delete(ingezetenen::table).execute(self)?;
                Ok(())
            }

            fn insert_werkgevers(&mut self, werkgevers: &[Werkgever]) -> QueryResult<()> {
                for part in werkgevers.chunks(per_statement(4)) {
                    diesel::insert_into(uwv_werkgevers::table)
                        .values(part)
                        .execute(self)?;
                }
                Ok(())
            }

            fn insert_batch(&mut self, b: &Batch) -> QueryResult<()> {
                for part in b.dienstverbanden.chunks(per_statement(8)) {
                    diesel::insert_into(uwv_dienstverbanden::table)
                        .values(part)
                        .execute(self)?;
                }
                for part in b.uwv_uitkeringen.chunks(per_statement(4)) {
                    diesel::insert_into(uwv_uitkeringen::table)
                        .values(part)
                        .execute(self)?;
                }
                for part in b.svb_uitkeringen.chunks(per_statement(4)) {
                    diesel::insert_into(svb_uitkeringen::table)
                        .values(part)
                        .execute(self)?;
                }
                for part in b.a1_verklaringen.chunks(per_statement(5)) {
                    diesel::insert_into(svb_a1_verklaringen::table)
                        .values(part)
                        .execute(self)?;
                }
                for part in b.ingezetenen.chunks(per_statement(2)) {
                    diesel::insert_into(ingezetenen::table)
                        .values(part)
                        .execute(self)?;
                }
                Ok(())
            }
        }
    };
}

rows_for!(diesel::SqliteConnection);
rows_for!(diesel::PgConnection);

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::domain::{Bsn, Loonheffingennummer};
    use crate::seed::Persons;

    fn generate(n: usize, seed: u64) -> (Vec<RniPersoon>, Vec<Werkgever>, Batch, Batch) {
        let territory = Territory::new();
        let persons: Vec<RniPersoon> = Persons::new(n, seed).collect();
        let mut g = Generator::new(n, seed, &territory);
        let rni = g.for_rni(&persons);
        let residents = g.ingezetenen(ingezetenen_for(n));
        (persons, g.werkgevers().to_vec(), rni, residents)
    }

    #[test]
    fn the_same_seed_gives_the_same_rows() {
        let a = generate(2_000, 3);
        let b = generate(2_000, 3);
        let c = generate(2_000, 4);
        assert!(a.1 == b.1 && a.2 == b.2 && a.3 == b.3);
        assert!(a.2 != c.2);
        // In batches or at once: the same rows.
        let territory = Territory::new();
        let mut g = Generator::new(2_000, 3, &territory);
        let mut rows = g.for_rni(&a.0[..700]).dienstverbanden;
        rows.extend(g.for_rni(&a.0[700..]).dienstverbanden);
        assert_eq!(rows, a.2.dienstverbanden);
    }

    #[test]
    fn rows_are_realistic() {
        let n = 20_000;
        let (persons, werkgevers, rni, residents) = generate(n, 1);
        let pd = peildatum().to_string();

        // Employers: valid, unique numbers; one in five an agency, employing the most.
        assert_eq!(werkgevers.len(), n / 40);
        let keys: HashSet<_> = werkgevers.iter().map(|w| &w.loonheffingennummer).collect();
        assert_eq!(keys.len(), werkgevers.len());
        assert_eq!(
            werkgevers
                .iter()
                .map(|w| &w.kvk_nummer)
                .collect::<HashSet<_>>()
                .len(),
            werkgevers.len()
        );
        for w in &werkgevers {
            assert!(Loonheffingennummer::parse(&w.loonheffingennummer).is_ok());
            assert!(w.kvk_nummer.len() == 8 && w.kvk_nummer.bytes().all(|b| b.is_ascii_digit()));
        }
        let agencies: HashSet<_> = werkgevers
            .iter()
            .filter(|w| w.uitzendbureau)
            .map(|w| w.loonheffingennummer.as_str())
            .collect();
        assert_eq!(agencies.len(), werkgevers.len() / 5);
        let mut per_employer: HashMap<&str, HashSet<&str>> = HashMap::new();
        for d in &rni.dienstverbanden {
            per_employer
                .entry(&d.loonheffingennummer)
                .or_default()
                .insert(&d.burgerservicenummer);
        }
        let via_agency = rni
            .dienstverbanden
            .iter()
            .filter(|d| agencies.contains(d.loonheffingennummer.as_str()))
            .count() as f64
            / rni.dienstverbanden.len() as f64;
        assert!((0.65..0.75).contains(&via_agency), "{via_agency}");
        let biggest = per_employer.values().map(HashSet::len).max().unwrap();
        assert!(
            biggest > 1_000,
            "the biggest employer has {biggest} employees"
        );

        // Relations: most persons 1–3, in time order, consistent dates, plausible hours and wages.
        let mut per_person: HashMap<&str, Vec<&Dienstverband>> = HashMap::new();
        for d in &rni.dienstverbanden {
            per_person
                .entry(&d.burgerservicenummer)
                .or_default()
                .push(d);
        }
        let with_work = per_person.len() as f64 / n as f64;
        assert!((0.75..0.85).contains(&with_work), "{with_work}");
        assert!(per_person.values().all(|v| (1..=3).contains(&v.len())));
        assert!(per_person.values().any(|v| v.len() == 3));
        for d in &rni.dienstverbanden {
            assert!(d.datum_aanvang < pd);
            assert!(d
                .datum_einde
                .as_ref()
                .is_none_or(|e| *e >= d.datum_aanvang && *e < pd));
            assert!((6..=45).contains(&d.uren_per_week));
            // At least about the minimum wage of 2014 for the hours, at most that of a builder.
            let per_hour =
                d.sv_loon_per_maand_cent as f64 / (f64::from(d.uren_per_week) * 52.0 / 12.0);
            assert!((800.0..=2_700.0).contains(&per_hour), "{per_hour}");
            assert_eq!(
                d.soort_arbeidsrelatie == "uitzendovereenkomst",
                agencies.contains(d.loonheffingennummer.as_str())
            );
        }
        let ended = rni
            .dienstverbanden
            .iter()
            .filter(|d| d.datum_einde.is_some())
            .count();
        assert!(ended > rni.dienstverbanden.len() / 3 && ended < rni.dienstverbanden.len());
        let ids: Vec<i64> = rni
            .dienstverbanden
            .iter()
            .chain(&residents.dienstverbanden)
            .map(|d| d.id)
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids rise");

        // A1: ~10%, from the home member state; posted workers rarely in the Dutch polis.
        let posted: HashSet<_> = rni
            .a1_verklaringen
            .iter()
            .map(|a| a.burgerservicenummer.as_str())
            .collect();
        let share = posted.len() as f64 / n as f64;
        assert!((0.08..0.12).contains(&share), "{share}");
        let both = posted
            .iter()
            .filter(|b| per_person.contains_key(**b))
            .count();
        assert!(
            both > 0 && both < posted.len() / 5,
            "{both} posted workers with Dutch work"
        );
        let land: HashMap<_, _> = persons
            .iter()
            .map(|p| {
                (
                    p.burgerservicenummer.as_str(),
                    p.buitenland_land_code.as_str(),
                )
            })
            .collect();
        for a in &rni.a1_verklaringen {
            let iso = LIDSTATEN
                .iter()
                .find(|l| l.0 == land[a.burgerservicenummer.as_str()])
                .unwrap()
                .1;
            assert_eq!(a.lidstaat, iso);
            assert!(a.datum_einde > a.datum_ingang);
        }

        // Benefits: some AKW, a few Anw, WW only after a job ended; no AOW under 61.
        let count =
            |rows: &[SvbUitkering], soort: &str| rows.iter().filter(|u| u.soort == soort).count();
        let akw = count(&rni.svb_uitkeringen, "AKW") as f64 / n as f64;
        assert!((0.04..0.12).contains(&akw), "{akw}");
        assert!(count(&rni.svb_uitkeringen, "Anw") > 0);
        assert_eq!(count(&rni.svb_uitkeringen, "AOW"), 0);
        for u in &rni.uwv_uitkeringen {
            assert!(["WW", "ZW"].contains(&u.soort.as_str()));
            if u.soort == "WW" {
                let jobs = &per_person[u.burgerservicenummer.as_str()];
                assert!(jobs
                    .iter()
                    .any(|d| d.datum_einde.as_ref().is_some_and(|e| *e < u.datum_ingang)));
            }
        }

        // Residents: BSNs of their own series, spread over the gemeenten, most with UWV data.
        assert_eq!(residents.ingezetenen.len(), n / 10);
        let rni_bsns: HashSet<_> = persons
            .iter()
            .map(|p| p.burgerservicenummer.as_str())
            .collect();
        let mut gemeenten = HashMap::new();
        for i in &residents.ingezetenen {
            assert!(Bsn::parse(&i.burgerservicenummer).is_ok());
            assert!(!rni_bsns.contains(i.burgerservicenummer.as_str()));
            *gemeenten.entry(i.gemeentecode.as_str()).or_insert(0) += 1;
        }
        assert!(gemeenten.len() > 200, "{} gemeenten", gemeenten.len());
        assert!(gemeenten["0363"] > gemeenten["0599"] / 2 && gemeenten["0599"] > 20);
        let with_uwv: HashSet<_> = residents
            .dienstverbanden
            .iter()
            .map(|d| d.burgerservicenummer.as_str())
            .chain(
                residents
                    .uwv_uitkeringen
                    .iter()
                    .map(|u| u.burgerservicenummer.as_str()),
            )
            .collect();
        let share = with_uwv.len() as f64 / residents.ingezetenen.len() as f64;
        assert!((0.82..0.92).contains(&share), "{share}");
        for soort in ["WW", "ZW", "WIA-WGA", "WIA-IVA", "Wajong"] {
            assert!(
                residents.uwv_uitkeringen.iter().any(|u| u.soort == soort),
                "{soort}"
            );
        }
        assert!(count(&residents.svb_uitkeringen, "AOW") > 0);
        // Every benefit has a consistent period.
        for (start, end) in rni
            .uwv_uitkeringen
            .iter()
            .chain(&residents.uwv_uitkeringen)
            .map(|u| (&u.datum_ingang, &u.datum_einde))
            .chain(
                rni.svb_uitkeringen
                    .iter()
                    .chain(&residents.svb_uitkeringen)
                    .map(|u| (&u.datum_ingang, &u.datum_einde)),
            )
        {
            assert!(*start <= pd && end.as_ref().is_none_or(|e| e >= start && *e < pd));
        }
    }

    #[test]
    fn primary_keys_are_unique() {
        let (_, _, rni, residents) = generate(20_000, 2);
        let uwv: HashSet<_> = rni
            .uwv_uitkeringen
            .iter()
            .chain(&residents.uwv_uitkeringen)
            .map(|u| (&u.burgerservicenummer, &u.soort, &u.datum_ingang))
            .collect();
        assert_eq!(
            uwv.len(),
            rni.uwv_uitkeringen.len() + residents.uwv_uitkeringen.len()
        );
        let svb: HashSet<_> = rni
            .svb_uitkeringen
            .iter()
            .chain(&residents.svb_uitkeringen)
            .map(|u| (&u.burgerservicenummer, &u.soort, &u.datum_ingang))
            .collect();
        assert_eq!(
            svb.len(),
            rni.svb_uitkeringen.len() + residents.svb_uitkeringen.len()
        );
        let a1: HashSet<_> = rni
            .a1_verklaringen
            .iter()
            .map(|a| (&a.burgerservicenummer, &a.datum_ingang))
            .collect();
        assert_eq!(a1.len(), rni.a1_verklaringen.len());
    }
}
