//! TLS settings for connections to upstreams.
//!
//! Homelab upstreams (Proxmox, OPNsense, Ceph) mostly present self-signed or private-CA
//! certificates, and are often addressed by IP. [`TlsOptions`] covers the three ways users cope:
//! trust an extra CA file, verify against a fixed server name while connecting to an IP, or —
//! explicitly, and logged as such by callers — skip verification.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject};

use crate::crypto;

/// How upstream certificates are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM bundle trusted in addition to the system roots.
    pub ca_file: Option<PathBuf>,
    /// Name the certificate must carry, instead of the host connected to.
    pub server_name: Option<String>,
    /// Accept any certificate. Off by default; users opt in per module.
    pub insecure_skip_verify: bool,
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// The CA file is unreadable or holds no certificate.
    #[error("ca_file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The server name is not a valid DNS name or IP.
    #[error("invalid tls_server_name '{0}'")]
    ServerName(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// Reads every certificate of a PEM file.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let fail = |reason: String| TlsConfigError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(fail("no certificate found".into()));
    }
    Ok(certs)
}

/// Builds the rustls client config for `options`.
pub fn client_config(options: &TlsOptions) -> Result<rustls::ClientConfig, TlsConfigError> {
    let provider = crypto::provider();
    let mut roots = rustls::RootCertStore::empty();
    // Missing or partly unreadable system stores are normal in minimal images; a CA file or an
    // insecure module still works, and a module that needs system roots fails its handshakes
    // with a clear error instead of the process refusing to start.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = &options.ca_file {
        for cert in read_certificates(path)? {
            roots.add(cert).map_err(|e| TlsConfigError::CaFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        }
    }
    let server_name = options
        .server_name
        .as_deref()
        .map(|name| {
            ServerName::try_from(name.to_owned())
                .map_err(|_| TlsConfigError::ServerName(name.to_owned()))
        })
        .transpose()?;
    let inner = if roots.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsConfigError::Rustls(e.to_string()))?,
        )
    };
    let verifier = Arc::new(Verifier {
        inner,
        server_name,
        insecure: options.insecure_skip_verify,
        provider: provider.clone(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsConfigError::Rustls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Web PKI verification with an optional fixed name and an explicit opt-out.
#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    server_name: Option<ServerName<'static>>,
    insecure: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        let Some(inner) = &self.inner else {
            return Err(rustls::Error::General(
                "no trusted CA certificates: set ca_file or install the system CA bundle".into(),
            ));
        };
        let name = self.server_name.as_ref().unwrap_or(server_name);
        inner.verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if self.insecure {
            return Ok(HandshakeSignatureValid::assertion());
        }
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if self.insecure {
            return Ok(HandshakeSignatureValid::assertion());
        }
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
