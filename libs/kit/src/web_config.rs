//! `--web.config.file`: TLS and basic auth in the Prometheus exporter-toolkit format.
//!
//! Users already have these files for node_exporter and friends, so Portkey reads the same keys.
//! The file (and the certificate files it names) is checked for changes on every TLS handshake
//! and every authenticated request, so rotated certificates and changed users apply without a
//! restart. A change that cannot be loaded keeps the last good configuration and is logged.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use axum::http::{HeaderName, HeaderValue};
use base64::Engine as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use rustls::server::WebPkiClientVerifier;

use crate::crypto;

/// The file as written by users (exporter-toolkit keys).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<HashMap<String, String>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
    // Accepted for compatibility; rustls picks safe suites and curves itself.
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<HashMap<String, String>>,
}

/// Why the web config cannot be used. Messages name the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file cannot be read.
    #[error("web config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is invalid or has unknown keys.
    #[error("web config {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A key has a value that cannot be used.
    #[error("web config {}: {key}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The offending key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// A loaded, usable web configuration.
#[derive(Debug)]
pub struct WebConfig {
    /// TLS server settings, when `tls_server_config` is present.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// User name → bcrypt hash.
    users: HashMap<String, String>,
    /// Extra response headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Files whose change triggers a reload.
    watched: Vec<PathBuf>,
}

impl WebConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig::default()
        } else {
            serde_saphyr::from_str(&text).map_err(|e| WebConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?
        };
        let invalid = |key: &'static str, message: String| WebConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut watched = vec![path.to_path_buf()];
        let tls = match raw.tls_server_config {
            None => None,
            Some(tls) => Some(Arc::new(build_tls(tls, base, &mut watched, &invalid)?)),
        };
        let users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            if user.contains(':') {
                return Err(invalid(
                    "basic_auth_users",
                    format!("user name '{user}' must not contain ':'"),
                ));
            }
            if !hash.starts_with("$2") {
                return Err(invalid(
                    "basic_auth_users",
                    format!("password of user '{user}' is not a bcrypt hash"),
                ));
            }
        }
        let mut headers = Vec::new();
        if let Some(http) = raw.http_server_config {
            let _ = http.http2;
            for (name, value) in http.headers.unwrap_or_default() {
                let name = HeaderName::try_from(name.as_str())
                    .map_err(|e| invalid("http_server_config.headers", format!("{name}: {e}")))?;
                let value = HeaderValue::try_from(value.as_str())
                    .map_err(|e| invalid("http_server_config.headers", format!("{name}: {e}")))?;
                headers.push((name, value));
            }
        }
        Ok(WebConfig {
            tls,
            users,
            headers,
            watched,
        })
    }

    /// TLS from a certificate and a key file given as flags (`--server.certfile`/`--server.keyfile`
    /// of incumbents that predate web config files); no basic auth.
    pub fn load_tls_files(cert_file: &Path, key_file: &Path) -> Result<WebConfig, WebConfigError> {
        let mut watched = Vec::new();
        let invalid = |key: &'static str, message: String| WebConfigError::Invalid {
            path: cert_file.to_path_buf(),
            key,
            message,
        };
        let tls = build_tls(
            RawTls {
                cert_file: Some(cert_file.to_path_buf()),
                key_file: Some(key_file.to_path_buf()),
                ..RawTls::default()
            },
            Path::new("."),
            &mut watched,
            &invalid,
        )?;
        Ok(WebConfig {
            tls: Some(Arc::new(tls)),
            users: HashMap::new(),
            headers: Vec::new(),
            watched,
        })
    }

    /// Whether requests need basic auth.
    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }
}

fn resolve(base: &Path, file: &Path) -> PathBuf {
    if file.is_absolute() {
        file.to_path_buf()
    } else {
        base.join(file)
    }
}

