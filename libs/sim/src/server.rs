//! Running a simulator: bind, accept (plain or TLS), log, inject faults, stop gracefully.
//!
//! A simulator is just an axum [`Router`]. [`SimServer`] puts it behind a hyper HTTP/1.1 accept
//! loop (keep-alive, `TCP_NODELAY`, like the upstreams' own servers) with one middleware that
//!
//! 1. routes `/_sim/...` to the control API (never logged, never faulted),
//! 2. records the request in the [`RequestLog`],
//! 3. sleeps for the global latency plus any [`Fault::Latency`],
//! 4. applies the path's [`Fault`], which may replace, break or drop the response.
//!
//! The middleware sits at the hyper level rather than in axum because two faults need that:
//! closing a connection without any response, and breaking a body after its head was sent.

use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::faults::{Fault, Faults, MALFORMED_BODY};
use crate::log::{DEFAULT_LOG_CAPACITY, RequestLog};
use crate::tls::TlsIdentity;
use crate::{SimError, control};

/// How long a stopping server waits for open connections before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause between the part of a truncated body that is sent and the close, so that the sent
/// bytes are flushed to the client before the connection is torn down.
const TRUNCATE_FLUSH_PAUSE: Duration = Duration::from_millis(30);
/// Largest request body the middleware buffers (simulated APIs take small forms only).
const MAX_REQUEST_BODY: usize = 4 * 1024 * 1024;

/// A running simulator bound to a local port.
///
/// Exists so that each test gets its own upstream on `127.0.0.1:<random port>`, with its own
/// log and fault table, and loses it automatically when the test ends: dropping the value
/// starts a graceful stop in the background; [`SimServer::shutdown`] waits for it.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    tls: Option<TlsIdentity>,
    log: RequestLog,
    faults: Faults,
    shutdown_tx: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// Options for starting a [`SimServer`] beyond the two shortcuts.
///
/// Exists for the `portkey-sim` binary (fixed listen address, global latency) and for tests that
/// need a particular log capacity.
#[derive(Debug)]
pub struct SimServerBuilder {
    router: Router,
    listen: SocketAddr,
    tls: Option<TlsIdentity>,
    latency: Duration,
    log_capacity: usize,
}

impl SimServerBuilder {
    /// Address to bind; default `127.0.0.1:0` (a free port on loopback).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Serve HTTPS with this identity instead of plain HTTP.
    pub fn tls(mut self, identity: TlsIdentity) -> Self {
        self.tls = Some(identity);
        self
    }

    /// Delay added to every non-control request (changeable later through [`Faults::set_latency`]).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// How many detailed log entries to keep (counters stay exact regardless).
    pub fn log_capacity(mut self, capacity: usize) -> Self {
        self.log_capacity = capacity;
        self
    }

    /// Binds and starts serving in the background on the current tokio runtime.
    pub async fn start(self) -> Result<SimServer, SimError> {
        let acceptor = match &self.tls {
            Some(identity) => Some(TlsAcceptor::from(identity.server_config()?)),
            None => None,
        };
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(SimError::Io)?;
        let log = RequestLog::with_capacity(self.log_capacity);
        let faults = Faults::default();
        faults.set_latency(self.latency);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            router: self.router,
            control: control::router(log.clone(), faults.clone()),
            log: log.clone(),
            faults: faults.clone(),
            shutdown: shutdown_rx.clone(),
        });
        let task = tokio::spawn(accept_loop(listener, acceptor, shared, shutdown_rx));
        Ok(SimServer {
            addr,
            tls: self.tls,
            log,
            faults,
            shutdown_tx,
            task: Some(task),
        })
    }
}

impl SimServer {
    /// Serves `router` over plain HTTP on `127.0.0.1:<free port>`.
    pub async fn start(router: Router) -> Result<SimServer, SimError> {
        Self::builder(router).start().await
    }

    /// Serves `router` over HTTPS on `127.0.0.1:<free port>` with `identity`'s certificate.
    pub async fn start_tls(router: Router, identity: TlsIdentity) -> Result<SimServer, SimError> {
        Self::builder(router).tls(identity).start().await
    }

    /// A builder for other listen addresses, a global latency or a log capacity.
    pub fn builder(router: Router) -> SimServerBuilder {
        SimServerBuilder {
            router,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: None,
            latency: Duration::ZERO,
            log_capacity: DEFAULT_LOG_CAPACITY,
        }
    }

    /// The bound address (with the real port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, `http://127.0.0.1:<port>` or `https://...` with TLS (no trailing slash).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let host = match self.addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "[::1]".to_owned(),
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        format!("{scheme}://{host}:{}", self.addr.port())
    }

    /// `host:port` for exporters that take a target rather than a URL.
    pub fn target(&self) -> String {
        self.url()
            .split_once("://")
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default()
    }

    /// The request log.
    pub fn log(&self) -> &RequestLog {
        &self.log
    }

    /// The fault table.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The TLS identity, when serving HTTPS.
    pub fn tls(&self) -> Option<&TlsIdentity> {
        self.tls.as_ref()
    }

    /// The CA certificate (PEM) to trust, when serving HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(TlsIdentity::ca_pem)
    }

    /// Stops accepting, lets open requests finish (stalled bodies are cut), and waits for it.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
    }
}

