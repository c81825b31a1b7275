//! `doelpoort seed`: deterministic synthetic datasets for development, tests and benchmarks.
//! The same `--persons N --seed S` gives the same data, byte for byte.
//!
//! RNI persons: valid BSNs (elfproef; all starting with 9, a range the generator keeps to
//! itself), nationalities in the proportions of CBS's Migrantenmonitor for EU labour migrants
//! (December 2022: Poland 45%, Romania 17%, Bulgaria 11%, Germany 3%, Hungary 3%, others 21%),
//! codes from the landelijke tabellen 32 and 34, a foreign address in the home country, ~90%
//! with a temporary Dutch stay address. Stay addresses cluster as in real overcrowded housing:
//! one address in ten houses 10–20 persons. Postcodes are synthetic: each gemeente gets its own
//! block of 4-digit areas (table `postcodegebieden`), so scope checks have a truth to check.
//!
//! Beside them (`uwv_svb`): employers and employment relations, UWV and SVB benefits, A1
//! statements, and residents (ingezetenen) with UWV data. One thread generates, in order,
//! while the calling thread writes, 50,000 persons per transaction.

use diesel::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::storage::schema::{postcodegebieden, rni_personen};
use crate::storage::{Database, DbConnection, StorageError};

pub mod uwv_svb;

/// The gemeenten (code, name), from `policies/reference/gemeenten.csv` at build time.
const GEMEENTEN_CSV: &str = include_str!("../policies/reference/gemeenten.csv");

#[derive(Debug, Clone, Insertable, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = rni_personen, treat_none_as_default_value = false)]
pub struct RniPersoon {
    pub burgerservicenummer: String,
    pub voornamen: String,
    pub voorvoegsel: Option<String>,
    pub geslachtsnaam: String,
    pub geslacht: String,
    pub geboortedatum: String,
    pub geboorteplaats: String,
    pub geboorteland_code: String,
    pub nationaliteit_code: String,
    pub buitenland_adresregel1: String,
    pub buitenland_adresregel2: String,
    pub buitenland_land_code: String,
    pub verblijf_straat: Option<String>,
    pub verblijf_huisnummer: Option<i32>,
    pub verblijf_huisletter: Option<String>,
    pub verblijf_toevoeging: Option<String>,
    pub verblijf_postcode: Option<String>,
    pub verblijf_woonplaats: Option<String>,
    pub verblijf_gemeentecode: Option<String>,
    pub verblijf_datum_aanvang: Option<String>,
    pub telefoonnummer: Option<String>,
    pub emailadres: Option<String>,
    pub datum_inschrijving: String,
    pub rni_deelnemer_code: String,
}

/// A home country: weight (per mille), nationality (tabel 32), country (tabel 34), and names.
struct Origin {
    weight: u32,
    nationaliteit: &'static str,
    land: &'static str,
    phone_prefix: &'static str,
    cities: &'static [&'static str],
    male: &'static [&'static str],
    female: &'static [&'static str],
    surnames: &'static [&'static str],
}