fn build_tls(
    tls: RawTls,
    base: &Path,
    watched: &mut Vec<PathBuf>,
    invalid: &dyn Fn(&'static str, String) -> WebConfigError,
) -> Result<rustls::ServerConfig, WebConfigError> {
    let _ = (
        tls.cipher_suites,
        tls.curve_preferences,
        tls.prefer_server_cipher_suites,
    );
    let cert_pem = match (tls.cert_file, tls.cert) {
        (Some(file), None) => {
            let file = resolve(base, &file);
            watched.push(file.clone());
            std::fs::read(&file).map_err(|e| {
                invalid(
                    "tls_server_config.cert_file",
                    format!("{}: {e}", file.display()),
                )
            })?
        }
        (None, Some(inline)) => inline.into_bytes(),
        (Some(_), Some(_)) => {
            return Err(invalid(
                "tls_server_config.cert",
                "give cert_file or cert, not both".into(),
            ));
        }
        (None, None) => {
            return Err(invalid(
                "tls_server_config.cert_file",
                "required when tls_server_config is present".into(),
            ));
        }
    };
    let key_pem = match (tls.key_file, tls.key) {
        (Some(file), None) => {
            let file = resolve(base, &file);
            watched.push(file.clone());
            std::fs::read(&file).map_err(|e| {
                invalid(
                    "tls_server_config.key_file",
                    format!("{}: {e}", file.display()),
                )
            })?
        }
        (None, Some(inline)) => inline.into_bytes(),
        (Some(_), Some(_)) => {
            return Err(invalid(
                "tls_server_config.key",
                "give key_file or key, not both".into(),
            ));
        }
        (None, None) => {
            return Err(invalid(
                "tls_server_config.key_file",
                "required when tls_server_config is present".into(),
            ));
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid("tls_server_config.cert_file", format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(
            "tls_server_config.cert_file",
            "no certificate found".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| invalid("tls_server_config.key_file", format!("no private key: {e}")))?;

    let versions = protocol_versions(
        tls.min_version.as_deref(),
        tls.max_version.as_deref(),
        invalid,
    )?;
    let provider = crypto::provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| invalid("tls_server_config.min_version", e.to_string()))?;

    let auth_type = tls.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match auth_type {
        "NoClientCert" => builder.with_no_client_auth(),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let Some(ca) = tls.client_ca_file else {
                return Err(invalid(
                    "tls_server_config.client_ca_file",
                    format!("required with client_auth_type {auth_type}"),
                ));
            };
            let ca = resolve(base, &ca);
            watched.push(ca.clone());
            let certs = crate::tls_client::read_certificates(&ca)
                .map_err(|e| invalid("tls_server_config.client_ca_file", e.to_string()))?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| invalid("tls_server_config.client_ca_file", e.to_string()))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let verifier = if auth_type == "VerifyClientCertIfGiven" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| invalid("tls_server_config.client_ca_file", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        other => {
            return Err(invalid(
                "tls_server_config.client_auth_type",
                format!(
                    "'{other}' is not supported; use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                ),
            ));
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| invalid("tls_server_config.key_file", e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn protocol_versions(
    min: Option<&str>,
    max: Option<&str>,
    invalid: &dyn Fn(&'static str, String) -> WebConfigError,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, WebConfigError> {
    let rank = |key: &'static str, v: &str| match v {
        "TLS10" | "TLS11" => Err(invalid(
            key,
            format!("{v} is not supported; TLS12 is the oldest version offered"),
        )),
        "TLS12" => Ok(12),
        "TLS13" => Ok(13),
        other => Err(invalid(key, format!("unknown TLS version '{other}'"))),
    };
    let min = match min {
        Some(v) => rank("tls_server_config.min_version", v)?,
        None => 12,
    };
    let max = match max {
        Some(v) => rank("tls_server_config.max_version", v)?,
        None => 13,
    };
    let mut versions = Vec::new();
    if min <= 12 && max >= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }
    if versions.is_empty() {
        return Err(invalid(
            "tls_server_config.max_version",
            "max_version is lower than min_version".into(),
        ));
    }
    Ok(versions)
}

/// The outcome of checking a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// No users configured, or valid credentials.
    Allowed,
    /// Missing or wrong credentials: answer 401.
    Denied,
}

/// A web config file that is re-read when it (or a file it names) changes.
#[derive(Debug)]
pub struct WebConfigSource {
    origin: Origin,
    state: Mutex<Loaded>,
    /// Successful (user, password, hash) checks, keyed by a keyed hash: bcrypt costs tens of
    /// milliseconds per check and Prometheus sends the same credentials every scrape.
    verified: Mutex<HashMap<u64, ()>>,
    hasher: RandomState,
}

/// Where the configuration comes from.
#[derive(Debug, Clone)]
enum Origin {
    /// A `--web.config.file`.
    File(PathBuf),
    /// A certificate and key given as flags.
    TlsFiles { cert: PathBuf, key: PathBuf },
}

impl Origin {
    fn load(&self) -> Result<WebConfig, WebConfigError> {
        match self {
            Origin::File(path) => WebConfig::load(path),
            Origin::TlsFiles { cert, key } => WebConfig::load_tls_files(cert, key),
        }
    }

    fn describe(&self) -> String {
        match self {
            Origin::File(path) => path.display().to_string(),
            Origin::TlsFiles { cert, .. } => cert.display().to_string(),
        }
    }
}

#[derive(Debug)]
struct Loaded {
    config: Arc<WebConfig>,
    stamps: Vec<Option<(SystemTime, u64)>>,
}

fn stamps(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

const VERIFIED_CACHE_LIMIT: usize = 1024;

impl WebConfigSource {
    /// Loads `path` now; a start-up with an unusable file is an error.
    pub fn open(path: &Path) -> Result<WebConfigSource, WebConfigError> {
        Self::from_origin(Origin::File(path.to_path_buf()))
    }

    /// Serves TLS with a certificate and key file that are re-read when they change.
    pub fn tls_files(cert: &Path, key: &Path) -> Result<WebConfigSource, WebConfigError> {
        Self::from_origin(Origin::TlsFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        })
    }

    fn from_origin(origin: Origin) -> Result<WebConfigSource, WebConfigError> {
        let config = origin.load()?;
        let stamps = stamps(&config.watched);
        Ok(WebConfigSource {
            origin,
            state: Mutex::new(Loaded {
                config: Arc::new(config),
                stamps,
            }),
            verified: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
        })
    }

    /// The current configuration, reloaded first if any watched file changed.
    pub fn current(&self) -> Arc<WebConfig> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = stamps(&state.config.watched);
        if now != state.stamps {
            match self.origin.load() {
                Ok(config) => {
                    tracing::info!(file = %self.origin.describe(), "web config reloaded");
                    state.stamps = stamps(&config.watched);
                    state.config = Arc::new(config);
                    self.verified
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clear();
                }
                Err(error) => {
                    tracing::error!(%error, "web config changed but cannot be loaded; keeping the previous one");
                    state.stamps = now;
                }
            }
        }
        state.config.clone()
    }

    /// Checks an `Authorization` header against the current users.
    pub async fn authorize(&self, authorization: Option<&HeaderValue>) -> AuthOutcome {
        let config = self.current();
        if !config.requires_auth() {
            return AuthOutcome::Allowed;
        }
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return AuthOutcome::Denied;
        };
        // Unknown users still pay for one bcrypt check so timing does not reveal user names.
        let hash = config.users.get(&user).cloned();
        let key = self.hasher.hash_one((&user, &password, &hash));
        if hash.is_some()
            && self
                .verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key(&key)
        {
            return AuthOutcome::Allowed;
        }
        let check_hash = hash.clone().unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = tokio::task::spawn_blocking(move || {
            bcrypt::verify(password.as_bytes(), &check_hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if ok && hash.is_some() {
            let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if verified.len() >= VERIFIED_CACHE_LIMIT {
                verified.clear();
            }
            verified.insert(key, ());
            AuthOutcome::Allowed
        } else {
            AuthOutcome::Denied
        }
    }
}

/// A bcrypt hash checked against for unknown users, made once per process.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    bcrypt::hash("portkey-dummy", bcrypt::DEFAULT_COST).unwrap_or_default()
});

fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "web.yml", "tls_server_config:\n  cert_fil: x\n");
        let e = WebConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("web.yml") && e.contains("cert_fil"), "{e}");
        let p = write(
            dir.path(),
            "web.yml",
            "basic_auth_users:\n  alice: plaintext\n",
        );
        let e = WebConfig::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("basic_auth_users") && e.contains("bcrypt"),
            "{e}"
        );
        let p = write(
            dir.path(),
            "web.yml",
            "tls_server_config:\n  key_file: k.pem\n",
        );
        let e = WebConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("cert_file"), "{e}");
    }

    #[tokio::test]
    async fn basic_auth_checks_bcrypt_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("pw1", 4).unwrap();
        let p = write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
        );
        let source = WebConfigSource::open(&p).unwrap();
        let header = |u: &str, pw: &str| {
            HeaderValue::try_from(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pw}"))
            ))
            .unwrap()
        };
        assert_eq!(source.authorize(None).await, AuthOutcome::Denied);
        assert_eq!(
            source.authorize(Some(&header("alice", "pw1"))).await,
            AuthOutcome::Allowed
        );
        // Cached path.
        assert_eq!(
            source.authorize(Some(&header("alice", "pw1"))).await,
            AuthOutcome::Allowed
        );
        assert_eq!(
            source.authorize(Some(&header("alice", "nope"))).await,
            AuthOutcome::Denied
        );
        assert_eq!(
            source.authorize(Some(&header("bob", "pw1"))).await,
            AuthOutcome::Denied
        );
        // Change the password without restarting; make sure the stamp differs.
        let hash2 = bcrypt::hash("pw2", 4).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  alice: '{hash2}'\n  carol: '{hash2}'\n"),
        );
        assert_eq!(
            source.authorize(Some(&header("alice", "pw1"))).await,
            AuthOutcome::Denied
        );
        assert_eq!(
            source.authorize(Some(&header("carol", "pw2"))).await,
            AuthOutcome::Allowed
        );
    }

    #[test]
    fn dummy_hash_is_a_valid_bcrypt_hash() {
        assert!(bcrypt::verify("portkey-dummy", &DUMMY_HASH).unwrap());
    }
}
