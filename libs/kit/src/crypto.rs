//! The one TLS crypto provider of the process.
//!
//! rustls needs a process-wide provider when more than one could be linked (reqwest, kube and
//! tokio-rustls each pull rustls in); if none is installed, or two disagree, the first TLS
//! handshake panics. Every Portkey binary uses ring, installed once through [`install`].

use std::sync::Once;

static INSTALL: Once = Once::new();

/// Installs ring as the default rustls provider; safe to call any number of times.
pub fn install() {
    INSTALL.call_once(|| {
        // Err means some other code installed a provider first; that one stays in charge.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The provider every TLS config in the process is built from.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    install();
    rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::ring::default_provider()))
}