const ORIGINS: &[Origin] = &[
    Origin {
        weight: 450,
        nationaliteit: "0072",
        land: "7028",
        phone_prefix: "+48",
        cities: &[
            "Warszawa", "Kraków", "Wrocław", "Poznań", "Gdańsk", "Łódź", "Lublin", "Opole",
        ],
        male: &[
            "Piotr",
            "Krzysztof",
            "Tomasz",
            "Paweł",
            "Marcin",
            "Michał",
            "Łukasz",
            "Jakub",
        ],
        female: &[
            "Anna",
            "Katarzyna",
            "Małgorzata",
            "Agnieszka",
            "Magdalena",
            "Joanna",
            "Ewa",
            "Monika",
        ],
        surnames: &[
            "Nowak",
            "Kowalski",
            "Wiśniewski",
            "Wójcik",
            "Kowalczyk",
            "Kamiński",
            "Lewandowski",
            "Zieliński",
            "Szymański",
            "Woźniak",
        ],
    },
    Origin {
        weight: 172,
        nationaliteit: "0074",
        land: "7047",
        phone_prefix: "+40",
        cities: &[
            "București",
            "Cluj-Napoca",
            "Iași",
            "Timișoara",
            "Constanța",
            "Craiova",
            "Suceava",
        ],
        male: &[
            "Andrei",
            "Alexandru",
            "Ionuț",
            "Mihai",
            "Florin",
            "Gabriel",
            "Adrian",
        ],
        female: &[
            "Maria", "Elena", "Ioana", "Andreea", "Mihaela", "Cristina", "Alina",
        ],
        surnames: &[
            "Popescu", "Ionescu", "Popa", "Pop", "Stan", "Dumitru", "Stoica", "Gheorghe",
            "Munteanu",
        ],
    },
    Origin {
        weight: 108,
        nationaliteit: "0053",
        land: "7024",
        phone_prefix: "+359",
        cities: &[
            "Sofia",
            "Plovdiv",
            "Varna",
            "Burgas",
            "Ruse",
            "Sliven",
            "Pazardzhik",
        ],
        male: &[
            "Georgi", "Ivan", "Dimitar", "Nikolay", "Petar", "Hristo", "Stoyan",
        ],
        female: &[
            "Maria",
            "Ivanka",
            "Elena",
            "Yordanka",
            "Desislava",
            "Galina",
            "Petya",
        ],
        surnames: &[
            "Ivanov", "Georgiev", "Dimitrov", "Petrov", "Nikolov", "Hristov", "Stoyanov", "Todorov",
        ],
    },
    Origin {
        weight: 33,
        nationaliteit: "0055",
        land: "9089",
        phone_prefix: "+49",
        cities: &["Berlin", "Hamburg", "Köln", "Duisburg", "Essen", "Münster"],
        male: &["Lukas", "Jonas", "Felix", "Maximilian", "Tobias"],
        female: &["Anna", "Lea", "Julia", "Laura", "Katharina"],
        surnames: &[
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Meyer",
        ],
    },
    Origin {
        weight: 30,
        nationaliteit: "0061",
        land: "5017",
        phone_prefix: "+36",
        cities: &["Budapest", "Debrecen", "Szeged", "Miskolc", "Pécs"],
        male: &["László", "István", "József", "Zoltán", "Gábor"],
        female: &["Mária", "Erzsébet", "Katalin", "Éva", "Zsuzsanna"],
        surnames: &["Nagy", "Kovács", "Tóth", "Szabó", "Horváth", "Varga"],
    },
    Origin {
        weight: 40,
        nationaliteit: "0046",
        land: "7066",
        phone_prefix: "+370",
        cities: &["Vilnius", "Kaunas", "Klaipėda", "Šiauliai"],
        male: &["Jonas", "Mantas", "Tomas", "Darius"],
        female: &["Rūta", "Agnė", "Laura", "Eglė"],
        surnames: &[
            "Kazlauskas",
            "Jankauskas",
            "Petrauskas",
            "Stankevičius",
            "Vasiliauskas",
        ],
    },
    Origin {
        weight: 25,
        nationaliteit: "0044",
        land: "7064",
        phone_prefix: "+371",
        cities: &["Rīga", "Daugavpils", "Liepāja", "Jelgava"],
        male: &["Jānis", "Andris", "Māris", "Edgars"],
        female: &["Anna", "Kristīne", "Ilze", "Inese"],
        surnames: &["Bērziņš", "Kalniņš", "Ozoliņš", "Jansons", "Liepiņš"],
    },
    Origin {
        weight: 30,
        nationaliteit: "0027",
        land: "6067",
        phone_prefix: "+421",
        cities: &["Bratislava", "Košice", "Prešov", "Žilina"],
        male: &["Peter", "Martin", "Jozef", "Ján"],
        female: &["Mária", "Zuzana", "Jana", "Katarína"],
        surnames: &["Horváth", "Kováč", "Varga", "Tóth", "Nagy"],
    },
    Origin {
        weight: 28,
        nationaliteit: "0073",
        land: "7050",
        phone_prefix: "+351",
        cities: &["Lisboa", "Porto", "Braga", "Coimbra"],
        male: &["João", "Rui", "Tiago", "Pedro"],
        female: &["Ana", "Maria", "Inês", "Sofia"],
        surnames: &[
            "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa",
        ],
    },
    Origin {
        weight: 24,
        nationaliteit: "0077",
        land: "6037",
        phone_prefix: "+34",
        cities: &["Madrid", "Sevilla", "Valencia", "Málaga", "Zaragoza"],
        male: &["Antonio", "Manuel", "José", "David"],
        female: &["María", "Carmen", "Laura", "Lucía"],
        surnames: &[
            "García",
            "Rodríguez",
            "González",
            "Fernández",
            "López",
            "Martínez",
        ],
    },
    Origin {
        weight: 20,
        nationaliteit: "0059",
        land: "6003",
        phone_prefix: "+30",
        cities: &["Athína", "Thessaloníki", "Pátra", "Lárisa"],
        male: &["Georgios", "Dimitrios", "Konstantinos", "Ioannis"],
        female: &["Maria", "Eleni", "Aikaterini", "Vasiliki"],
        surnames: &[
            "Papadopoulos",
            "Pappas",
            "Nikolaidis",
            "Georgiou",
            "Oikonomou",
        ],
    },
    Origin {
        weight: 25,
        nationaliteit: "0064",
        land: "7044",
        phone_prefix: "+39",
        cities: &["Roma", "Napoli", "Palermo", "Bari", "Torino"],
        male: &["Marco", "Giuseppe", "Luca", "Francesco"],
        female: &["Giulia", "Francesca", "Chiara", "Sara"],
        surnames: &["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano"],
    },
    Origin {
        weight: 15,
        nationaliteit: "0043",
        land: "5051",
        phone_prefix: "+385",
        cities: &["Zagreb", "Split", "Rijeka", "Osijek"],
        male: &["Ivan", "Marko", "Josip", "Luka"],
        female: &["Ana", "Marija", "Ivana", "Petra"],
        surnames: &["Horvat", "Kovačević", "Babić", "Marić", "Jurić"],
    },
];

