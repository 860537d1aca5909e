//! The PVE API client: one keep-alive pool per module, token or cached-ticket auth, a per-scrape
//! concurrency bound and the scrape deadline on every call.
//!
//! An [`ApiClient`] lives for the whole process (one per module), so connections, TLS sessions and
//! login tickets are reused across scrapes. A [`Session`] is one scrape against one target: it
//! carries the base URL, the deadline and the semaphore that bounds in-flight calls, and records
//! whether any call was answered with a 2xx status (`pve_api_up`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use portkey_kit::client::{CallError, ClientOptions, UpstreamClient, UpstreamResponse};
use portkey_kit::deadline::Deadline;
use portkey_kit::metrics::{DistributionFamily, ValueFamily};
use portkey_kit::tls_client::{TlsConfigError, TlsOptions};
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderValue};
use tokio::sync::Semaphore;

use crate::collectors::CallFailure;
use crate::config::{Auth, Module};

/// Tickets are valid for two hours; renewing after 90 minutes leaves a safe margin.
const TICKET_MAX_AGE: Duration = Duration::from_secs(90 * 60);
/// Largest PVE response accepted; `/cluster/resources` of a large cluster is a few MB.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Turns a transport-level failure into the mapping's [`CallFailure`], telling a call cut by the
/// scrape deadline from one that hit its own timeout.
fn call_failure(error: CallError, deadline: &Deadline) -> CallFailure {
    match error {
        CallError::Timeout(_) if deadline.expired() => CallFailure::Deadline,
        CallError::Timeout(_) => CallFailure::Timeout,
        CallError::BodyTooLarge { limit } => CallFailure::BodyTooLarge {
            limit: limit as u64,
        },
        other => CallFailure::Transport(other.to_string()),
    }
}

/// A login that did not produce a ticket, reported like the API's own 401.
fn login_failure(reason: String) -> CallFailure {
    CallFailure::Status {
        code: 401,
        reason: format!("login failed: {reason}"),
    }
}

/// The optional `--collector.pve-api-metrics` families.
#[derive(Debug, Clone)]
pub struct ApiMetrics {
    /// `pve_scrape_api_duration_seconds{method,url}`.
    pub duration: Arc<DistributionFamily>,
    /// `pve_scrape_api_errors_total{method,url}`.
    pub errors: Arc<ValueFamily>,
}

/// A client for one module, shared by every scrape that uses the module.
#[derive(Debug)]
pub struct ApiClient {
    http: UpstreamClient,
    /// Swapped on SIGHUP when secret files change; each scrape takes a snapshot.
    auth: std::sync::RwLock<Arc<Auth>>,
    path_prefix: String,
    tickets: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Ticket>>>>>,
}

#[derive(Debug, Clone)]
struct Ticket {
    cookie: HeaderValue,
    issued: Instant,
}

