//! Certificates made at run time, so that simulators can serve HTTPS like the real upstreams.
//!
//! PVE, OPNsense and friends answer on HTTPS with self-signed certificates; exporters verify
//! TLS by default and offer `ca_file` / `insecure_skip_verify`. A test needs a server whose CA
//! it can trust (or deliberately not trust), without files in the repository that would expire.
//! [`TlsIdentity::generate`] makes a throw-away CA and a leaf certificate for `localhost`,
//! `127.0.0.1` and `::1` signed by it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::SimError;

/// Names the default leaf certificate is valid for.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A CA certificate plus a server certificate and key signed by it.
///
/// Clone is cheap enough for tests (a few kilobytes). Debug never prints the private key.
#[derive(Clone)]
pub struct TlsIdentity {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
    ca_der: CertificateDer<'static>,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
    names: Vec<String>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// A fresh CA and a server certificate for `localhost`, `127.0.0.1` and `::1`.
    pub fn generate() -> Result<Self, SimError> {
        Self::generate_for(DEFAULT_NAMES)
    }

    /// A fresh CA and a server certificate for the given DNS names and/or IP addresses.
    pub fn generate_for<I, S>(names: I) -> Result<Self, SimError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let tls = |e: rcgen::Error| SimError::Tls(e.to_string());

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name = rcgen::DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "portkey-sim test CA");
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "Portkey");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().map_err(tls)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut leaf_params = CertificateParams::new(names.clone()).map_err(tls)?;
        leaf_params.distinguished_name = rcgen::DistinguishedName::new();
        leaf_params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_else(|| "localhost".into()),
        );
        leaf_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params.use_authority_key_identifier_extension = true;
        let leaf_key = KeyPair::generate().map_err(tls)?;
        let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(tls)?;

        Ok(TlsIdentity {
            ca_pem: ca_cert.pem(),
            cert_pem: leaf_cert.pem(),
            key_pem: leaf_key.serialize_pem(),
            ca_der: ca_cert.der().clone(),
            cert_der: leaf_cert.der().clone(),
            key_der: leaf_key.serialize_der(),
            names,
        })
    }

    /// The CA certificate (PEM) a client must trust to verify the server.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The server (leaf) certificate (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The server's private key (PKCS#8 PEM), for tests that run another TLS server.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Leaf followed by CA, the usual `fullchain.pem`.
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.ca_pem)
    }

    /// Names (DNS or IP) the leaf certificate is valid for.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Writes the CA certificate as PEM to `path` (for `ca_file` options and curl `--cacert`).
    pub fn write_ca_pem(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, &self.ca_pem)
    }

    /// A rustls server configuration on the ring provider, HTTP/1.1 only (like pveproxy).
    pub(crate) fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, SimError> {
        install_ring_provider();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SimError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone(), self.ca_der.clone()], key)
            .map_err(|e| SimError::Tls(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Installs rustls' ring provider as the process default, once; an already installed provider
/// (by the kit, a test, or an earlier call) is left alone.
///
/// Exists because reqwest built with `rustls-no-provider` (the workspace setting) panics when no
/// process default is installed, and tests start simulators before they build clients.
pub fn install_ring_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