/// What every connection task needs.
#[derive(Debug)]
struct Shared {
    router: Router,
    control: Router,
    log: RequestLog,
    faults: Faults,
    shutdown: watch::Receiver<bool>,
}

/// Returned by the service to make hyper close the connection without a response.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the simulator")
    }
}

impl std::error::Error for DropConnection {}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).keep_alive(true);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => {
                shared.log.note_connection();
                stream
            }
            Err(_) => {
                // Out of file descriptors and the like: back off briefly instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared_for_conn = shared.clone();
        let service = hyper::service::service_fn(move |req| handle(shared_for_conn.clone(), req));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        match &acceptor {
            None => {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                tokio::spawn(async move {
                    let _ = watcher.watch(conn).await;
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                    if let Ok(Ok(tls_stream)) = handshake.await {
                        let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
                        let _ = watcher.watch(conn).await;
                    }
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// The middleware: control routing, logging, latency and faults around the simulator.
async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let path = req.uri().path().to_owned();
    if path == "/_sim" || path.starts_with("/_sim/") {
        let response = shared.control.clone().oneshot(req.map(Body::new)).await;
        return Ok(unwrap_infallible(response));
    }

    let (parts, body) = req.into_parts();
    let body = http_body_util::Limited::new(body, MAX_REQUEST_BODY)
        .collect()
        .await
        .map_err(|_| DropConnection)?
        .to_bytes();
    let guard = shared.log.begin(
        parts.method.as_str(),
        &path,
        parts.uri.query(),
        parts.headers.clone(),
        body.clone(),
    );

    let fault = shared.faults.take(&path);
    let mut delay = shared.faults.latency();
    if let Some(Fault::Latency(extra)) = &fault {
        delay += *extra;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let fault_name = fault.as_ref().map(|f| f.kind().to_owned());

    let response = match fault {
        Some(Fault::Reset) => {
            guard.finish(None, fault_name);
            return Err(DropConnection);
        }
        Some(Fault::Status(status, body)) => status_response(status, None, body),
        Some(Fault::Error {
            status,
            reason,
            body,
        }) => status_response(status, Some(reason), body),
        other => {
            let request = Request::from_parts(parts, Body::from(body));
            let response = unwrap_infallible(shared.router.clone().oneshot(request).await);
            match other {
                Some(Fault::Malformed) => malformed(response),
                Some(Fault::Truncated) => truncated(response).await,
                Some(Fault::Stalled) => stalled(response, shared.shutdown.clone()).await,
                _ => response,
            }
        }
    };
    guard.finish(Some(response.status().as_u16()), fault_name);
    Ok(response)
}

fn unwrap_infallible<T>(result: Result<T, Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// A response for [`Fault::Status`] / [`Fault::Error`]; JSON bodies are labelled as PVE does.
fn status_response(status: u16, reason: Option<String>, body: Option<String>) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = body.unwrap_or_default();
    let content_type = if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
        "application/json;charset=UTF-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(reason) = reason
        && let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(reason.into_bytes())
    {
        response.extensions_mut().insert(phrase);
    }
    response
}

fn malformed(response: Response<Body>) -> Response<Body> {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(MALFORMED_BODY))
}

/// Buffers the handler's body so the fault can announce its full length.
async fn buffered(response: Response<Body>) -> (http::response::Parts, Bytes) {
    let (parts, body) = response.into_parts();
    let mut bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    if bytes.len() < 2 {
        // Nothing to cut in half: use a body that has a middle.
        bytes = Bytes::from_static(b"{\"data\":null}");
    }
    (parts, bytes)
}

async fn truncated(response: Response<Body>) -> Response<Body> {
    let (mut parts, bytes) = buffered(response).await;
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let first = bytes.slice(..bytes.len() / 2);
    let stream = futures_util::stream::unfold(0u8, move |step| {
        let first = first.clone();
        async move {
            match step {
                0 => Some((Ok(first), 1)),
                1 => {
                    tokio::time::sleep(TRUNCATE_FLUSH_PAUSE).await;
                    Some((
                        Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            "body truncated by fault injection",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

async fn stalled(response: Response<Body>, shutdown: watch::Receiver<bool>) -> Response<Body> {
    let (mut parts, bytes) = buffered(response).await;
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let first = bytes.slice(..bytes.len() / 2);
    let stream = futures_util::stream::unfold(0u8, move |step| {
        let first = first.clone();
        let mut shutdown = shutdown.clone();
        async move {
            match step {
                0 => Some((Ok(first), 1)),
                1 => {
                    // Never finish while the server runs; on shutdown, cut the connection.
                    let _ = shutdown.wait_for(|stop| *stop).await;
                    Some((
                        Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            "stalled body cut at shutdown",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}
