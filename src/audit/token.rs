//! Who is asking the audit API: a bearer JWT (RFC 6750, RFC 7519) from a configured issuer,
//! naming the caller's organisation (`oin`) and `role`.
//!
//! A token is accepted only when its issuer is configured, its signature verifies with that
//! issuer's public key under the one algorithm that key is for (EdDSA for an Ed25519 key,
//! RS256 for an RSA key: `alg: none`, HS256 with the public key as secret and any other
//! algorithm are refused), its `aud` is `audit.audience`, it has not expired (`exp`, required)
//! and is already valid (`nbf`, when present), both within `audit.leeway_s`. The OIN must be a
//! registered organisation (and one the issuer may vouch for); `supervisor` only for an
//! organisation of kind supervisor.
//!
//! In development (`tls.dev_certs`) the gateway has an Ed25519 key of its own,
//! `<keys_dir>/audit-dev-issuer.pem`, and trusts it as issuer `doelpoort-dev`;
//! `doelpoort token issue` signs tokens with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use anyhow::{bail, Context};
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::AuditSettings;
use crate::disclosure::keys;
use crate::domain::Oin;
use crate::organisations::{Organisation, OrganisationKind, Registry};
use crate::problem::{Problem, ProblemCode};

/// The issuer name of the gateway's own development key.
pub const DEV_ISSUER: &str = "doelpoort-dev";
const DEV_KEY_FILE: &str = "audit-dev-issuer.pem";
const REALM: &str = "Bearer realm=\"doelpoort-audit\"";
/// Longer tokens are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What an audit user may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The functionaris gegevensbescherming of an organisation: records where that
    /// organisation is requester or provider.
    PrivacyOfficer,
    /// A supervisory authority (Autoriteit Persoonsgegevens): every record.
    Supervisor,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "privacy-officer" => Some(Role::PrivacyOfficer),
            "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::PrivacyOfficer => "privacy-officer",
            Role::Supervisor => "supervisor",
        }
    }
}

/// An authenticated audit user.
#[derive(Debug, Clone)]
pub struct Auditor {
    pub organisation: Arc<Organisation>,
    pub role: Role,
    pub issuer: String,
    /// The token's `sub` (the person or account), when it names one.
    pub subject: Option<String>,
    /// The token's `exp` (seconds since the epoch).
    pub expires_at: u64,
}

/// The claims doelpoort reads; `aud`, `exp` and `nbf` are checked by `jsonwebtoken`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    pub aud: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    pub oin: String,
    pub role: String,
}

struct TrustedIssuer {
    key: DecodingKey,
    algorithm: Algorithm,
    /// Empty: any registered organisation.
    oins: Vec<Oin>,
}

/// The configured issuers and the checks every token passes.
pub struct TokenVerifier {
    issuers: HashMap<String, TrustedIssuer>,
    audience: String,
    leeway_s: u64,
}

/// A public key from a PEM file, with the one algorithm it verifies.
fn decoding_key(pem: &[u8]) -> anyhow::Result<(DecodingKey, Algorithm)> {
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Ok((key, Algorithm::EdDSA));
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((key, Algorithm::RS256));
    }
    bail!("not a PEM public key of type Ed25519 or RSA")
}

