//! The development PKI (`doelpoort certs init`): a CA, a server certificate for localhost, a
//! client certificate per demo organisation (OIN in the subject serialNumber, taken from the
//! organisation registry) and the misfits the tests need, plus the CRL. Existing files are
//! never overwritten: a certificate and its key are made together or not at all.
//!
//! Not for production: there the certificates come from PKIoverheid.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams,
    DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;

use crate::organisations::Registry;

/// Demo organisations that get a client certificate, by alias in the registry.
pub const DEMO_CLIENTS: &[&str] = &[
    "rvig",
    "uwv",
    "svb",
    "nla",
    "supervisor",
    "gemeente-0363",
    "gemeente-0599",
    "gemeente-0606",
    "gemeente-0358",
];

/// An OIN that no registry lists (the `unknown-oin` test certificate).
pub const UNREGISTERED_OIN: &str = "99000000000099990000";

/// Test certificates that must be refused, each for one reason.
#[derive(Debug, Clone, Copy)]
enum Misfit {
    /// Listed in the CRL.
    Revoked,
    /// Validity ended yesterday.
    Expired,
    /// Valid from next month.
    NotYetValid,
    /// Issued by a CA the gateway does not trust.
    OtherCa,
    /// No subject serialNumber at all.
    NoOin,
    /// An OIN that is not in the registry.
    UnknownOin,
    /// Extended key usage serverAuth only: not a client certificate.
    WrongUsage,
}

const MISFITS: &[(&str, Misfit, &str)] = &[
    ("revoked", Misfit::Revoked, "gemeente-0599"),
    ("expired", Misfit::Expired, "gemeente-0606"),
    ("not-yet-valid", Misfit::NotYetValid, "uwv"),
    ("other-ca", Misfit::OtherCa, "nla"),
    ("no-oin", Misfit::NoOin, "gemeente-0363"),
    ("unknown-oin", Misfit::UnknownOin, "gemeente-0363"),
    ("wrong-usage", Misfit::WrongUsage, "svb"),
];

/// What `init` did, file by file.
#[derive(Debug, Default)]
pub struct InitReport {
    pub created: Vec<PathBuf>,
    pub kept: Vec<PathBuf>,
}

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

