//! The HTTP server every Portkey binary runs: listeners, optional TLS and basic auth from
//! `--web.config.file`, landing page, health endpoints, a scrape concurrency limit, panic
//! containment and graceful shutdown.
//!
//! Binaries build an axum [`Router`] of their own endpoints, merge it with [`base_router`], and
//! hand it to [`Server::serve`]. Listeners are bound first ([`Server::bind`]) so start-up errors
//! surface before anything is served and tests can bind port 0 and read the address back.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures_util::FutureExt as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::web_config::{AuthOutcome, WebConfigError, WebConfigSource};

/// How long a client may take to complete a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests may take to finish after a shutdown signal: enough for a scrape
/// that is nearly done, short enough that a rolling update never waits on a stuck upstream.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The flags of the web server, shared by every binary.
#[derive(Debug, Clone, clap::Args)]
pub struct WebArgs {
    /// Address on which to expose metrics and web interface; repeatable. `:<port>` means all
    /// interfaces.
    #[arg(id = "web.listen-address", long = "web.listen-address", action = clap::ArgAction::Append)]
    pub listen_addresses: Vec<String>,
    /// Path under which to expose the exporter's own metrics.
    #[arg(
        id = "web.telemetry-path",
        long = "web.telemetry-path",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,
    /// Path to a configuration file that can enable TLS or authentication (exporter-toolkit format).
    #[arg(id = "web.config.file", long = "web.config.file")]
    pub config_file: Option<std::path::PathBuf>,
    /// Maximum number of parallel scrape requests; 0 disables the limit.
    #[arg(
        id = "web.max-requests",
        long = "web.max-requests",
        default_value_t = 40
    )]
    pub max_requests: usize,
}

impl WebArgs {
    /// The listen addresses, or `default` when none was given.
    pub fn listen_or(&self, default: &str) -> Vec<String> {
        if self.listen_addresses.is_empty() {
            vec![default.to_owned()]
        } else {
            self.listen_addresses.clone()
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listen address cannot be parsed.
    #[error("invalid --web.listen-address '{0}': expected host:port, [v6]:port or :port")]
    Address(String),
    /// A listen address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The web config file is unusable.
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
}

/// Parses a listen address; `:port` means every interface (IPv6 and, on Linux, IPv4 too).
pub fn parse_listen_address(address: &str) -> Result<SocketAddr, ServerError> {
    let full = if address.starts_with(':') {
        format!("[::]{address}")
    } else {
        address.to_owned()
    };
    full.parse()
        .map_err(|_| ServerError::Address(address.to_owned()))
}

/// Bound listeners plus the web configuration, ready to serve.
#[derive(Debug)]
pub struct Server {
    listeners: Vec<TcpListener>,
    web: Option<Arc<WebConfigSource>>,
}

impl Server {
    /// Binds every address and loads the web config (if any).
    pub async fn bind(
        addresses: &[String],
        web_config: Option<&Path>,
    ) -> Result<Server, ServerError> {
        let web = web_config.map(WebConfigSource::open).transpose()?;
        Self::bind_with(addresses, web).await
    }

    /// Like [`Server::bind`] with an already opened web configuration (for binaries that also
    /// accept TLS files as flags).
    pub async fn bind_with(
        addresses: &[String],
        web: Option<WebConfigSource>,
    ) -> Result<Server, ServerError> {
        let web = web.map(Arc::new);
        let mut listeners = Vec::with_capacity(addresses.len());
        for address in addresses {
            let socket = parse_listen_address(address)?;
            let listener = TcpListener::bind(socket)
                .await
                .map_err(|source| ServerError::Bind {
                    address: address.clone(),
                    source,
                })?;
            listeners.push(listener);
        }
        Ok(Server { listeners, web })
    }

    /// The bound addresses (with real ports when port 0 was asked for).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Whether connections are served over TLS.
    pub fn is_tls(&self) -> bool {
        self.web.as_ref().is_some_and(|w| w.current().tls.is_some())
    }

    /// Serves `router` on every listener until `shutdown` completes, then lets in-flight
    /// requests finish (up to a grace period).
    pub async fn serve<F>(self, router: Router, shutdown: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        crate::crypto::install();
        let tls = self.web.as_ref().is_some_and(|w| w.current().tls.is_some());
        let router = router
            .layer(middleware::from_fn_with_state(self.web.clone(), web_layer))
            .layer(middleware::from_fn(catch_panics));
        for addr in self.local_addrs() {
            tracing::info!(address = %addr, tls, "listening");
        }
        let graceful = Arc::new(GracefulShutdown::new());
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for listener in self.listeners {
            let router = router.clone();
            let web = self.web.clone();
            let graceful = graceful.clone();
            let mut stop = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let accepted = tokio::select! {
                        accepted = listener.accept() => accepted,
                        _ = stop.changed() => break,
                    };
                    let (stream, _peer) = match accepted {
                        Ok(pair) => pair,
                        Err(error) => {
                            // Out of file descriptors and the like: back off instead of spinning.
                            tracing::warn!(%error, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(router.clone());
                    let tls_config = if tls {
                        web.as_ref().and_then(|w| w.current().tls.clone())
                    } else {
                        None
                    };
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let mut http = hyper::server::conn::http1::Builder::new();
                        http.timer(TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(30));
                        match tls_config {
                            Some(config) => {
                                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                                let stream = match tokio::time::timeout(
                                    HANDSHAKE_TIMEOUT,
                                    acceptor.accept(stream),
                                )
                                .await
                                {
                                    Ok(Ok(stream)) => stream,
                                    Ok(Err(error)) => {
                                        tracing::debug!(%error, "TLS handshake failed");
                                        return;
                                    }
                                    Err(_) => return,
                                };
                                let conn = http.serve_connection(TokioIo::new(stream), service);
                                let _ = watcher.watch(conn).await;
                            }
                            None => {
                                let conn = http.serve_connection(TokioIo::new(stream), service);
                                let _ = watcher.watch(conn).await;
                            }
                        }
                    });
                }
            }));
        }
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        for task in tasks {
            let _ = task.await;
        }
        if let Ok(graceful) = Arc::try_unwrap(graceful)
            && tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
                .await
                .is_err()
        {
            tracing::warn!("in-flight requests did not finish within the grace period");
        }
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Basic auth and configured response headers, from the (re-read) web config.
async fn web_layer(
    State(web): State<Option<Arc<WebConfigSource>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(web) = web else {
        return next.run(request).await;
    };
    let outcome = web
        .authorize(request.headers().get(header::AUTHORIZATION))
        .await;
    let mut response = match outcome {
        AuthOutcome::Allowed => next.run(request).await,
        AuthOutcome::Denied => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic")],
            "Unauthorized\n",
        )
            .into_response(),
    };
    for (name, value) in &web.current().headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Turns a panic in a handler into a logged 500 instead of a dropped connection.
async fn catch_panics(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            tracing::error!(path, message, "handler panicked");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the exporter's log\n",
            )
                .into_response()
        }
    }
}