/// Gemeenten that house the most RNI-registered labour migrants, most first.
const HOTSPOTS: &[&str] = &[
    "1783", "0599", "0518", "0363", "0983", "1507", "0606", "0855", "0867", "0758", "1894", "0358",
    "1911", "0794", "0268",
];

/// The descriptions (tabel 32 and 34) of the codes the generator uses.
pub fn omschrijving(code: &str) -> Option<&'static str> {
    Some(match code {
        "0072" => "Poolse",
        "0074" => "Roemeense",
        "0053" => "Bulgaarse",
        "0055" => "Burger van de Bondsrepubliek Duitsland",
        "0061" => "Hongaarse",
        "0046" => "Litouwse",
        "0044" => "Letse",
        "0027" => "Slowaakse",
        "0073" => "Portugese",
        "0077" => "Spaanse",
        "0059" => "Griekse",
        "0064" => "Italiaanse",
        "0043" => "Kroatische",
        "7028" => "Polen",
        "7047" => "Roemenië",
        "7024" => "Bulgarije",
        "9089" => "Bondsrepubliek Duitsland",
        "5017" => "Hongarije",
        "7066" => "Litouwen",
        "7064" => "Letland",
        "6067" => "Slowakije",
        "7050" => "Portugal",
        "6037" => "Spanje",
        "6003" => "Griekenland",
        "7044" => "Italië",
        "5051" => "Kroatië",
        _ => return None,
    })
}

const STREETS: &[&str] = &[
    "Kerkstraat",
    "Dorpsstraat",
    "Molenweg",
    "Stationsweg",
    "Schoolstraat",
    "Industrieweg",
    "Havenweg",
    "Kanaalstraat",
    "Julianastraat",
    "Wilhelminastraat",
    "Beatrixlaan",
    "Parallelweg",
    "Tuinbouwweg",
    "Veilingweg",
    "Nieuwstraat",
    "Emmastraat",
    "Oranjestraat",
    "Marktstraat",
];

const DEELNEMERS: &[(&str, u32)] = &[
    ("0101", 55),
    ("0201", 10),
    ("0301", 20),
    ("0401", 10),
    ("0501", 3),
    ("9999", 2),
];

