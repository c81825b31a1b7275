//! `POST /audit/v1/inzage {"burgerservicenummer": "…"}`: every disclosure about one person
//! (AVG art. 15, Logboek Dataverwerkingen's *Inzage*), found through the person's keyed
//! pseudonym: which organisation received which data, when, from whom, under which activity,
//! for which purpose and on which legal basis — the basis of the register version the record
//! names, as stored when that version was loaded.
//!
//! By `Accept`: `application/json` (default), `text/csv`, or `text/html`: a printable report
//! in plain Dutch that a privacy officer can hand to the person (the BSN masked but for its
//! last three digits). A privacy officer's report holds the disclosures in which its
//! organisation took part, and says so; a supervisor's holds all.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::amsterdam;
use super::records::{Party, Row, COLUMNS};
use super::sql::Sql;
use super::tenant::Tenant;
use super::token::{Auditor, Role};
use super::versies::{self, ActivityVersion};
use super::{unavailable, Audit};
use crate::disclosure::refusals::DISCLOSURE_ID;
use crate::domain::Bsn;
use crate::organisations::Registry;
use crate::policy::register::LegalBasis;
use crate::problem::{Problem, ProblemCode};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InzageVerzoek {
    /// The person's BSN (9 digits, elfproef).
    #[schema(pattern = "^[0-9]{9}$")]
    burgerservicenummer: String,
}

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Html,
}

/// The best supported type in `Accept` (by q, then by order); JSON when none is named.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Json;
    };
    let mut best: Option<(f32, Format)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let format = match media.as_str() {
            "application/json" | "application/*" | "*/*" => Format::Json,
            "text/csv" => Format::Csv,
            "text/html" | "text/*" => Format::Html,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, format));
        }
    }
    best.map_or(Format::Json, |(_, f)| f)
}

/// One disclosure about the person.
#[derive(Debug, Serialize)]
pub struct Verstrekking {
    pub tijdstip: String,
    pub start_time: i64,
    pub ontvanger: Option<Party>,
    pub verstrekker: Option<Party>,
    pub verwerkingsactiviteit: Option<Activiteit>,
    pub registerversie: Option<String>,
    pub gegevens: Vec<String>,
    pub zaakkenmerk: Option<String>,
    /// The `X-Disclosure-Id` of the answer that carried the data.
    pub kenmerk: String,
}

#[derive(Debug, Serialize)]
pub struct Activiteit {
    pub id: String,
    /// `null` when the record's register version is not stored (it predates the table).
    pub naam: Option<String>,
    pub doel: Option<String>,
    pub grondslag: Option<LegalBasis>,
}

/// An earlier look into the log about this person (an inzage itself).
#[derive(Debug, Serialize)]
pub struct Raadpleging {
    pub tijdstip: String,
    pub door: Option<Party>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overzicht {
    /// Masked: only the last three digits.
    pub burgerservicenummer: String,
    pub opgesteld: String,
    pub opgesteld_door: Party,
    /// `organisatie`: only disclosures in which `opgesteldDoor` took part; `alle`: all.
    pub reikwijdte: &'static str,
    pub bron_geraadpleegd: bool,
    pub verstrekkingen: Vec<Verstrekking>,
    pub raadplegingen: Vec<Raadpleging>,
}

fn mask(bsn: &Bsn) -> String {
    format!("******{}", &bsn.as_str()[6..])
}

/// Every disclosure about one person (AVG art. 15): JSON, or CSV or a printable Dutch report by Accept
#[utoipa::path(post, path = "/audit/v1/inzage", tag = "audit",
    request_body(content = InzageVerzoek, content_type = "application/json"),
    responses((status = 200, description = "The report: application/json (default), text/csv, or text/html (printable, in Dutch)", body = Object)))]
pub async fn inzage(
    who: Auditor,
    body: web::Json<InzageVerzoek>,
    audit: web::Data<Audit>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let format = negotiate(
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let (overzicht, id) = report(&audit, &who, &req, &body.burgerservicenummer, format).await?;
    let mut res = HttpResponse::Ok();
    res.insert_header((DISCLOSURE_ID.clone(), id));
    Ok(match format {
        Format::Json => res.json(&overzicht),
        Format::Csv => res
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"inzage.csv\"",
            ))
            .body(csv(&overzicht)),
        Format::Html => res
            .content_type("text/html; charset=utf-8")
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ))
            .body(html(&overzicht)),
    })
}