/// What the landing page shows.
#[derive(Debug, Clone)]
pub struct Landing {
    /// Binary name.
    pub name: &'static str,
    /// Version.
    pub version: &'static str,
    /// One sentence on what the binary does.
    pub description: &'static str,
    /// Extra HTML paragraph (for example where target data is served).
    pub note_html: String,
    /// Links: (href, text).
    pub links: Vec<(String, String)>,
}

impl Landing {
    fn render(&self) -> String {
        let mut links = String::new();
        for (href, text) in &self.links {
            links.push_str(&format!(
                "<li><a href=\"{}\">{}</a></li>\n",
                html_escape(href),
                html_escape(text)
            ));
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{name}</title></head>\n<body>\n<h1>{name}</h1>\n<p>{description}</p>\n{note}\n<ul>\n{links}</ul>\n<p>Version {version}</p>\n</body>\n</html>\n",
            name = html_escape(self.name),
            description = html_escape(self.description),
            note = self.note_html,
            version = html_escape(self.version),
        )
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Readiness: false until the binary has loaded its config and bound its listeners.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the binary ready.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether it is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// `/`, `/-/healthy`, `/-/ready` and a plain-text 404 for everything else.
pub fn base_router(landing: Landing, readiness: Readiness) -> Router {
    let page = Html(landing.render());
    Router::new()
        .route("/", get(move || async move { page.clone() }))
        .route("/-/healthy", get(|| async { "OK" }))
        .route(
            "/-/ready",
            get(move || {
                let readiness = readiness.clone();
                async move {
                    if readiness.is_ready() {
                        (StatusCode::OK, "OK")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "Not ready")
                    }
                }
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
}

/// Limits how many requests run at once on the routes of `router` (`--web.max-requests`);
/// past the limit a request gets 503 at once instead of queueing behind slow scrapes.
pub fn limit_concurrency(router: Router, max: usize) -> Router {
    if max == 0 {
        return router;
    }
    let semaphore = Arc::new(Semaphore::new(max));
    router.layer(middleware::from_fn_with_state(semaphore, limit))
}

async fn limit(State(semaphore): State<Arc<Semaphore>>, request: Request, next: Next) -> Response {
    match semaphore.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            let mut response = Response::new(Body::from(
                "Limit of concurrent requests reached, try again later.\n",
            ));
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen_address(":9221").unwrap(),
            "[::]:9221".parse().unwrap()
        );
        assert!(parse_listen_address("127.0.0.1:0").is_ok());
        assert!(parse_listen_address("[::1]:9").is_ok());
        let e = parse_listen_address("localhost").unwrap_err().to_string();
        assert!(e.contains("'localhost'"), "{e}");
    }

    #[test]
    fn landing_page_escapes() {
        let landing = Landing {
            name: "x",
            version: "1",
            description: "a <b> c",
            note_html: String::new(),
            links: vec![("/metrics".into(), "Metrics".into())],
        };
        let html = landing.render();
        assert!(html.contains("a &lt;b&gt; c"));
        assert!(html.contains("<a href=\"/metrics\">Metrics</a>"));
    }
}
