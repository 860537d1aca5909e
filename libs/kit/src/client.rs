//! The upstream HTTP client: one keep-alive pool per module, bounded bodies, deadline-aware calls.
//!
//! Exporters used to open a new session (and TLS handshake) per scrape, or per API call. An
//! [`UpstreamClient`] is built once per module at start-up and reused by every scrape, so
//! connections and TLS sessions survive between scrapes. Each call is bounded by the smaller of
//! the module's timeout and the scrape's [`Deadline`], and each body by a size limit, so a slow or
//! hostile upstream costs one collector, never the process.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;

use crate::deadline::Deadline;
use crate::tls_client::{TlsConfigError, TlsOptions, client_config};

/// Settings of one upstream client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Certificate checks.
    pub tls: TlsOptions,
    /// Longest a single call may take (the scrape deadline may cut it shorter).
    pub timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long an idle pooled connection is kept.
    pub idle_timeout: Duration,
    /// Most idle connections kept per host.
    pub max_idle_per_host: usize,
    /// Sent as `User-Agent`.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls: TlsOptions::default(),
            timeout: Duration::from_secs(5),
            max_body_bytes: 64 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
            max_idle_per_host: 8,
            user_agent: concat!("portkey/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Why an upstream call produced no usable response. Each variant has a short, stable
/// [`CallError::kind`] usable as a metric label.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The scrape deadline or the call timeout passed.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// No connection could be made (refused, unreachable, DNS).
    #[error("connection failed: {0}")]
    Connect(String),
    /// The TLS handshake or certificate check failed.
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// The connection broke while sending or receiving.
    #[error("transport error: {0}")]
    Transport(String),
    /// The body was larger than the configured limit.
    #[error("response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request could not be built (a bug in the caller).
    #[error("invalid request: {0}")]
    Request(String),
}

impl CallError {
    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout(_) => "timeout",
            CallError::Connect(_) => "connect",
            CallError::Tls(_) => "tls",
            CallError::Transport(_) => "transport",
            CallError::BodyTooLarge { .. } => "body_too_large",
            CallError::Request(_) => "request",
        }
    }

    /// Whether the upstream could not be reached at all (for failover and `_up`).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            CallError::Timeout(_) | CallError::Connect(_) | CallError::Tls(_)
        )
    }
}

/// A complete upstream response.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    /// Status code.
    pub status: reqwest::StatusCode,
    /// The reason phrase as sent, when it differs from the canonical one (PVE puts its error
    /// messages there: `403 Permission check failed (/, Sys.Audit)`).
    pub reason: Option<String>,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl UpstreamResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The reason phrase as sent, or the canonical one.
    pub fn reason_or_canonical(&self) -> &str {
        self.reason
            .as_deref()
            .or(self.status.canonical_reason())
            .unwrap_or("")
    }
}

/// A pooled, keep-alive HTTP client for one upstream configuration.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    http: reqwest::Client,
    timeout: Duration,
    max_body_bytes: usize,
}

impl UpstreamClient {
    /// Builds the client. Fails only on unusable TLS settings (bad CA file, bad server name).
    pub fn new(options: &ClientOptions) -> Result<UpstreamClient, TlsConfigError> {
        let tls = client_config(&options.tls)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .pool_idle_timeout(options.idle_timeout)
            .pool_max_idle_per_host(options.max_idle_per_host)
            .connect_timeout(options.timeout)
            .tcp_nodelay(true)
            .user_agent(options.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
        Ok(UpstreamClient {
            http,
            timeout: options.timeout,
            max_body_bytes: options.max_body_bytes,
        })
    }

    /// The underlying reqwest client, for building requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends `request` and reads the whole body, within the call timeout and `deadline`.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        deadline: &Deadline,
    ) -> Result<UpstreamResponse, CallError> {
        let timeout = deadline.call_timeout(self.timeout);
        if timeout.is_zero() {
            return Err(CallError::Timeout(timeout));
        }
        match tokio::time::timeout(timeout, self.send_inner(request)).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Timeout(timeout)),
        }
    }

    /// `GET url` with extra headers.
    pub async fn get(
        &self,
        url: &str,
        headers: HeaderMap,
        deadline: &Deadline,
    ) -> Result<UpstreamResponse, CallError> {
        self.send(self.http.get(url).headers(headers), deadline)
            .await
    }

    async fn send_inner(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<UpstreamResponse, CallError> {
        let mut response = request.send().await.map_err(classify)?;
        if let Some(length) = response.content_length()
            && length > self.max_body_bytes as u64
        {
            return Err(CallError::BodyTooLarge {
                limit: self.max_body_bytes,
            });
        }
        let status = response.status();
        let reason = response
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned());
        let headers = std::mem::take(response.headers_mut());
        // Sized from Content-Length when known: growing by doubling would briefly hold up to
        // three times the body.
        let expected = response.content_length().unwrap_or(0) as usize;
        let mut body = BytesMut::with_capacity(expected.min(self.max_body_bytes));
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(CallError::BodyTooLarge {
                    limit: self.max_body_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(UpstreamResponse {
            status,
            reason,
            headers,
            body: body.freeze(),
        })
    }
}

/// Sorts a reqwest error into the kinds operators can act on.
fn classify(error: reqwest::Error) -> CallError {
    if error.is_builder() {
        return CallError::Request(error.to_string());
    }
    let chain = error_chain(&error);
    if error.is_timeout() {
        return CallError::Timeout(Duration::ZERO);
    }
    let lower = chain.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return CallError::Tls(chain);
    }
    if error.is_connect() {
        return CallError::Connect(chain);
    }
    CallError::Transport(chain)
}

/// The error and its sources, joined: reqwest's own message alone says little.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