/// The inzage of the person with `burgerservicenummer` that `who` may see, recorded as an
/// audit query (with the person's pseudonym and the `format` asked for); and that record's
/// id. The API and the UI both report through here.
pub async fn report(
    audit: &Audit,
    who: &Auditor,
    req: &HttpRequest,
    burgerservicenummer: &str,
    format: Format,
) -> Result<(Overzicht, String), Problem> {
    let bsn = Bsn::parse(burgerservicenummer.trim()).map_err(|_| {
        Problem::new(ProblemCode::ParamsValidation)
            .detail("Het burgerservicenummer is niet correct.")
            .invalid_param(
                "burgerservicenummer",
                "elfproef",
                "Een burgerservicenummer is 9 cijfers en voldoet aan de elfproef.",
            )
    })?;
    let pseudonym = audit.log.pseudonym(&bsn);
    let tenant = Tenant::of(who);
    let (rows, versions) = audit
        .database
        .run(move |conn| {
            let mut sql = Sql::new(&format!(
                "SELECT {COLUMNS} FROM disclosure_records WHERE subject_pseudonym = "
            ));
            sql.bytes(pseudonym.to_vec());
            tenant.restrict(&mut sql);
            sql.push(" ORDER BY start_time_ms, instance_id, seq");
            let rows: Vec<Row> = sql.load(conn)?;
            let rows: Vec<Row> = rows.into_iter().filter(|r| tenant.admits(r)).collect();
            let mut wanted: Vec<String> = rows
                .iter()
                .filter_map(|r| r.register_version.clone())
                .collect();
            wanted.sort();
            wanted.dedup();
            let versions = versies::load(conn, wanted)?;
            Ok((rows, versions))
        })
        .await
        .map_err(unavailable)?;
    let registry = audit.registry();
    let overzicht = overzicht(who, &bsn, rows, &versions, &registry);
    let count = (overzicht.verstrekkingen.len() + overzicht.raadplegingen.len()) as u64;
    let id = audit
        .record(
            who,
            req,
            "inzage",
            &format!("format={format:?}").to_ascii_lowercase(),
            count,
            Some(pseudonym),
        )
        .await?;
    Ok((overzicht, id))
}

fn overzicht(
    who: &Auditor,
    bsn: &Bsn,
    rows: Vec<Row>,
    versions: &HashMap<String, HashMap<String, ActivityVersion>>,
    registry: &Registry,
) -> Overzicht {
    let mut verstrekkingen = Vec::new();
    let mut raadplegingen = Vec::new();
    for r in rows {
        let tijdstip = amsterdam::rfc3339(r.start_time_ms);
        let Some(activity) = r.processing_activity_id.clone() else {
            // No activity: an audit query about this person (an earlier inzage).
            raadplegingen.push(Raadpleging {
                tijdstip,
                door: r.requester_oin.as_deref().map(|o| Party::of(o, registry)),
            });
            continue;
        };
        let stored = r
            .register_version
            .as_ref()
            .and_then(|v| versions.get(v))
            .and_then(|acts| acts.get(&activity));
        verstrekkingen.push(Verstrekking {
            tijdstip,
            start_time: r.start_time_ms,
            ontvanger: r.requester_oin.as_deref().map(|o| Party::of(o, registry)),
            verstrekker: r.provider_oin.as_deref().map(|o| Party::of(o, registry)),
            verwerkingsactiviteit: Some(Activiteit {
                naam: stored.map(|a| a.name.clone()),
                doel: stored.map(|a| a.purpose.clone()),
                grondslag: stored.map(|a| a.legal_basis.clone()),
                id: activity,
            }),
            registerversie: r.register_version.clone(),
            gegevens: r
                .fields
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
            zaakkenmerk: r.case_reference.clone(),
            kenmerk: format!(
                "{}-{}",
                hex::encode(&r.trace_id),
                hex::encode(r.parent_operation_id.as_deref().unwrap_or(&r.operation_id))
            ),
        });
    }
    Overzicht {
        burgerservicenummer: mask(bsn),
        opgesteld: amsterdam::rfc3339(crate::disclosure::now_ms()),
        opgesteld_door: Party {
            oin: who.organisation.oin.to_string(),
            naam: Some(who.organisation.name.clone()),
        },
        reikwijdte: match who.role {
            Role::PrivacyOfficer => "organisatie",
            Role::Supervisor => "alle",
        },
        bron_geraadpleegd: true,
        verstrekkingen,
        raadplegingen,
    }
}