impl TokenVerifier {
    /// The issuers of `settings`, and the dev issuer when given.
    pub fn new(settings: &AuditSettings, dev: Option<&DevIssuer>) -> anyhow::Result<TokenVerifier> {
        let mut issuers = HashMap::new();
        for (i, issuer) in settings.issuers.iter().enumerate() {
            let pem = std::fs::read(&issuer.public_key).with_context(|| {
                format!(
                    "audit.issuers[{i}].public_key: cannot read {}",
                    issuer.public_key.display()
                )
            })?;
            let (key, algorithm) = decoding_key(&pem).with_context(|| {
                format!(
                    "audit.issuers[{i}].public_key ({})",
                    issuer.public_key.display()
                )
            })?;
            let oins = issuer
                .oins
                .iter()
                .map(|o| Oin::parse(o))
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("audit.issuers[{i}].oins: {e}"))?;
            issuers.insert(
                issuer.iss.clone(),
                TrustedIssuer {
                    key,
                    algorithm,
                    oins,
                },
            );
        }
        if let Some(dev) = dev {
            if issuers.contains_key(DEV_ISSUER) {
                bail!("audit.issuers: '{DEV_ISSUER}' is the dev issuer's name; use another");
            }
            issuers.insert(
                DEV_ISSUER.to_owned(),
                TrustedIssuer {
                    key: dev.decoding_key()?,
                    algorithm: Algorithm::EdDSA,
                    oins: Vec::new(),
                },
            );
        }
        Ok(TokenVerifier {
            issuers,
            audience: settings.audience.clone(),
            leeway_s: settings.leeway_s,
        })
    }

    /// Checks `token` and who it names against `registry`.
    pub fn verify(&self, token: &str, registry: &Registry) -> Result<Auditor, Problem> {
        let refuse = |why: &str| {
            Problem::new(ProblemCode::Authentication)
                .detail(why.to_owned())
                .challenge(format!("{REALM}, error=\"invalid_token\""))
        };
        if token.len() > MAX_TOKEN_BYTES {
            return Err(refuse("Het token is te lang."));
        }
        // Only to pick the issuer's key: nothing of the token is trusted before `decode`.
        let iss = unverified_issuer(token).ok_or_else(|| refuse("Het token is geen JWT."))?;
        let issuer = self
            .issuers
            .get(&iss)
            .ok_or_else(|| refuse("De uitgever (iss) van het token is niet bekend."))?;
        let mut validation = Validation::new(issuer.algorithm);
        validation.algorithms = vec![issuer.algorithm];
        validation.set_issuer(&[iss.as_str()]);
        validation.set_audience(&[self.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = self.leeway_s;
        let claims = jsonwebtoken::decode::<Claims>(token, &issuer.key, &validation)
            .map_err(|e| {
                refuse(match e.kind() {
                    ErrorKind::ExpiredSignature => "Het token is verlopen.",
                    ErrorKind::ImmatureSignature => "Het token is nog niet geldig (nbf).",
                    ErrorKind::InvalidAudience => "Het token is niet voor deze dienst (aud).",
                    ErrorKind::InvalidIssuer => "De uitgever (iss) van het token is niet bekend.",
                    ErrorKind::InvalidAlgorithm => {
                        "Het token is niet ondertekend met het algoritme van deze uitgever."
                    }
                    ErrorKind::InvalidSignature => "De handtekening van het token klopt niet.",
                    ErrorKind::MissingRequiredClaim(_) => {
                        "Het token mist een verplichte claim (exp, iss, aud)."
                    }
                    _ => "Het token is niet geldig.",
                })
            })?
            .claims;
        let role = Role::parse(&claims.role)
            .ok_or_else(|| refuse("De rol in het token is niet privacy-officer of supervisor."))?;
        let oin = Oin::parse(&claims.oin)
            .map_err(|_| refuse("De claim oin is geen OIN (20 cijfers)."))?;
        let organisation = registry.get(&oin).cloned().ok_or_else(|| {
            Problem::new(ProblemCode::UnknownOrganisation)
                .detail("De organisatie (oin) in het token is niet bekend bij doelpoort.")
        })?;
        if !issuer.oins.is_empty() && !issuer.oins.contains(&oin) {
            return Err(refuse(
                "Deze uitgever mag geen tokens voor deze organisatie uitgeven.",
            ));
        }
        if role == Role::Supervisor && organisation.kind != OrganisationKind::Supervisor {
            return Err(Problem::new(ProblemCode::NotPermitted)
                .detail("De rol supervisor is alleen voor een toezichthouder."));
        }
        Ok(Auditor {
            organisation,
            role,
            issuer: claims.iss,
            subject: claims.sub,
            expires_at: claims.exp,
        })
    }
}

/// The `iss` of a token, read without checking anything.
fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok().map(|i| i.iss)
}

