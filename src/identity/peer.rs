use actix_web::dev::Extensions;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::*;

use crate::domain::Oin;

/// What the client certificate of a connection says about who is calling. Worked out once,
/// when the connection is made, and kept with the connection for all its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    Oin(Oin),
    /// The certificate has no subject serialNumber.
    NoOin,
    /// The subject serialNumber is not an OIN (20 digits).
    NotAnOin,
    /// No client certificate (only possible on a listener that does not require one).
    Anonymous,
}

/// `on_connect` callback of the data listener: reads the client certificate of the connection
/// and stores the `ClientIdentity` in the connection's extensions.
pub fn on_connect(conn: &super::handshake::Connection, ext: &mut Extensions) {
    let identity = match conn.get_ref().1.peer_certificates() {
        Some([leaf, ..]) => from_certificate(leaf),
        _ => ClientIdentity::Anonymous,
    };
    ext.insert(identity);
}

/// The OIN in the subject `serialNumber` (2.5.4.5) of the certificate.
pub fn from_certificate(cert: &CertificateDer<'_>) -> ClientIdentity {
    let Ok((_, cert)) = X509Certificate::from_der(cert.as_ref()) else {
        // rustls has verified the chain, so the certificate parses; be strict regardless.
        return ClientIdentity::NotAnOin;
    };
    let mut serials = cert
        .subject()
        .iter_by_oid(&oid_registry::OID_X509_SERIALNUMBER);
    let Some(attr) = serials.next() else {
        return ClientIdentity::NoOin;
    };
    if serials.next().is_some() {
        return ClientIdentity::NotAnOin;
    }
    match attr.as_str().ok().map(Oin::parse) {
        Some(Ok(oin)) => ClientIdentity::Oin(oin),
        _ => ClientIdentity::NotAnOin,
    }
}