/// The activities the report names, once each, with what their version said.
fn versions_used(o: &Overzicht) -> BTreeMap<String, &Activiteit> {
    let mut used = BTreeMap::new();
    for v in &o.verstrekkingen {
        if let Some(a) = &v.verwerkingsactiviteit {
            used.entry(a.id.clone()).or_insert(a);
        }
    }
    used
}

/// A field path in plain Dutch, where one is known.
fn gegeven(path: &str) -> String {
    let plain = match path {
        "burgerservicenummer" => "burgerservicenummer",
        "naam" => "naam",
        "naam.voornamen" => "voornamen",
        "naam.voorvoegsel" => "voorvoegsel",
        "naam.geslachtsnaam" => "achternaam",
        "geboorte" => "geboortegegevens",
        "geboorte.datum" => "geboortedatum",
        "geboorte.plaats" => "geboorteplaats",
        "geboorte.land" => "geboorteland",
        "geslacht" => "geslacht",
        "nationaliteiten" | "nationaliteiten.nationaliteit" => "nationaliteit",
        "datumInschrijvingRni" => "datum van inschrijving in de RNI",
        "tijdelijkVerblijfsadres" => "tijdelijk verblijfsadres in Nederland",
        "verblijfplaats" => "adres in het buitenland",
        "contactgegevens" => "contactgegevens (telefoon, e-mail)",
        "rni" => "gegevens over de inschrijving in de RNI",
        other => other,
    };
    plain.to_owned()
}

fn party_name(p: &Option<Party>) -> String {
    match p {
        Some(p) => p
            .naam
            .clone()
            .unwrap_or_else(|| format!("organisatie {}", p.oin)),
        None => "onbekend".to_owned(),
    }
}

/// A CSV cell (RFC 4180), with a leading `'` before what a spreadsheet would run as a formula.
fn cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