pub fn init(dir: &Path, registry: &Registry) -> anyhow::Result<InitReport> {
    let mut report = InitReport::default();
    std::fs::create_dir_all(dir.join("clients"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let ca = load_or_create_ca(dir, &mut report)?;
    let now = OffsetDateTime::now_utc();

    let server = Pair::at(dir, "server.pem", "server-key.pem")?;
    if let Some(pair) = server {
        let mut params =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()])?;
        params.distinguished_name = dn(&[
            (DnType::CommonName, "localhost"),
            (DnType::OrganizationName, "doelpoort (dev)"),
        ]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        finish_leaf(&mut params, now, Duration::days(-1), Duration::days(825));
        pair.write_signed(params, &ca, &mut report)?;
    } else {
        report.kept.push(dir.join("server.pem"));
    }

    for alias in DEMO_CLIENTS {
        let org = registry
            .find(alias)
            .ok_or_else(|| anyhow!("the organisation registry has no '{alias}'; it is needed for the demo certificates"))?;
        if let Some(pair) = Pair::at(
            dir,
            &format!("clients/{alias}.pem"),
            &format!("clients/{alias}-key.pem"),
        )? {
            let params = client_params(alias, &org.name, Some(org.oin.as_str()), now)?;
            pair.write_signed(params, &ca, &mut report)?;
        } else {
            report.kept.push(dir.join(format!("clients/{alias}.pem")));
        }
    }

    let other_ca = make_ca("doelpoort dev other CA (untrusted)")?;
    for (name, misfit, like) in MISFITS {
        let Some(pair) = Pair::at(
            dir,
            &format!("clients/{name}.pem"),
            &format!("clients/{name}-key.pem"),
        )?
        else {
            report.kept.push(dir.join(format!("clients/{name}.pem")));
            continue;
        };
        let org = registry
            .find(like)
            .ok_or_else(|| anyhow!("the organisation registry has no '{like}'"))?;
        let oin = match misfit {
            Misfit::NoOin => None,
            Misfit::UnknownOin => {
                if registry.find(UNREGISTERED_OIN).is_some() {
                    bail!("the registry lists {UNREGISTERED_OIN}, the OIN reserved for the unknown-oin test certificate");
                }
                Some(UNREGISTERED_OIN)
            }
            _ => Some(org.oin.as_str()),
        };
        let mut params = client_params(name, &org.name, oin, now)?;
        match misfit {
            Misfit::Expired => {
                params.not_before = now - Duration::days(60);
                params.not_after = now - Duration::days(1);
            }
            Misfit::NotYetValid => {
                params.not_before = now + Duration::days(30);
                params.not_after = now + Duration::days(400);
            }
            Misfit::WrongUsage => {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
            }
            _ => {}
        }
        let issuer = if matches!(misfit, Misfit::OtherCa) {
            &other_ca
        } else {
            &ca
        };
        pair.write_signed(params, issuer, &mut report)?;
    }

    let crl_path = dir.join("crl.pem");
    if crl_path.exists() {
        report.kept.push(crl_path);
    } else {
        let revoked = serial_of(&dir.join("clients/revoked.pem"))?;
        let pem = crl_pem(&ca, vec![revoked], 1, now)?;
        write_new(&crl_path, pem.as_bytes(), false)?;
        report.created.push(crl_path);
    }
    Ok(report)
}

/// Adds the client certificate `clients/NAME.pem` to the CRL and writes `crl.pem` anew (with
/// a higher CRL number), keeping the certificates it already listed. Unlike `init`, this
/// replaces `crl.pem`: revoking is an explicit act. The gateway picks the new CRL up without
/// restart.
pub fn revoke(dir: &Path, name: &str) -> anyhow::Result<()> {
    let ca = load_or_create_ca(dir, &mut InitReport::default())?;
    let crl_path = dir.join("crl.pem");
    let (mut revoked, number) = match std::fs::read(&crl_path) {
        Ok(pem) => {
            let (_, pem) = x509_parser::pem::parse_x509_pem(&pem)
                .map_err(|e| anyhow!("{}: {e}", crl_path.display()))?;
            let (_, crl) =
                x509_parser::revocation_list::CertificateRevocationList::from_der(&pem.contents)
                    .map_err(|e| anyhow!("{}: {e}", crl_path.display()))?;
            let listed: Vec<SerialNumber> = crl
                .iter_revoked_certificates()
                .map(|r| SerialNumber::from_slice(r.raw_serial()))
                .collect();
            let number = crl
                .crl_number()
                .map_or(1u64, |n| n.iter_u64_digits().next().unwrap_or(1));
            (listed, number + 1)
        }
        Err(_) => (Vec::new(), 1),
    };
    let serial = serial_of(&dir.join(format!("clients/{name}.pem")))?;
    if !revoked.contains(&serial) {
        revoked.push(serial);
    }
    let now = OffsetDateTime::now_utc();
    let pem = crl_pem(&ca, revoked, number, now)?;
    // Write beside, then rename: the gateway never reads a half-written CRL.
    let tmp = dir.join("crl.pem.new");
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, pem.as_bytes(), false)?;
    std::fs::rename(&tmp, &crl_path)?;
    Ok(())
}

