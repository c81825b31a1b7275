//! Signing in to the UI. The UI holds no sessions of its own: the bearer token the API takes
//! is kept in a cookie (`HttpOnly`: no script reads it; `Secure`; `SameSite=Strict`: no other
//! site's page sends it; path `/audit/ui`: the API never takes it) and checked on every
//! request exactly as the API checks its `Authorization` header (`Audit::authenticate`).
//! The cookie ends when the token does.
//!
//! Forms that change something (signing in and out, an inzage, a verification) are refused
//! unless the browser says they come from this site (`Sec-Fetch-Site`, else `Origin`), and a
//! signed-in user's forms also carry a CSRF token: an HMAC of the session's token under a key
//! the gateway draws when it starts.

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use hmac::{Hmac, Mac};
use maud::html;
use serde::Deserialize;
use sha2::Sha256;

use super::{page, problem_box, see_other, status_of, BASE};
use crate::audit::token::{Auditor, Role};
use crate::audit::Audit;
use crate::organisations::OrganisationKind;
use crate::problem::{Problem, ProblemCode};

/// The cookie holding the token.
pub const COOKIE: &str = "__Secure-doelpoort-audit";
/// How long a dev login's token lasts (minutes).
const DEV_TTL_MIN: u64 = 60;

/// A signed-in user of the UI.
pub struct Signed {
    pub who: Auditor,
    /// The CSRF token of this session's forms.
    pub csrf: String,
}

/// Why a page cannot be shown to this browser: it is sent to the sign-in page.
#[derive(Debug)]
pub enum NotSignedIn {
    Missing,
    /// The cookie's token is refused now (expired, or its issuer is no longer trusted).
    Refused(Problem),
}

impl std::fmt::Display for NotSignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not signed in to the audit UI")
    }
}

impl ResponseError for NotSignedIn {
    fn status_code(&self) -> StatusCode {
        StatusCode::SEE_OTHER
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            NotSignedIn::Missing => see_other(&format!("{BASE}/")),
            NotSignedIn::Refused(_) => {
                let mut res = see_other(&format!("{BASE}/?aanmelding=verlopen"));
                clear_cookie(&mut res);
                res
            }
        }
    }
}

impl FromRequest for Signed {
    type Error = NotSignedIn;
    type Future = std::future::Ready<Result<Signed, NotSignedIn>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(signed(req))
    }
}

fn audit_of(req: &HttpRequest) -> &Audit {
    req.app_data::<web::Data<Audit>>()
        .expect("the audit context is registered on the audit app")
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn signed(req: &HttpRequest) -> Result<Signed, NotSignedIn> {
    let token = cookie(req, COOKIE)
        .filter(|t| !t.is_empty())
        .ok_or(NotSignedIn::Missing)?;
    let audit = audit_of(req);
    let who = audit.authenticate(token).map_err(NotSignedIn::Refused)?;
    Ok(Signed {
        who,
        csrf: csrf(audit, token),
    })
}

fn mac(audit: &Audit, token: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&audit.ui_key).expect("any key length");
    mac.update(b"doelpoort-audit-ui-csrf\0");
    mac.update(token.as_bytes());
    mac
}

/// The CSRF token of the session with `token`: 128 bits of its HMAC, hex.
fn csrf(audit: &Audit, token: &str) -> String {
    hex::encode(&mac(audit, token).finalize().into_bytes()[..16])
}

/// Whether the browser says this request comes from a page of this site. A request without
/// either header comes from no browser (which sends `Origin` on every cross-site POST).
fn same_origin(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) => origin == format!("https://{}", req.connection_info().host()),
        None => true,
    }
}

fn forged() -> Problem {
    Problem::new(ProblemCode::NotPermitted).detail(
        "Dit formulier kwam niet van deze site of is verlopen. Open de pagina opnieuw en probeer het nog eens.",
    )
}

/// Refuses a form of a signed-in user that does not come from this site's own pages.
pub(crate) fn check_form(req: &HttpRequest, signed: &Signed, given: &str) -> Result<(), Problem> {
    let token = cookie(req, COOKIE).unwrap_or_default();
    let tag = hex::decode(given).ok().filter(|t| t.len() == 16);
    let genuine = match tag {
        Some(tag) => mac(audit_of(req), token)
            .verify_truncated_left(&tag)
            .is_ok(),
        None => false,
    };
    if !same_origin(req) || !genuine || signed.csrf.is_empty() {
        return Err(forged());
    }
    Ok(())
}