/// The gateway's development issuer: an Ed25519 key in `keys_dir`.
pub struct DevIssuer {
    key: rcgen::KeyPair,
    pub path: PathBuf,
}

impl DevIssuer {
    /// Reads `<keys_dir>/audit-dev-issuer.pem`; creates it (0600) when missing and `create`.
    pub fn load(keys_dir: &Path, create: bool) -> anyhow::Result<DevIssuer> {
        let path = keys_dir.join(DEV_KEY_FILE);
        let key = if path.exists() {
            let pem = keys::read_private(&path)?;
            rcgen::KeyPair::from_pem(&pem)
                .with_context(|| format!("{} is not a PKCS#8 PEM key", path.display()))?
        } else if create {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
            keys::write_private(&path, key.serialize_pem().as_bytes())?;
            key
        } else {
            bail!(
                "{} does not exist (the gateway creates it when it starts with tls.dev_certs on)",
                path.display()
            );
        };
        if !key.is_compatible(&rcgen::PKCS_ED25519) {
            bail!("{} is not an Ed25519 key", path.display());
        }
        Ok(DevIssuer { key, path })
    }

    /// The PEM public key (SubjectPublicKeyInfo) tokens are checked with.
    pub fn public_key_pem(&self) -> String {
        self.key.public_key_pem()
    }

    fn decoding_key(&self) -> anyhow::Result<DecodingKey> {
        Ok(DecodingKey::from_ed_pem(self.public_key_pem().as_bytes())?)
    }

    /// Signs `claims` (EdDSA).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let key = EncodingKey::from_ed_pem(self.key.serialize_pem().as_bytes())?;
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            claims,
            &key,
        )?)
    }

    /// A token for `oin` as `role`, valid from now for `ttl_min` minutes.
    pub fn issue(
        &self,
        oin: &Oin,
        role: Role,
        ttl_min: u64,
        audience: &str,
    ) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp() as u64;
        self.sign(&Claims {
            iss: DEV_ISSUER.to_owned(),
            sub: Some(format!("dev-{}", role.as_str())),
            aud: audience.to_owned(),
            exp: now + ttl_min * 60,
            nbf: Some(now),
            iat: Some(now),
            oin: oin.to_string(),
            role: role.as_str().to_owned(),
        })
    }
}