/// Gemeenten as (code, name), and the postcode areas (pc4) each is given.
pub struct Territory {
    pub gemeenten: Vec<(String, String)>,
    pub postcodes: Vec<(String, String)>,
}

impl Territory {
    pub fn new() -> Territory {
        let gemeenten: Vec<(String, String)> = GEMEENTEN_CSV
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut parts = l.splitn(2, ',');
                let code = parts.next()?.to_owned();
                let rest = parts.next()?;
                let name = rest
                    .rsplit_once(',')
                    .map_or(rest, |(n, _)| n)
                    .trim_matches('"')
                    .to_owned();
                Some((code, name))
            })
            .collect();
        // 9,000 areas (1000–9999) in blocks, in gemeentecode order.
        let per = 9000 / gemeenten.len();
        let postcodes = gemeenten
            .iter()
            .enumerate()
            .flat_map(|(i, (code, _))| {
                (0..per).map(move |k| (format!("{}", 1000 + i * per + k), code.clone()))
            })
            .collect();
        Territory {
            gemeenten,
            postcodes,
        }
    }

    fn areas_of(&self, gemeente_index: usize) -> std::ops::Range<usize> {
        let per = 9000 / self.gemeenten.len();
        let start = 1000 + gemeente_index * per;
        start..start + per
    }
}

impl Default for Territory {
    fn default() -> Self {
        Territory::new()
    }
}

/// The n-th synthetic BSN of the RNI persons (the series starting with 9).
fn bsn(n: u64) -> Option<String> {
    elfproef_number(9, n)
}

/// The n-th number of the series starting with `first` (1–9): `first`, 7 digits from a
/// bijection of n, and the elfproef check digit; numbers whose check digit would be 10 are
/// skipped (`None`), so call with increasing n. Series in use: 9 RNI persons, 2 ingezetenen
/// (BSNs), 8 employers' fiscal numbers (RSIN).
pub(crate) fn elfproef_number(first: u64, n: u64) -> Option<String> {
    let prefix = first * 10_000_000 + (n.wrapping_mul(7_919_993) % 10_000_000);
    let digits: Vec<u32> = format!("{prefix:08}")
        .bytes()
        .map(|b| u32::from(b - b'0'))
        .collect();
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| d * (9 - i as u32))
        .sum();
    let check = sum % 11;
    (check < 10).then(|| format!("{prefix:08}{check}"))
}

fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut pick = rng.gen_range(0..total);
    for item in items {
        let w = weight(item);
        if pick < w {
            return item;
        }
        pick -= w;
    }
    items.last().expect("not empty")
}

fn date(rng: &mut ChaCha8Rng, from: chrono::NaiveDate, to: chrono::NaiveDate) -> chrono::NaiveDate {
    let days = (to - from).num_days().max(1);
    from + chrono::Duration::days(rng.gen_range(0..days))
}

/// The persons for `--persons n --seed s`, in order, produced lazily.
pub struct Persons {
    rng: ChaCha8Rng,
    territory: Territory,
    /// Gemeente weights: a few gemeenten (logistics, greenhouses, cities) house most.
    gemeente_weights: Vec<u32>,
    next_bsn: u64,
    remaining: usize,
    /// The current stay address and how many more persons it takes.
    address: Option<(Address, u32)>,
    used_addresses: std::collections::HashSet<(String, i32, Option<String>)>,
}

#[derive(Clone)]
struct Address {
    straat: String,
    huisnummer: i32,
    huisletter: Option<String>,
    postcode: String,
    woonplaats: String,
    gemeentecode: String,
}

impl Persons {
    pub fn new(n: usize, seed: u64) -> Persons {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let territory = Territory::new();
        // The gemeenten where labour migrants concentrate (greenhouses, logistics, ports, cities)
        // come first; the rest follow in a seeded order.
        let mut order: Vec<usize> = HOTSPOTS
            .iter()
            .filter_map(|h| territory.gemeenten.iter().position(|(code, _)| code == h))
            .collect();
        let mut rest: Vec<usize> = (0..territory.gemeenten.len())
            .filter(|i| !order.contains(i))
            .collect();
        rest.shuffle(&mut rng);
        order.extend(rest);
        let mut gemeente_weights = vec![0u32; territory.gemeenten.len()];
        for (rank, &g) in order.iter().enumerate() {
            // Zipf-like: rank 1 weighs 1000, rank 100 weighs 10.
            gemeente_weights[g] = (1000 / (rank as u32 + 1)).max(1);
        }
        Persons {
            rng,
            territory,
            gemeente_weights,
            next_bsn: 0,
            remaining: n,
            address: None,
            used_addresses: Default::default(),
        }
    }