fn crl_pem(
    ca: &Ca,
    revoked: Vec<SerialNumber>,
    number: u64,
    now: OffsetDateTime,
) -> anyhow::Result<String> {
    let crl = CertificateRevocationListParams {
        this_update: now - Duration::minutes(5),
        // As long as the CA: the gateway refuses an expired CRL.
        next_update: now + Duration::days(3650),
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .into_iter()
            .map(|serial_number| RevokedCertParams {
                serial_number,
                revocation_time: now - Duration::minutes(5),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&ca.cert, &ca.key)?;
    Ok(crl.pem()?)
}

fn load_or_create_ca(dir: &Path, report: &mut InitReport) -> anyhow::Result<Ca> {
    let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {
            let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?)
                .with_context(|| format!("{} is not a private key", key_path.display()))?;
            let params = CertificateParams::from_ca_cert_pem(&std::fs::read_to_string(&cert_path)?)
                .with_context(|| format!("{} is not a CA certificate", cert_path.display()))?;
            // Re-signing gives the same subject and key: what issuing needs.
            let cert = params.self_signed(&key)?;
            report.kept.push(cert_path);
            Ok(Ca { cert, key })
        }
        (false, false) => {
            let ca = make_ca("doelpoort dev CA")?;
            write_new(&key_path, ca.key.serialize_pem().as_bytes(), true)?;
            write_new(&cert_path, ca.cert.pem().as_bytes(), false)?;
            report.created.extend([cert_path, key_path]);
            Ok(ca)
        }
        (true, false) => bail!(
            "{} exists without {}: cannot issue the missing certificates. Supply the CA key, or move {} away to start a new dev PKI",
            cert_path.display(),
            key_path.display(),
            dir.display()
        ),
        (false, true) => bail!(
            "{} exists without {}; move {} away to start a new dev PKI",
            key_path.display(),
            cert_path.display(),
            dir.display()
        ),
    }
}

fn make_ca(name: &str) -> anyhow::Result<Ca> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn(&[
        (DnType::CommonName, name),
        (DnType::OrganizationName, "doelpoort (dev)"),
        (DnType::CountryName, "NL"),
    ]);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    params.serial_number = Some(random_serial());
    let cert = params.self_signed(&key)?;
    Ok(Ca { cert, key })
}

fn client_params(
    alias: &str,
    org_name: &str,
    oin: Option<&str>,
    now: OffsetDateTime,
) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = dn(&[
        (DnType::CountryName, "NL"),
        (DnType::OrganizationName, org_name),
        (DnType::CommonName, alias),
    ]);
    if let Some(oin) = oin {
        // X.520 serialNumber is a PrintableString, as in PKIoverheid certificates.
        name.push(
            DnType::CustomDnType(vec![2, 5, 4, 5]),
            DnValue::PrintableString(oin.try_into()?),
        );
    }
    params.distinguished_name = name;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    finish_leaf(&mut params, now, Duration::days(-1), Duration::days(825));
    Ok(params)
}

fn finish_leaf(
    params: &mut CertificateParams,
    now: OffsetDateTime,
    from: Duration,
    until: Duration,
) {
    params.not_before = now + from;
    params.not_after = now + until;
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
}

fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (ty, value) in parts {
        dn.push(ty.clone(), *value);
    }
    dn
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // no leading zero byte
    SerialNumber::from_slice(&bytes)
}

fn serial_of(cert_path: &Path) -> anyhow::Result<SerialNumber> {
    let pem =
        std::fs::read(cert_path).with_context(|| format!("cannot read {}", cert_path.display()))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem)
        .map_err(|e| anyhow!("{}: {e}", cert_path.display()))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| anyhow!("{}: {e}", cert_path.display()))?;
    Ok(SerialNumber::from_slice(cert.raw_serial()))
}

/// A certificate file and its key file, both missing (else `Pair::at` gives `None`).
struct Pair {
    cert: PathBuf,
    key: PathBuf,
}

impl Pair {
    fn at(dir: &Path, cert: &str, key: &str) -> anyhow::Result<Option<Pair>> {
        let (cert, key) = (dir.join(cert), dir.join(key));
        match (cert.exists(), key.exists()) {
            (true, true) => Ok(None),
            (false, false) => Ok(Some(Pair { cert, key })),
            _ => bail!(
                "only one of {} and {} exists; remove it to have both made anew",
                cert.display(),
                key.display()
            ),
        }
    }

    fn write_signed(
        self,
        params: CertificateParams,
        issuer: &Ca,
        report: &mut InitReport,
    ) -> anyhow::Result<()> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer.cert, &issuer.key)?;
        write_new(&self.key, key.serialize_pem().as_bytes(), true)?;
        write_new(&self.cert, cert.pem().as_bytes(), false)?;
        report.created.extend([self.cert, self.key]);
        Ok(())
    }
}

/// Creates `path`, failing if it exists; keys are readable by the owner only.
fn write_new(path: &Path, contents: &[u8], secret: bool) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}
