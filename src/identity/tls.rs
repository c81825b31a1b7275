//! The rustls server side: certificates, CA bundle and CRLs, held so that they can be replaced
//! while the gateway runs. The `ServerConfig`s built here never change; what they point at
//! (`Material`) is swapped whole when the files change, so every handshake sees either the old
//! or the new material, never a mix.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use arc_swap::ArcSwap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};

use crate::config::TlsSettings;
use crate::metrics::Metrics;

/// One consistent set of loaded TLS files.
struct Material {
    verifier: Arc<dyn ClientCertVerifier>,
    server_key: Arc<CertifiedKey>,
}

/// The gateway's TLS identity and trust: server certificate, client CA bundle, CRLs.
pub struct TlsIdentity {
    settings: TlsSettings,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<Material>,
    metrics: Arc<Metrics>,
}

impl TlsIdentity {
    pub fn load(settings: &TlsSettings, metrics: Arc<Metrics>) -> anyhow::Result<Arc<TlsIdentity>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let material = load_material(settings, &provider)?;
        Ok(Arc::new(TlsIdentity {
            settings: settings.clone(),
            provider,
            current: ArcSwap::from_pointee(material),
            metrics,
        }))
    }

    /// The data listener: a client certificate chaining to the CA bundle, not revoked, is
    /// required. TLS 1.3 and 1.2 only (1.3 is chosen whenever the client offers it).
    pub fn mtls_server_config(self: &Arc<Self>) -> ServerConfig {
        self.builder()
            .with_client_cert_verifier(Arc::new(ReloadingVerifier(self.clone())))
            .with_cert_resolver(Arc::new(ReloadingCert(self.clone())))
    }

    /// The audit listener: server-authenticated TLS only; people sign in with a bearer token.
    pub fn server_only_config(self: &Arc<Self>) -> ServerConfig {
        self.builder()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(ReloadingCert(self.clone())))
    }

    fn builder(&self) -> rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier> {
        ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("the ring provider supports TLS 1.2 and 1.3")
    }
}

impl crate::reload::Reloadable for TlsIdentity {
    fn name(&self) -> &'static str {
        "tls"
    }

    fn files(&self) -> Vec<PathBuf> {
        let s = &self.settings;
        let mut files = vec![
            s.client_ca.clone(),
            s.server_cert.clone(),
            s.server_key.clone(),
        ];
        files.extend(s.crl.clone());
        files
    }

    fn reload(&self) -> anyhow::Result<()> {
        let material = load_material(&self.settings, &self.provider)?;
        self.current.store(Arc::new(material));
        tracing::info!("TLS certificates, CA bundle and CRL reloaded");
        Ok(())
    }
}

fn load_material(s: &TlsSettings, provider: &Arc<CryptoProvider>) -> anyhow::Result<Material> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(&s.client_ca)? {
        roots
            .add(cert)
            .with_context(|| format!("{}: not a usable CA certificate", s.client_ca.display()))?;
    }
    let mut builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    if let Some(crl_path) = &s.crl {
        let crls = CertificateRevocationListDer::pem_file_iter(crl_path)
            .with_context(|| format!("tls.crl: cannot read {}", crl_path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("tls.crl: {} is not a PEM CRL file", crl_path.display()))?;
        if crls.is_empty() {
            bail!("tls.crl: {} holds no CRL", crl_path.display());
        }
        // A CRL past its nextUpdate is stale: refuse rather than trust it.
        builder = builder
            .with_crls(crls)
            .only_check_end_entity_revocation()
            .enforce_revocation_expiration();
        if s.allow_unknown_revocation_status {
            builder = builder.allow_unknown_revocation_status();
        }
    }
    let verifier = builder.build().with_context(|| {
        "tls: cannot build the client certificate verifier from tls.client_ca and tls.crl"
    })?;

    let chain = read_certs(&s.server_cert)?;
    let key = crate::disclosure::keys::read_private(&s.server_key)
        .context("tls.server_key")
        .and_then(|pem| {
            PrivateKeyDer::from_pem_slice(pem.as_bytes()).with_context(|| {
                format!(
                    "tls.server_key: cannot read a private key from {}",
                    s.server_key.display()
                )
            })
        })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .with_context(|| "tls.server_key: unsupported key type")?;
    let server_key = CertifiedKey::new(chain, signing);
    server_key
        .keys_match()
        .with_context(|| "tls.server_key does not belong to tls.server_cert")?;
    Ok(Material {
        verifier,
        server_key: Arc::new(server_key),
    })
}

fn read_certs(path: &PathBuf) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| {
            format!(
                "cannot read {} (run `doelpoort certs init` for development certificates)",
                path.display()
            )
        })?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", path.display());
    }
    Ok(certs)
}

/// Asks the material in force at the moment of the handshake.
struct ReloadingVerifier(Arc<TlsIdentity>);

impl std::fmt::Debug for ReloadingVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadingVerifier")
    }
}

impl ClientCertVerifier for ReloadingVerifier {
    /// No CA hints: the bundle can change at runtime and hints must borrow from `self`.
    /// Hints are optional in TLS; clients send their configured certificate regardless.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let result = self
            .0
            .current
            .load()
            .verifier
            .verify_client_cert(end_entity, intermediates, now)
            .and_then(|verified| client_usage(end_entity).map(|()| verified));
        if let Err(e) = &result {
            let reason = rejection_reason(e);
            self.0
                .metrics
                .tls_rejections
                .with_label_values(&[reason])
                .inc();
            tracing::info!(reason, "client certificate refused in the TLS handshake");
        }
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .current
            .load()
            .verifier
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .current
            .load()
            .verifier
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.current.load().verifier.supported_verify_schemes()
    }
}

/// What webpki leaves open: a certificate without extended key usage counts for it as valid
/// for any purpose, and the key usage of an end entity is not looked at. A client certificate
/// here must say it is one (extended key usage clientAuth, as PKIoverheid's are) and, when it
/// limits its key's use, allow signatures (the handshake's CertificateVerify is one).
fn client_usage(cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let wrong = || rustls::Error::InvalidCertificate(CertificateError::InvalidPurpose);
    let (_, cert) = X509Certificate::from_der(cert.as_ref()).map_err(|_| wrong())?;
    match cert.extended_key_usage() {
        Ok(Some(eku)) if eku.value.client_auth => {}
        _ => return Err(wrong()),
    }
    match cert.key_usage() {
        Ok(None) => Ok(()),
        Ok(Some(ku)) if ku.value.digital_signature() => Ok(()),
        _ => Err(wrong()),
    }
}

fn rejection_reason(e: &rustls::Error) -> &'static str {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not-yet-valid"
            }
            CertificateError::Revoked => "revoked",
            CertificateError::UnknownIssuer => "unknown-issuer",
            CertificateError::BadSignature => "bad-signature",
            CertificateError::UnknownRevocationStatus => "unknown-revocation-status",
            CertificateError::ExpiredRevocationList
            | CertificateError::ExpiredRevocationListContext { .. } => "crl-expired",
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "wrong-key-usage"
            }
            _ => "invalid-certificate",
        },
        _ => "other",
    }
}

/// Serves the server certificate in force at the moment of the handshake.
struct ReloadingCert(Arc<TlsIdentity>);

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadingCert")
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current.load().server_key.clone())
    }
}