    fn new_address(&mut self) -> (Address, u32) {
        let rng = &mut self.rng;
        let total: u32 = self.gemeente_weights.iter().sum();
        let mut pick = rng.gen_range(0..total);
        let mut g = 0;
        for (i, w) in self.gemeente_weights.iter().enumerate() {
            if pick < *w {
                g = i;
                break;
            }
            pick -= w;
        }
        let (code, name) = self.territory.gemeenten[g].clone();
        loop {
            let pc4 = rng.gen_range(self.territory.areas_of(g));
            let letters: String = (0..2)
                .map(|_| char::from(b'A' + rng.gen_range(0..26u8)))
                .collect();
            let postcode = format!("{pc4}{letters}");
            let huisnummer = rng.gen_range(1..200);
            let huisletter = (rng.gen_range(0..10) == 0)
                .then(|| ["A", "B", "C"][rng.gen_range(0..3)].to_owned());
            if self
                .used_addresses
                .insert((postcode.clone(), huisnummer, huisletter.clone()))
            {
                // One address in ten is overcrowded housing: 10–20 persons.
                let capacity = if rng.gen_range(0..10) == 0 {
                    rng.gen_range(10..=20)
                } else {
                    rng.gen_range(1..=4)
                };
                let address = Address {
                    straat: STREETS[rng.gen_range(0..STREETS.len())].to_owned(),
                    huisnummer,
                    huisletter,
                    postcode,
                    woonplaats: name,
                    gemeentecode: code,
                };
                return (address, capacity);
            }
        }
    }
}

impl Iterator for Persons {
    type Item = RniPersoon;

    fn next(&mut self) -> Option<RniPersoon> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let burgerservicenummer = loop {
            self.next_bsn += 1;
            if let Some(b) = bsn(self.next_bsn) {
                break b;
            }
        };
        let origin = weighted(&mut self.rng, ORIGINS, |o| o.weight);
        let rng = &mut self.rng;
        let female = rng.gen_bool(0.4);
        let names = if female { origin.female } else { origin.male };
        let voornamen = names[rng.gen_range(0..names.len())].to_owned();
        let geslachtsnaam = origin.surnames[rng.gen_range(0..origin.surnames.len())].to_owned();
        let ymd = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
        let geboortedatum = date(rng, ymd(1965, 1, 1), ymd(2007, 12, 31));
        // RNI exists since 2014-01-06; most registrations are recent.
        let ingeschreven = if rng.gen_range(0..10) < 7 {
            date(rng, ymd(2022, 10, 1), ymd(2026, 10, 31))
        } else {
            date(rng, ymd(2014, 1, 6), ymd(2022, 9, 30))
        };
        let city = origin.cities[rng.gen_range(0..origin.cities.len())];
        let telefoonnummer = rng.gen_bool(0.6).then(|| {
            format!(
                "{} {:03} {:03} {:03}",
                origin.phone_prefix,
                rng.gen_range(500..900),
                rng.gen_range(0..1000),
                rng.gen_range(0..1000)
            )
        });
        let emailadres = rng.gen_bool(0.4).then(|| {
            format!(
                "{}.{}{}@example.org",
                voornamen.to_lowercase(),
                geslachtsnaam.to_lowercase(),
                rng.gen_range(1..100)
            )
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '@'))
            .collect()
        });
        let buitenland_adresregel1 = format!(
            "ul. {} {}",
            STREETS[rng.gen_range(0..STREETS.len())],
            rng.gen_range(1..120)
        );
        let deelnemer = weighted(rng, DEELNEMERS, |d| d.1).0.to_owned();
        let with_stay_address = rng.gen_range(0..100) < 90;
        let mut persoon = RniPersoon {
            burgerservicenummer,
            voornamen,
            voorvoegsel: None,
            geslachtsnaam,
            geslacht: if female { "V" } else { "M" }.to_owned(),
            geboortedatum: geboortedatum.to_string(),
            geboorteplaats: city.to_owned(),
            geboorteland_code: origin.land.to_owned(),
            nationaliteit_code: origin.nationaliteit.to_owned(),
            buitenland_adresregel1,
            buitenland_adresregel2: format!("{:05} {city}", rng.gen_range(10_000..99_999)),
            buitenland_land_code: origin.land.to_owned(),
            verblijf_straat: None,
            verblijf_huisnummer: None,
            verblijf_huisletter: None,
            verblijf_toevoeging: None,
            verblijf_postcode: None,
            verblijf_woonplaats: None,
            verblijf_gemeentecode: None,
            verblijf_datum_aanvang: None,
            telefoonnummer,
            emailadres,
            datum_inschrijving: ingeschreven.to_string(),
            rni_deelnemer_code: deelnemer,
        };
        if with_stay_address {
            let (address, left) = match self.address.take() {
                Some((a, left)) if left > 0 => (a, left),
                _ => self.new_address(),
            };
            let aanvang = date(
                &mut self.rng,
                ingeschreven.max(ymd(2022, 10, 1)),
                ymd(2026, 11, 1),
            );
            persoon.verblijf_straat = Some(address.straat.clone());
            persoon.verblijf_huisnummer = Some(address.huisnummer);
            persoon.verblijf_huisletter = address.huisletter.clone();
            persoon.verblijf_postcode = Some(address.postcode.clone());
            persoon.verblijf_woonplaats = Some(address.woonplaats.clone());
            persoon.verblijf_gemeentecode = Some(address.gemeentecode.clone());
            persoon.verblijf_datum_aanvang = Some(aanvang.to_string());
            self.address = Some((address, left - 1));
        }
        Some(persoon)
    }
}