impl ApiClient {
    /// Builds the client of `module`; fails only on unusable TLS settings.
    pub fn new(module: &Module) -> Result<ApiClient, TlsConfigError> {
        let http = UpstreamClient::new(&ClientOptions {
            tls: TlsOptions {
                ca_file: module.ca_file.clone(),
                server_name: module.tls_server_name.clone(),
                insecure_skip_verify: !module.verify_ssl,
            },
            timeout: module.timeout,
            max_body_bytes: MAX_BODY_BYTES,
            idle_timeout: Duration::from_secs(30),
            max_idle_per_host: 16,
            user_agent: concat!("portkey-pve-exporter/", env!("CARGO_PKG_VERSION")).to_owned(),
        })?;
        Ok(ApiClient {
            http,
            auth: std::sync::RwLock::new(Arc::new(module.auth.clone())),
            path_prefix: module.path_prefix.clone(),
            tickets: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the credentials (secret files re-read on SIGHUP) and forgets cached tickets, which
    /// belong to the old password.
    pub fn set_auth(&self, auth: Auth) {
        *self.auth.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(auth);
        self.tickets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn auth(&self) -> Arc<Auth> {
        self.auth
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Starts a scrape of the API at `base` (`scheme://host:port`).
    pub fn session<'a>(
        &'a self,
        base: &str,
        deadline: Deadline,
        max_concurrency: usize,
        metrics: Option<&'a ApiMetrics>,
    ) -> Session<'a> {
        Session {
            client: self,
            auth: self.auth(),
            api_base: format!("{base}{}/api2/json", self.path_prefix),
            deadline,
            permits: Semaphore::new(max_concurrency.max(1)),
            answered: AtomicBool::new(false),
            relogged: AtomicBool::new(false),
            metrics,
        }
    }

    fn ticket_slot(&self, api_base: &str, user: &str) -> Arc<tokio::sync::Mutex<Option<Ticket>>> {
        let key = format!("{api_base}\u{0}{user}");
        self.tickets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone()
    }
}

/// One scrape's view of the API.
#[derive(Debug)]
pub struct Session<'a> {
    client: &'a ApiClient,
    auth: Arc<Auth>,
    api_base: String,
    deadline: Deadline,
    permits: Semaphore,
    answered: AtomicBool,
    relogged: AtomicBool,
    metrics: Option<&'a ApiMetrics>,
}

impl Session<'_> {
    /// Whether any call of this scrape was answered with a 2xx status.
    pub fn answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    /// The scrape's deadline.
    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    /// `GET <api>/<path>`; `template` is the path with placeholders, used as the metric label.
    pub async fn get(&self, template: &'static str, path: &str) -> Result<Bytes, CallFailure> {
        let started = Instant::now();
        let result = self.get_inner(path).await;
        if let Some(metrics) = self.metrics {
            let url = format!("{}{template}", self.api_base);
            metrics
                .duration
                .observe(&["GET", &url], started.elapsed().as_secs_f64());
            if result.is_err() {
                metrics.errors.inc(&["GET", &url]);
            }
        }
        result
    }

    async fn get_inner(&self, path: &str) -> Result<Bytes, CallFailure> {
        let _permit = match self.deadline.run(self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            _ => return Err(CallFailure::Deadline),
        };
        let url = format!("{}{path}", self.api_base);
        let response = self.send_authenticated(&url).await?;
        if response.status.as_u16() == 401
            && matches!(*self.auth, Auth::Password { .. })
            && !self.relogged.swap(true, Ordering::SeqCst)
        {
            // The cached ticket may have been revoked or the server restarted: log in again,
            // once per scrape, and retry.
            self.invalidate_ticket().await;
            let retry = self.send_authenticated(&url).await?;
            return self.finish(retry);
        }
        self.finish(response)
    }

    fn finish(&self, response: UpstreamResponse) -> Result<Bytes, CallFailure> {
        if response.is_success() {
            self.answered.store(true, Ordering::Relaxed);
            return Ok(response.body);
        }
        Err(CallFailure::Status {
            code: response.status.as_u16(),
            reason: reason_of(&response),
        })
    }

    async fn send_authenticated(&self, url: &str) -> Result<UpstreamResponse, CallFailure> {
        let mut headers = HeaderMap::new();
        match &*self.auth {
            Auth::Token {
                user,
                token_name,
                token_value,
            } => {
                let value = format!(
                    "PVEAPIToken={user}!{token_name}={}",
                    token_value.secret().expose()
                );
                let mut value = HeaderValue::try_from(value).map_err(|_| {
                    login_failure("token contains characters not allowed in a header".into())
                })?;
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
            Auth::Password { .. } => {
                headers.insert(COOKIE, self.ticket().await?);
            }
        }
        self.client
            .http
            .get(url, headers, &self.deadline)
            .await
            .map_err(|e| call_failure(e, &self.deadline))
    }

    /// The cached ticket cookie, logging in first when there is none or it is too old.
    /// Concurrent scrapes wait on the same slot, so only one of them logs in.
    async fn ticket(&self) -> Result<HeaderValue, CallFailure> {
        let slot = self.client.ticket_slot(&self.api_base, self.auth.user());
        let mut guard = match self.deadline.run(slot.lock()).await {
            Ok(guard) => guard,
            Err(_) => return Err(CallFailure::Deadline),
        };
        if let Some(ticket) = guard.as_ref()
            && ticket.issued.elapsed() < TICKET_MAX_AGE
        {
            return Ok(ticket.cookie.clone());
        }
        let ticket = self.login().await?;
        let cookie = ticket.cookie.clone();
        *guard = Some(ticket);
        Ok(cookie)
    }

    async fn invalidate_ticket(&self) {
        let slot = self.client.ticket_slot(&self.api_base, self.auth.user());
        if let Ok(mut guard) = self.deadline.run(slot.lock()).await {
            *guard = None;
        }
    }

    async fn login(&self) -> Result<Ticket, CallFailure> {
        let Auth::Password { user, password } = &*self.auth else {
            return Err(login_failure("module has no password".into()));
        };
        let form = form_body(&[("username", user), ("password", password.secret().expose())]);
        let request = self
            .client
            .http
            .http()
            .post(format!("{}/access/ticket", self.api_base))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form);
        let response = self
            .client
            .http
            .send(request, &self.deadline)
            .await
            .map_err(|e| call_failure(e, &self.deadline))?;
        if !response.is_success() {
            return Err(login_failure(format!(
                "{} {}",
                response.status.as_u16(),
                reason_of(&response)
            )));
        }
        self.answered.store(true, Ordering::Relaxed);
        #[derive(serde::Deserialize)]
        struct Envelope {
            data: Option<TicketData>,
        }
        #[derive(serde::Deserialize)]
        struct TicketData {
            ticket: Option<String>,
        }
        let ticket = serde_json::from_slice::<Envelope>(&response.body)
            .ok()
            .and_then(|e| e.data)
            .and_then(|d| d.ticket)
            .ok_or_else(|| login_failure("response carries no ticket".into()))?;
        let mut cookie = HeaderValue::try_from(format!("PVEAuthCookie={ticket}"))
            .map_err(|_| login_failure("ticket is not a valid cookie value".into()))?;
        cookie.set_sensitive(true);
        Ok(Ticket {
            cookie,
            issued: Instant::now(),
        })
    }
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    serializer.finish()
}

/// PVE's error text: the non-canonical reason phrase, else the body's `message`, else the
/// canonical phrase.
fn reason_of(response: &UpstreamResponse) -> String {
    if let Some(reason) = &response.reason {
        return reason.trim().to_owned();
    }
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    serde_json::from_slice::<ErrorBody>(&response.body)
        .ok()
        .and_then(|b| b.message)
        .map(|m| m.trim().to_owned())
        .unwrap_or_else(|| response.reason_or_canonical().to_owned())
}
