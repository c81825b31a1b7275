//! Who is calling: the TLS handshake (chain, CRL) and the OIN in the client certificate,
//! resolved to a registered organisation.
//!
//! - `tls`: the rustls server configuration, with certificates and CRLs that reload in place.
//! - `handshake`: the TLS listeners, every failed handshake counted by reason.
//! - `peer`: reading the OIN from the certificate, once per connection.
//! - `require`: the middleware that admits a request only for a registered organisation, and
//!   the `Requester` extractor handlers use.
//! - `client`: the rustls client configuration for calling an mTLS API (upstream providers,
//!   tests, the load generator).

pub mod client;
pub mod handshake;
pub mod peer;
pub mod require;
pub mod tls;
pub mod whoami;

pub use peer::ClientIdentity;
pub use require::{require_identity, Requester};
pub use tls::TlsIdentity;