/// Is the RNI dataset empty?
pub fn is_empty(db: &Database) -> Result<bool, StorageError> {
    let mut conn = db.checkout()?;
    let n: i64 = rni_personen::table.count().get_result(&mut *conn)?;
    Ok(n == 0)
}

/// Rows per transaction.
const BATCH: usize = 50_000;

/// What `seed` wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seeded {
    pub rni_personen: u64,
    pub ingezetenen: u64,
    pub werkgevers: u64,
    pub dienstverbanden: u64,
    /// UWV and SVB benefits.
    pub uitkeringen: u64,
    pub a1_verklaringen: u64,
}

impl Seeded {
    fn add(&mut self, b: &uwv_svb::Batch) {
        self.ingezetenen += b.ingezetenen.len() as u64;
        self.dienstverbanden += b.dienstverbanden.len() as u64;
        self.uitkeringen += (b.uwv_uitkeringen.len() + b.svb_uitkeringen.len()) as u64;
        self.a1_verklaringen += b.a1_verklaringen.len() as u64;
    }
}

impl std::fmt::Display for Seeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} synthetic RNI persons, {} residents, {} employers, {} employment relations, \
             {} benefits, {} A1 statements",
            self.rni_personen,
            self.ingezetenen,
            self.werkgevers,
            self.dienstverbanden,
            self.uitkeringen,
            self.a1_verklaringen
        )
    }
}

/// How many persons `seed` generates for `n` RNI persons: them and the residents.
pub fn persons_for(n: usize) -> u64 {
    (n + uwv_svb::ingezetenen_for(n)) as u64
}

/// Sends the RNI persons and, beside them, the UWV and SVB rows, then the residents, in parts
/// of `BATCH`; stops when the receiver is gone.
fn generate(
    n: usize,
    seed: u64,
    mut werk: uwv_svb::Generator,
    parts: std::sync::mpsc::SyncSender<(Vec<RniPersoon>, uwv_svb::Batch)>,
) {
    let mut persons = Persons::new(n, seed).peekable();
    while persons.peek().is_some() {
        let chunk: Vec<RniPersoon> = persons.by_ref().take(BATCH).collect();
        let batch = werk.for_rni(&chunk);
        if parts.send((chunk, batch)).is_err() {
            return;
        }
    }
    let mut residents = uwv_svb::ingezetenen_for(n);
    while residents > 0 {
        let count = residents.min(BATCH);
        residents -= count;
        if parts.send((Vec::new(), werk.ingezetenen(count))).is_err() {
            return;
        }
    }
}