fn set_cookie(res: &mut HttpResponse, token: &str, max_age_s: u64) {
    let value = format!(
        "{COOKIE}={token}; Path={BASE}; Max-Age={max_age_s}; HttpOnly; Secure; SameSite=Strict"
    );
    if let Ok(v) = header::HeaderValue::from_str(&value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn clear_cookie(res: &mut HttpResponse) {
    let value = format!("{COOKIE}=; Path={BASE}; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
    res.headers_mut().append(
        header::SET_COOKIE,
        header::HeaderValue::from_str(&value).expect("a valid header"),
    );
}

/// The sign-in page (the start page of a browser that is not signed in).
pub(crate) fn sign_in_page(
    audit: &Audit,
    status: StatusCode,
    message: Option<&Problem>,
    note: Option<&str>,
) -> HttpResponse {
    let registry = audit.registry();
    let mut organisations: Vec<_> = registry.iter().cloned().collect();
    // The agencies first, then the gemeenten, each by name.
    organisations.sort_by(|a, b| {
        let key = |o: &crate::organisations::Organisation| {
            (o.kind == OrganisationKind::Gemeente, o.name.clone())
        };
        key(a).cmp(&key(b))
    });
    let body = html! {
        h1 { "Aanmelden" }
        p { "In deze omgeving ziet u in het logboek van doelpoort welke persoonsgegevens via de gateway zijn verstrekt: aan wie, wanneer en waarvoor. U ziet de verstrekkingen waarbij uw eigen organisatie ontvanger of verstrekker was; de toezichthouder ziet alles." }
        @if let Some(n) = note { p.melding role="status" { (n) } }
        @if let Some(p) = message { (problem_box(p)) }
        form.blok method="post" action=(format!("{BASE}/aanmelden")) {
            h2 { "Met een token van uw organisatie" }
            div.veld {
                label for="token" { "Token (JWT)" }
                textarea id="token" name="token" rows="5" required autocomplete="off" spellcheck="false" aria-describedby="token-uitleg" {}
                p.uitleg id="token-uitleg" { "Plak hier het token dat de identiteitsdienst van uw organisatie u gaf. Het wordt alleen in een beveiligd cookie bewaard, niet in het adres van de pagina." }
            }
            button type="submit" { "Aanmelden" }
        }
        @if audit.dev_issuer.is_some() {
            form.blok method="post" action=(format!("{BASE}/aanmelden/dev")) {
                h2 { "Ontwikkelomgeving: aanmelden zonder token" }
                p { "Deze gateway draait met ontwikkelcertificaten. Kies een organisatie en een rol; de gateway geeft u een ontwikkeltoken voor " (DEV_TTL_MIN) " minuten." }
                div.veld {
                    label for="dev-organisatie" { "Organisatie" }
                    select id="dev-organisatie" name="organisatie" {
                        @for o in &organisations {
                            option value=(o.alias()) selected[o.alias() == "gemeente-0363"] { (o.name) " (" (o.alias()) ")" }
                        }
                    }
                }
                div.veld {
                    label for="dev-rol" { "Rol" }
                    select id="dev-rol" name="rol" {
                        option value="privacy-officer" { "Functionaris gegevensbescherming (privacy-officer)" }
                        option value="supervisor" { "Toezichthouder (supervisor; alleen voor de Autoriteit Persoonsgegevens)" }
                    }
                }
                button type="submit" { "Aanmelden als ontwikkelaar" }
            }
        }
    };
    page(status, "Aanmelden", None, "/", body)
}

/// Signed in as `who` with `token`: the cookie, and on to the start page.
fn welcome(who: &Auditor, token: &str) -> HttpResponse {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let mut res = see_other(&format!("{BASE}/"));
    set_cookie(&mut res, token, who.expires_at.saturating_sub(now).max(1));
    res
}

#[derive(Deserialize)]
pub struct TokenForm {
    token: String,
}

/// `POST /audit/ui/aanmelden`: a pasted token, checked as the API checks it.
pub async fn aanmelden(
    audit: web::Data<Audit>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    if !same_origin(&req) {
        return sign_in_page(&audit, StatusCode::FORBIDDEN, Some(&forged()), None);
    }
    let token = form.token.trim();
    match audit.authenticate(token) {
        Ok(who) => welcome(&who, token),
        Err(p) => sign_in_page(&audit, status_of(&p), Some(&p), None),
    }
}

#[derive(Deserialize)]
pub struct DevForm {
    organisatie: String,
    rol: String,
}

/// `POST /audit/ui/aanmelden/dev`: development only (`tls.dev_certs`): a dev token for the
/// chosen organisation and role, signed with the gateway's dev key, then checked as any.
pub async fn dev_aanmelden(
    audit: web::Data<Audit>,
    req: HttpRequest,
    form: web::Form<DevForm>,
) -> HttpResponse {
    let Some(dev) = &audit.dev_issuer else {
        let p = Problem::not_found()
            .detail("Aanmelden zonder token kan alleen in een ontwikkelomgeving.");
        return sign_in_page(&audit, StatusCode::NOT_FOUND, Some(&p), None);
    };
    if !same_origin(&req) {
        return sign_in_page(&audit, StatusCode::FORBIDDEN, Some(&forged()), None);
    }
    let registry = audit.registry();
    let (Some(org), Some(role)) = (registry.find(&form.organisatie), Role::parse(&form.rol)) else {
        let p = Problem::new(ProblemCode::ParamsValidation)
            .detail("Kies een bekende organisatie en een rol.");
        return sign_in_page(&audit, StatusCode::BAD_REQUEST, Some(&p), None);
    };
    let issued = dev.issue(&org.oin, role, DEV_TTL_MIN, &audit.settings.audience);
    let token = match issued {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "the dev issuer could not sign a token");
            return sign_in_page(
                &audit,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&Problem::not_available()),
                None,
            );
        }
    };
    match audit.authenticate(&token) {
        Ok(who) => welcome(&who, &token),
        Err(p) => sign_in_page(&audit, status_of(&p), Some(&p), None),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /audit/ui/afmelden`: the cookie is cleared. (The token itself stays valid until
/// its `exp`: a JWT cannot be withdrawn.)
pub async fn afmelden(signed: Signed, req: HttpRequest, form: web::Form<CsrfForm>) -> HttpResponse {
    if let Err(p) = check_form(&req, &signed, &form.csrf) {
        return page(
            status_of(&p),
            "Afmelden",
            Some(&signed),
            "",
            problem_box(&p),
        );
    }
    let mut res = see_other(&format!("{BASE}/?aanmelding=afgemeld"));
    clear_cookie(&mut res);
    res
}