impl FromRequest for Auditor {
    type Error = Problem;
    type Future = std::future::Ready<Result<Auditor, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Auditor, Problem> {
    let audit = req
        .app_data::<web::Data<super::Audit>>()
        .expect("the audit context is registered on the audit app");
    let missing = || {
        Problem::new(ProblemCode::Authentication)
            .detail("Meld u aan met een bearer-token (Authorization: Bearer …).")
            .challenge(REALM)
    };
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing());
    }
    audit.authenticate(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRY: &str = "[[organisation]]\noin = \"99000000000000000005\"\nname = \"AP\"\nkind = \"supervisor\"\n\n[[organisation]]\noin = \"99000000000103630000\"\nname = \"Amsterdam\"\nkind = \"gemeente\"\ngemeentecode = \"0363\"\n";

    fn setup() -> (tempfile::TempDir, DevIssuer, TokenVerifier, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevIssuer::load(dir.path(), true).unwrap();
        let verifier = TokenVerifier::new(&AuditSettings::default(), Some(&dev)).unwrap();
        (dir, dev, verifier, Registry::parse(REGISTRY).unwrap())
    }

    #[test]
    fn the_dev_key_is_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, dev, _, _) = setup();
        let mode = std::fs::metadata(&dev.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = DevIssuer::load(dir.path(), false).unwrap();
        assert_eq!(again.public_key_pem(), dev.public_key_pem());
    }

    #[test]
    fn roles_follow_the_organisation() {
        let (_dir, dev, verifier, registry) = setup();
        let amsterdam = Oin::parse("99000000000103630000").unwrap();
        let ap = Oin::parse("99000000000000000005").unwrap();
        let t = dev
            .issue(&amsterdam, Role::PrivacyOfficer, 5, "doelpoort-audit")
            .unwrap();
        let who = verifier.verify(&t, &registry).unwrap();
        assert_eq!(
            (who.role, who.organisation.name.as_str()),
            (Role::PrivacyOfficer, "Amsterdam")
        );
        let t = dev
            .issue(&amsterdam, Role::Supervisor, 5, "doelpoort-audit")
            .unwrap();
        assert_eq!(
            verifier.verify(&t, &registry).unwrap_err().code,
            ProblemCode::NotPermitted
        );
        let t = dev
            .issue(&ap, Role::Supervisor, 5, "doelpoort-audit")
            .unwrap();
        assert_eq!(
            verifier.verify(&t, &registry).unwrap().role,
            Role::Supervisor
        );
        let unknown = Oin::parse("99000000000199990000").unwrap();
        let t = dev
            .issue(&unknown, Role::PrivacyOfficer, 5, "doelpoort-audit")
            .unwrap();
        assert_eq!(
            verifier.verify(&t, &registry).unwrap_err().code,
            ProblemCode::UnknownOrganisation
        );
    }

    #[test]
    fn an_rsa_issuer_verifies_rs256_only() {
        // A key pair made for this test only (tests/fixtures), never trusted anywhere else.
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let key = fixtures.join("audit-rsa-test-key.pem");
        let public = fixtures.join("audit-rsa-test-key.pub.pem");
        let settings = AuditSettings {
            issuers: vec![crate::config::IssuerSettings {
                iss: "https://idp.example".into(),
                public_key: public.clone(),
                oins: vec!["99000000000103630000".into()],
            }],
            ..AuditSettings::default()
        };
        let verifier = TokenVerifier::new(&settings, None).unwrap();
        let registry = Registry::parse(REGISTRY).unwrap();
        let now = chrono::Utc::now().timestamp() as u64;
        let claims = |oin: &str| Claims {
            iss: "https://idp.example".into(),
            sub: Some("fg@amsterdam".into()),
            aud: "doelpoort-audit".into(),
            exp: now + 300,
            nbf: None,
            iat: Some(now),
            oin: oin.into(),
            role: "privacy-officer".into(),
        };
        let signing = EncodingKey::from_rsa_pem(&std::fs::read(&key).unwrap()).unwrap();
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims("99000000000103630000"),
            &signing,
        )
        .unwrap();
        assert_eq!(
            verifier.verify(&t, &registry).unwrap().subject.as_deref(),
            Some("fg@amsterdam")
        );
        // The issuer may only vouch for Amsterdam.
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims("99000000000000000005"),
            &signing,
        )
        .unwrap();
        assert_eq!(
            verifier.verify(&t, &registry).unwrap_err().code,
            ProblemCode::Authentication
        );
        // Algorithm confusion: the public key as an HMAC secret.
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims("99000000000103630000"),
            &EncodingKey::from_secret(&std::fs::read(&public).unwrap()),
        )
        .unwrap();
        assert_eq!(
            verifier.verify(&t, &registry).unwrap_err().code,
            ProblemCode::Authentication
        );
    }

    #[test]
    fn the_issuer_is_peeked_only_from_a_three_part_token() {
        assert_eq!(unverified_issuer("a.b"), None);
        assert_eq!(unverified_issuer("a.b.c.d"), None);
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"iss":"x"}"#);
        assert_eq!(
            unverified_issuer(&format!("h.{payload}.s")),
            Some("x".into())
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzzing::arb;
    use proptest::prelude::*;

    fn verifier() -> (tempfile::TempDir, DevIssuer, TokenVerifier) {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevIssuer::load(dir.path(), true).unwrap();
        let verifier = TokenVerifier::new(&AuditSettings::default(), Some(&dev)).unwrap();
        (dir, dev, verifier)
    }

    /// Base64url segments, some of them JSON.
    fn segment() -> impl Strategy<Value = String> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as b64;
        prop_oneof![
            "[A-Za-z0-9_-]{0,60}",
            arb::text().prop_map(move |s| b64.encode(s)),
            Just(b64.encode(br#"{"alg":"none","typ":"JWT"}"#)),
            Just(b64.encode(br#"{"alg":"HS256"}"#)),
            Just(b64.encode(br#"{"iss":"doelpoort-dev","aud":"doelpoort-audit","exp":4102444800,"oin":"99000000000103630000","role":"privacy-officer"}"#)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn no_token_string_is_accepted_or_panics(
            parts in proptest::collection::vec(segment(), 0..5), raw in arb::text(), raw_first in any::<bool>(),
        ) {
            let (_dir, _dev, verifier) = verifier();
            let registry = crate::fuzzing::organisations();
            for token in [parts.join("."), raw.clone()] {
                let mut data = vec![0u8];
                data.extend(token.as_bytes());
                if raw_first {
                    crate::fuzzing::token(&data);
                }
                let p = verifier.verify(&token, registry).unwrap_err();
                prop_assert_eq!(p.code, ProblemCode::Authentication);
                prop_assert!(p.challenge.is_some());
            }
        }

        #[test]
        fn a_signed_token_is_accepted_exactly_when_its_claims_hold(
            role in "privacy-officer|supervisor|admin",
            oin in "99000000000103630000|99000000000000000005|99000000000199990000|0363",
            aud in "doelpoort-audit|elders",
            exp_offset in -600i64..600,
            nbf_offset in proptest::option::of(-600i64..600),
            tamper in any::<bool>(),
        ) {
            let (_dir, dev, verifier) = verifier();
            let registry = crate::fuzzing::organisations();
            let now = chrono::Utc::now().timestamp();
            let claims = Claims {
                iss: DEV_ISSUER.into(), sub: None, aud: aud.clone(),
                exp: (now + exp_offset) as u64, nbf: nbf_offset.map(|o| (now + o) as u64), iat: None,
                oin: oin.clone(), role: role.clone(),
            };
            let mut token = dev.sign(&claims).unwrap();
            if tamper {
                // One character of the signature changed.
                let last = token.pop().unwrap();
                token.push(if last == 'A' { 'B' } else { 'A' });
            }
            let leeway = AuditSettings::default().leeway_s as i64;
            // Stay clear of the boundaries, where the clock may tick between here and there.
            prop_assume!((exp_offset + leeway).abs() > 2);
            prop_assume!(nbf_offset.is_none_or(|o| (o - leeway).abs() > 2));
            let org = Oin::parse(&oin).ok().and_then(|o| registry.get(&o));
            let should = !tamper
                && aud == "doelpoort-audit"
                && exp_offset + leeway > 0
                && nbf_offset.is_none_or(|o| o - leeway < 0)
                && role != "admin"
                && org.is_some()
                && (role != "supervisor" || org.is_some_and(|o| o.kind == OrganisationKind::Supervisor));
            match verifier.verify(&token, registry) {
                Ok(who) => {
                    prop_assert!(should, "accepted {claims:?}");
                    prop_assert_eq!(who.organisation.oin.as_str(), oin.as_str());
                    prop_assert_eq!(who.role.as_str(), role.as_str());
                }
                Err(p) => {
                    prop_assert!(!should, "refused ({:?}) {claims:?}", p.code);
                    let data: Vec<u8> = std::iter::once(1u8)
                        .chain(serde_json::to_vec(&claims).unwrap())
                        .collect();
                    crate::fuzzing::token(&data);
                }
            }
        }
    }
}