/// Fills the RNI dataset with `n` persons from seed `seed`, and beside it the UWV and SVB
/// datasets and the residents (`uwv_svb`); refuses a dataset that has persons already unless
/// `replace`. `progress` is told of every part written (persons, then residents; together
/// `persons_for(n)`).
pub fn seed(
    db: &Database,
    n: usize,
    seed: u64,
    replace: bool,
    mut progress: impl FnMut(u64),
) -> Result<Seeded, StorageError> {
    use uwv_svb::Rows;
    let mut conn = db.checkout()?;
    let existing: i64 = rni_personen::table.count().get_result(&mut *conn)?;
    if existing > 0 && !replace {
        return Err(StorageError::Migration(format!(
            "the RNI dataset already holds {existing} persons; use --replace to generate it anew"
        )));
    }
    let territory = Territory::new();
    let werk = uwv_svb::Generator::new(n, seed, &territory);
    let werkgevers = werk.werkgevers().to_vec();
    // `$insert(c, persons)` writes up to 1,000 persons: PostgreSQL in one statement; SQLite
    // row by row with one prepared INSERT (it would parse a 24,000-value statement each time).
    macro_rules! fill {
        ($c:expr, $insert:expr) => {{
            $c.transaction::<_, diesel::result::Error, _>(|c| {
                c.clear_uwv_svb()?;
                diesel::delete(rni_personen::table).execute(c)?;
                diesel::delete(postcodegebieden::table).execute(c)?;
                diesel::delete(crate::storage::schema::rni_verblijfsadres_historie::table)
                    .execute(c)?;
                for chunk in territory.postcodes.chunks(BATCH) {
                    let rows: Vec<_> = chunk
                        .iter()
                        .map(|(pc4, code)| {
                            (
                                postcodegebieden::pc4.eq(pc4),
                                postcodegebieden::gemeentecode.eq(code),
                            )
                        })
                        .collect();
                    diesel::insert_into(postcodegebieden::table)
                        .values(&rows)
                        .execute(c)?;
                }
                c.insert_werkgevers(&werkgevers)
            })?;
            let mut seeded = Seeded {
                werkgevers: werkgevers.len() as u64,
                ..Seeded::default()
            };
            // One thread generates (in order: the same data every run), this one writes.
            let (parts, written) = std::sync::mpsc::sync_channel(1);
            std::thread::scope(|scope| {
                scope.spawn(move || generate(n, seed, werk, parts));
                for (chunk, batch) in written {
                    $c.transaction::<_, diesel::result::Error, _>(|c| {
                        for part in chunk.chunks(1_000) {
                            $insert(c, part)?;
                            progress(part.len() as u64);
                        }
                        c.insert_batch(&batch)?;
                        progress(batch.ingezetenen.len() as u64);
                        Ok(())
                    })?;
                    seeded.rni_personen += chunk.len() as u64;
                    seeded.add(&batch);
                }
                Ok::<Seeded, StorageError>(seeded)
            })
        }};
    }
    match &mut *conn {
        DbConnection::Postgresql(c) => {
            use diesel::connection::SimpleConnection;
            let seeded = fill!(c, |c: &mut PgConnection, part: &[RniPersoon]| {
                diesel::insert_into(rni_personen::table)
                    .values(part)
                    .execute(c)
            })?;
            // Fresh statistics for the planner: before autovacuum gets round to it, it
            // guesses thousands of relations per BSN and hash-joins all employers (a UWV
            // lookup by BSN took 11 ms instead of 0.1 ms at 1M persons).
            c.batch_execute(
                "ANALYZE rni_personen, postcodegebieden, ingezetenen, uwv_werkgevers, \
                 uwv_dienstverbanden, uwv_uitkeringen, svb_uitkeringen, svb_a1_verklaringen",
            )?;
            Ok(seeded)
        }
        DbConnection::Sqlite(c) => {
            use diesel::connection::SimpleConnection;
            // Rows arrive in generation order, not key order: with SQLite's default 2 MB page
            // cache every insert into the tables' B-trees would read pages back from the file,
            // so 256 MB for the seed. And no fsync at each commit (synchronous = NORMAL: in WAL
            // mode the database stays consistent, a crash loses only the last transactions,
            // and the seed is repeatable); checkpoints still sync. Then the defaults again.
            c.batch_execute("PRAGMA cache_size = -262144; PRAGMA synchronous = NORMAL;")?;
            let seeded = fill!(c, |c: &mut SqliteConnection, part: &[RniPersoon]| {
                part.iter().try_for_each(|p| {
                    diesel::insert_into(rni_personen::table)
                        .values(p)
                        .execute(c)
                        .map(drop)
                })
            });
            c.batch_execute("PRAGMA cache_size = -2000; PRAGMA synchronous = FULL;")?;
            seeded
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Bsn;

    #[test]
    fn the_same_seed_gives_the_same_persons() {
        let a: Vec<_> = Persons::new(500, 7).collect();
        let b: Vec<_> = Persons::new(500, 7).collect();
        let c: Vec<_> = Persons::new(500, 8).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn persons_are_realistic() {
        let persons: Vec<_> = Persons::new(20_000, 1).collect();
        let bsns: std::collections::HashSet<_> = persons
            .iter()
            .map(|p| p.burgerservicenummer.clone())
            .collect();
        assert_eq!(bsns.len(), persons.len(), "BSNs are unique");
        assert!(
            persons
                .iter()
                .all(|p| Bsn::parse(&p.burgerservicenummer).is_ok()),
            "every BSN passes the elfproef"
        );
        let share = |pred: &dyn Fn(&RniPersoon) -> bool| {
            persons.iter().filter(|p| pred(p)).count() as f64 / persons.len() as f64
        };
        assert!(
            share(&|p| p.verblijf_postcode.is_some()) > 0.85,
            "over 85% have a stay address"
        );
        let polish = share(&|p| p.nationaliteit_code == "0072");
        let romanian = share(&|p| p.nationaliteit_code == "0074");
        let bulgarian = share(&|p| p.nationaliteit_code == "0053");
        assert!((0.42..0.48).contains(&polish), "{polish}");
        assert!(polish > romanian && romanian > bulgarian && bulgarian > 0.09);
        // Overcrowded addresses: some addresses house 10 to 20 persons.
        let mut per_address = std::collections::HashMap::new();
        for p in persons.iter().filter(|p| p.verblijf_postcode.is_some()) {
            *per_address
                .entry((
                    p.verblijf_postcode.clone(),
                    p.verblijf_huisnummer,
                    p.verblijf_huisletter.clone(),
                ))
                .or_insert(0) += 1;
        }
        let crowded = per_address
            .values()
            .filter(|&&n| (10..=20).contains(&n))
            .count();
        assert!(crowded > 50, "{crowded} addresses with 10–20 persons");
        assert!(per_address.values().all(|&n| n <= 20));
        // Labour-migrant hotspots house the most; the demo gemeenten all have some.
        for code in ["1783", "0599", "0363", "0606", "0358"] {
            assert!(
                persons
                    .iter()
                    .filter(|p| p.verblijf_gemeentecode.as_deref() == Some(code))
                    .count()
                    > 50,
                "{code}"
            );
        }
        for p in &persons {
            assert!(
                omschrijving(&p.nationaliteit_code).is_some()
                    && omschrijving(&p.geboorteland_code).is_some()
            );
        }
        // Every stay address lies in its gemeente's postcode areas.
        let territory = Territory::new();
        let area: std::collections::HashMap<_, _> = territory.postcodes.iter().cloned().collect();
        for p in persons.iter().filter(|p| p.verblijf_postcode.is_some()) {
            let pc4 = &p.verblijf_postcode.as_ref().unwrap()[..4];
            assert_eq!(area.get(pc4), p.verblijf_gemeentecode.as_ref());
        }
    }
}