pub fn csv(o: &Overzicht) -> String {
    let mut out = String::from(
        "tijdstip,ontvanger,ontvanger_oin,verstrekker,verstrekker_oin,verwerkingsactiviteit,naam,doel,grondslag,grondslag_verwijzing,gegevens,zaakkenmerk,registerversie,kenmerk\r\n",
    );
    for v in &o.verstrekkingen {
        let a = v.verwerkingsactiviteit.as_ref();
        let basis = a.and_then(|a| a.grondslag.as_ref());
        let row = [
            v.tijdstip.clone(),
            party_name(&v.ontvanger),
            v.ontvanger
                .as_ref()
                .map(|p| p.oin.clone())
                .unwrap_or_default(),
            party_name(&v.verstrekker),
            v.verstrekker
                .as_ref()
                .map(|p| p.oin.clone())
                .unwrap_or_default(),
            a.map(|a| a.id.clone()).unwrap_or_default(),
            a.and_then(|a| a.naam.clone()).unwrap_or_default(),
            a.and_then(|a| a.doel.clone()).unwrap_or_default(),
            basis.map(|b| b.citation.clone()).unwrap_or_default(),
            basis.and_then(|b| b.reference.clone()).unwrap_or_default(),
            v.gegevens.join("; "),
            v.zaakkenmerk.clone().unwrap_or_default(),
            v.registerversie.clone().unwrap_or_default(),
            v.kenmerk.clone(),
        ];
        out.push_str(&row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// HTML text: every value that did not come from this file goes through here.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "24 november 2026 om 10:15"
fn dutch_time(ms: i64) -> String {
    use chrono::{Datelike, Timelike};
    let t = amsterdam::local(ms);
    format!(
        "{} {} {} om {:02}:{:02}",
        t.day(),
        crate::domain::MAANDEN[t.month0() as usize],
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// The report's own style: for the screen and for print (the browser's "print to PDF").
pub const REPORT_STYLE: &str = ".inzage table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}\n\
     .inzage th,.inzage td{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}\n\
     .inzage th{width:30%;background:#eee}\n.inzage section.verstrekking{break-inside:avoid}\n\
     .inzage .klein{font-size:.85rem;color:#444}\n";

/// The printable report as a document of its own.
pub fn html(o: &Overzicht) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"nl\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Overzicht van verstrekkingen van uw persoonsgegevens</title>\n<style>\n\
         body{{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;line-height:1.45;color:#111}}\n\
         @media print{{body{{margin:0}}}}\n{REPORT_STYLE}</style>\n\
         </head>\n<body>\n{}</body>\n</html>\n",
        report_html(o)
    )
}

/// The report itself (in `<div class="inzage">`), to stand in a document of its own or in a
/// page of the UI: headings from `h1`, every value escaped.
pub fn report_html(o: &Overzicht) -> String {
    let activities = versions_used(o);
    let door = esc(o
        .opgesteld_door
        .naam
        .as_deref()
        .unwrap_or(&o.opgesteld_door.oin));
    let mut h = String::with_capacity(4096 + o.verstrekkingen.len() * 1024);
    h.push_str("<div class=\"inzage\">\n");
    h.push_str("<h1>Overzicht van verstrekkingen van uw persoonsgegevens</h1>\n");
    h.push_str(&format!(
        "<p>Burgerservicenummer: <strong>{}</strong><br>Opgesteld op {} door {}.</p>\n",
        esc(&o.burgerservicenummer),
        esc(&dutch_time(crate::disclosure::now_ms())),
        door
    ));
    h.push_str(
        "<p>Overheidsorganisaties wisselen via doelpoort persoonsgegevens uit. Elke keer dat \
         gegevens over u zijn verstrekt, is dat vastgelegd in een logboek. Dit overzicht laat \
         zien welke organisatie welke gegevens over u heeft ontvangen, wanneer, van wie en \
         waarvoor.</p>\n",
    );
    if o.reikwijdte == "organisatie" {
        h.push_str(&format!(
            "<p>Dit overzicht bevat de verstrekkingen waarbij {door} de gegevens ontving of \
             verstrekte. Verstrekkingen tussen andere organisaties staan er niet in; daarvoor \
             kunt u bij die organisaties terecht.</p>\n"
        ));
    }
    if o.verstrekkingen.is_empty() {
        h.push_str(
            "<p><strong>In het logboek staan geen verstrekkingen van gegevens over u</strong> \
             (binnen de reikwijdte van dit overzicht). Het logboek is hiervoor wel \
             geraadpleegd.</p>\n",
        );
    } else {
        h.push_str(&format!(
            "<h2>Verstrekkingen ({})</h2>\n",
            o.verstrekkingen.len()
        ));
    }
    for (i, v) in o.verstrekkingen.iter().enumerate() {
        let a = v.verwerkingsactiviteit.as_ref();
        let doel = a
            .and_then(|a| a.naam.clone())
            .or_else(|| a.map(|a| a.id.clone()))
            .unwrap_or_default();
        let grondslag = a
            .and_then(|a| a.grondslag.as_ref())
            .map(|g| esc(&g.citation))
            .unwrap_or_else(|| "niet bewaard bij deze registerversie".to_owned());
        let gegevens: Vec<String> = v.gegevens.iter().map(|g| esc(&gegeven(g))).collect();
        h.push_str(&format!(
            "<section class=\"verstrekking\">\n<h3>{}. {}</h3>\n<table>\n\
             <tr><th>Ontvangen door</th><td>{}</td></tr>\n\
             <tr><th>Verstrekt door</th><td>{}</td></tr>\n\
             <tr><th>Waarvoor (verwerkingsactiviteit)</th><td>{}</td></tr>\n\
             <tr><th>Wettelijke grondslag</th><td>{}</td></tr>\n\
             <tr><th>Welke gegevens</th><td>{}</td></tr>\n",
            i + 1,
            esc(&dutch_time(v.start_time)),
            esc(&party_name(&v.ontvanger)),
            esc(&party_name(&v.verstrekker)),
            esc(&doel),
            grondslag,
            gegevens.join(", "),
        ));
        if let Some(z) = &v.zaakkenmerk {
            h.push_str(&format!(
                "<tr><th>Zaakkenmerk van de ontvanger</th><td>{}</td></tr>\n",
                esc(z)
            ));
        }
        h.push_str(&format!(
            "<tr><th>Kenmerk in het logboek</th><td class=\"klein\">{}</td></tr>\n</table>\n</section>\n",
            esc(&v.kenmerk)
        ));
    }
    if !activities.is_empty() {
        h.push_str("<h2>Wat betekenen deze verwerkingsactiviteiten?</h2>\n<dl>\n");
        for a in activities.values() {
            h.push_str(&format!(
                "<dt><strong>{}</strong></dt>\n<dd>",
                esc(a.naam.as_deref().unwrap_or(&a.id))
            ));
            if let Some(doel) = &a.doel {
                h.push_str(&format!("Doel: {}.", esc(doel)));
            }
            if let Some(g) = &a.grondslag {
                h.push_str(&format!(" Grondslag: {}", esc(&g.citation)));
                if let Some(r) = &g.reference {
                    h.push_str(&format!(" ({})", esc(r)));
                }
                h.push('.');
            }
            h.push_str("</dd>\n");
        }
        h.push_str("</dl>\n");
    }
    if !o.raadplegingen.is_empty() {
        h.push_str("<h2>Eerdere inzage in het logboek over u</h2>\n<ul>\n");
        for r in &o.raadplegingen {
            h.push_str(&format!(
                "<li>{} door {}</li>\n",
                esc(&dutch_time(
                    chrono::DateTime::parse_from_rfc3339(&r.tijdstip)
                        .map(|t| t.timestamp_millis())
                        .unwrap_or_default()
                )),
                esc(&party_name(&r.door))
            ));
        }
        h.push_str("</ul>\n");
    }
    h.push_str(
        "<h2>Bent u het er niet mee eens?</h2>\n\
         <p>U kunt de organisatie die uw gegevens ontving vragen waarom zij die nodig had, en \
         vragen om onjuiste gegevens te verbeteren of te verwijderen. U kunt ook bezwaar maken \
         tegen het gebruik van uw gegevens (artikel 21 van de Algemene verordening \
         gegevensbescherming). Neem daarvoor contact op met de functionaris voor \
         gegevensbescherming van die organisatie; haar contactgegevens staan op haar \
         website.</p>\n\
         <p>Bent u niet tevreden over het antwoord, dan kunt u een klacht indienen bij de \
         Autoriteit Persoonsgegevens (autoriteitpersoonsgegevens.nl).</p>\n\
         </div>\n",
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_best_supported_type() {
        assert_eq!(negotiate(None), Format::Json);
        assert_eq!(negotiate(Some("text/csv")), Format::Csv);
        assert_eq!(
            negotiate(Some("text/html,application/xhtml+xml,*/*;q=0.8")),
            Format::Html
        );
        assert_eq!(
            negotiate(Some("application/json;q=0.5, text/csv;q=0.9")),
            Format::Csv
        );
        assert_eq!(negotiate(Some("application/pdf")), Format::Json);
        assert_eq!(negotiate(Some("text/csv;q=0, */*")), Format::Json);
    }

    #[test]
    fn cells_and_html_are_escaped() {
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(esc("<script>&'\""), "&lt;script&gt;&amp;&#39;&quot;");
    }

    #[test]
    fn the_bsn_is_masked_but_for_three_digits() {
        let bsn = Bsn::parse("999993653").unwrap();
        assert_eq!(mask(&bsn), "******653");
    }
}
