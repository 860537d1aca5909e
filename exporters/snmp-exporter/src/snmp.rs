//! The [`Connector`] over async-snmp: the only module that knows the SNMP library.
//!
//! * One UDP socket per address family for the whole process (responses are matched by request
//!   ID), so a scrape costs no socket set-up; `use_unconnected_udp_socket` maps to the library's
//!   source check.
//! * Library retries are off: every attempt is one call, so Portkey's walk loop owns retries,
//!   timeouts and the scrape deadline. Each call is wrapped in its own timeout.
//! * Packets are counted by wrapping the library's public `Transport`: every request datagram,
//!   including v3 discovery and time re-sync, goes through `request_with`.
//! * v3 engine IDs, boots and time live in one process-wide `EngineCache`, so only the first scrape
//!   of a target pays the discovery exchange.
//! * v3 requests with `snmp_engineid` are built by `context_engine` from the library's public v3
//!   pieces (the client itself always sends the agent's engine ID as contextEngineID); discovery,
//!   the engine cache, the socket and packet counting stay the library session's.

mod context_engine;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_snmp::v3::ReportStatus;
use async_snmp::{
    AuthProtocol, BuiltinTransport, Candidate, ClientBuilder, DesSaltState, EngineCache, ErrorKind,
    PersistedDesSaltState, PrivProtocol, RequestRegistration, Retry, UdpTransport, UsmConfig,
};
use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;

use self::context_engine::{ContextEngine, Credentials, Operation, master_keys};
use crate::client::{
    ClientError, Connector, Response, Session, SessionParams, Transport as Proto, Value, VarBind,
};
use crate::config::{SecurityLevel, Version};
use crate::oid::Oid;

/// Opens async-snmp sessions on shared sockets.
#[derive(Default)]
pub struct AsyncSnmpConnector {
    source_address: Option<String>,
    udp_v4: OnceCell<UdpTransport>,
    udp_v6: OnceCell<UdpTransport>,
    engines: Arc<EngineCache>,
    /// v3 targets whose last request timed out: their engine is re-discovered before the next.
    suspects: Arc<std::sync::Mutex<HashSet<SocketAddr>>>,
    des: OnceCell<DesSaltState>,
}

impl std::fmt::Debug for AsyncSnmpConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSnmpConnector")
            .field("source_address", &self.source_address)
            .field("v3_engines_cached", &self.engines.len())
            .finish_non_exhaustive()
    }
}

impl AsyncSnmpConnector {
    /// A connector whose sockets bind `source_address` (`addr[:port]`), or any address.
    pub fn new(source_address: Option<String>) -> AsyncSnmpConnector {
        AsyncSnmpConnector {
            source_address: source_address.filter(|s| !s.is_empty()),
            ..AsyncSnmpConnector::default()
        }
    }

    async fn udp(&self, peer: SocketAddr) -> Result<&UdpTransport, ClientError> {
        let (cell, any) = if peer.is_ipv4() {
            (&self.udp_v4, "0.0.0.0:0")
        } else {
            (&self.udp_v6, "[::]:0")
        };
        let bind = match &self.source_address {
            Some(source) if source.contains(':') && !source.starts_with('[') && peer.is_ipv4() => {
                source.clone()
            }
            Some(source) if source.parse::<std::net::IpAddr>().is_ok() => {
                let ip: std::net::IpAddr = source.parse().unwrap_or(std::net::IpAddr::from([0; 4]));
                SocketAddr::new(ip, 0).to_string()
            }
            Some(source) => source.clone(),
            None => any.to_owned(),
        };
        cell.get_or_try_init(|| async move {
            UdpTransport::bind(&bind)
                .await
                .map_err(|e| ClientError::Io(format!("cannot bind UDP socket {bind}: {e}")))
        })
        .await
    }

    /// DES salts must never repeat under one key. The library asks for a durable epoch; the
    /// start time in seconds is a fresh epoch for every process start, which is what it needs.
    fn des_state(&self) -> Result<DesSaltState, ClientError> {
        if let Some(state) = self.des.get() {
            return Ok(state.clone());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1);
        let epoch = (now % (i32::MAX as u64 - 2)).max(1) as u32;
        let previous = PersistedDesSaltState::new(epoch)
            .map_err(|e| ClientError::Other(format!("DES state: {e}")))?;
        let state = DesSaltState::restart(previous, |_| Ok::<(), std::io::Error>(()))
            .map_err(|e| ClientError::Other(format!("DES state: {e}")))?;
        let _ = self.des.set(state.clone());
        Ok(self.des.get().cloned().unwrap_or(state))
    }
}

fn auth_protocol(name: &str) -> AuthProtocol {
    match name {
        "SHA" => AuthProtocol::Sha1,
        "SHA224" => AuthProtocol::Sha224,
        "SHA256" => AuthProtocol::Sha256,
        "SHA384" => AuthProtocol::Sha384,
        "SHA512" => AuthProtocol::Sha512,
        _ => AuthProtocol::Md5,
    }
}

fn priv_protocol(name: &str) -> PrivProtocol {
    match name {
        "AES" => PrivProtocol::Aes128,
        "AES192" => PrivProtocol::Aes192Blumenthal,
        "AES256" => PrivProtocol::Aes256Blumenthal,
        "AES192C" => PrivProtocol::Aes192Reeder,
        "AES256C" => PrivProtocol::Aes256Reeder,
        _ => PrivProtocol::Des,
    }
}

fn library_auth(params: &SessionParams) -> Result<async_snmp::Auth, ClientError> {
    let auth = &params.auth;
    Ok(match auth.version {
        Version::V1 => async_snmp::Auth::v1(auth.community.expose()),
        Version::V2c => async_snmp::Auth::v2c(auth.community.expose()),
        Version::V3 => {
            let user = UsmConfig::new(auth.username.clone().into_bytes())
                .context_name(params.context_name.clone().into_bytes());
            let password = auth.password.as_ref().map(|p| p.expose()).unwrap_or("");
            let privacy = auth
                .priv_password
                .as_ref()
                .map(|p| p.expose())
                .unwrap_or("");
            let config = match auth.security_level {
                SecurityLevel::NoAuthNoPriv => Ok(user),
                SecurityLevel::AuthNoPriv => {
                    user.auth(auth_protocol(&auth.auth_protocol), password)
                }
                SecurityLevel::AuthPriv => user.auth_priv(
                    auth_protocol(&auth.auth_protocol),
                    password,
                    priv_protocol(&auth.priv_protocol),
                    privacy,
                ),
            }
            // The message names the rule (e.g. password shorter than 8 octets), never the value.
            .map_err(|e| ClientError::Auth(format!("v3 credentials refused: {e}")))?;
            async_snmp::Auth::from(config)
        }
    })
}

/// The v3 credentials for [`ContextEngine`] requests.
fn credentials(
    params: &SessionParams,
    des: Option<DesSaltState>,
) -> Result<Credentials, ClientError> {
    let auth = &params.auth;
    let password = auth.password.as_ref().map(|p| p.expose()).unwrap_or("");
    let privacy = auth
        .priv_password
        .as_ref()
        .map(|p| p.expose())
        .unwrap_or("");
    let protocol = auth_protocol(&auth.auth_protocol);
    let (level, keys) = match auth.security_level {
        SecurityLevel::NoAuthNoPriv => (async_snmp::SecurityLevel::NoAuthNoPriv, None),
        SecurityLevel::AuthNoPriv => (
            async_snmp::SecurityLevel::AuthNoPriv,
            Some(master_keys(protocol, password, None)?),
        ),
        SecurityLevel::AuthPriv => (
            async_snmp::SecurityLevel::AuthPriv,
            Some(master_keys(
                protocol,
                password,
                Some((priv_protocol(&auth.priv_protocol), privacy)),
            )?),
        ),
    };
    Ok(Credentials {
        user: auth.username.clone().into_bytes().into(),
        level,
        keys,
        des,
    })
}

impl Connector for AsyncSnmpConnector {
    fn open<'a>(
        &'a self,
        params: &'a SessionParams,
    ) -> BoxFuture<'a, Result<Box<dyn Session>, ClientError>> {
        async move {
            let peer = resolve(&params.host, params.port, params.open_timeout).await?;
            let inner: BuiltinTransport = match params.transport {
                Proto::Udp => {
                    let socket = self.udp(peer).await?;
                    let handle = socket
                        .handle(peer)
                        .map_err(|e| ClientError::Io(e.to_string()))?
                        .strict_source(!params.unconnected);
                    BuiltinTransport::from(handle)
                }
                Proto::Tcp => {
                    let connect = async_snmp::TcpTransport::connect(peer);
                    match tokio::time::timeout(params.open_timeout, connect).await {
                        Ok(Ok(tcp)) => BuiltinTransport::from(tcp),
                        Ok(Err(e)) => return Err(map_error(&e)),
                        Err(_) => return Err(ClientError::Timeout),
                    }
                }
            };
            let sent = Arc::new(AtomicU64::new(0));
            let transport = Counting {
                inner: Arc::new(inner),
                sent: sent.clone(),
            };
            let mut builder = ClientBuilder::new(library_auth(params)?)
                .retry(Retry::none())
                // Portkey bounds every attempt itself; the library's own timeout only has to be
                // longer than any attempt.
                .request_timeout(Duration::from_secs(3600))
                .max_oids_per_request(u16::MAX as usize)
                .engine_cache(self.engines.clone())
                // net-snmp (and RFC 3414 §3.2 step 6) answers a wrong digest, an unknown user or a
                // decryption failure with an *unauthenticated* Report: the agent cannot sign with
                // keys it just failed to verify. The library drops such Reports on authenticated
                // sessions unless this is on, so the request would end as a timeout after every
                // retry. With it on they end the request at once as an auth failure naming the usm
                // counter (what gosnmp, hence upstream, and net-snmp's tools do). Data responses
                // still have to be authenticated at the session's level; the one extra thing an
                // unauthenticated Report can do is supply boots/time for one corrected packet of
                // the same request, never stored (see the library's docs), and replies must still
                // come from the target's address unless `use_unconnected_udp_socket` is set.
                .allow_unauthenticated_v3_time_correction(true);
            let mut des = None;
            if params.auth.version == Version::V3
                && params.auth.security_level == SecurityLevel::AuthPriv
                && params.auth.priv_protocol == "DES"
            {
                let state = self.des_state()?;
                builder = builder.des_salt_state(state.clone());
                des = Some(state);
            }
            let context_engine = match &params.context_engine_id {
                Some(id) if params.auth.version == Version::V3 => Some(ContextEngine::new(
                    credentials(params, des)?,
                    id.clone(),
                    params.context_name.clone().into_bytes(),
                    self.engines.clone(),
                    peer,
                )?),
                _ => None,
            };
            let client = builder
                .build_with_transport(transport.clone())
                .map_err(|e| map_error(&e))?;
            Ok(Box::new(LibrarySession {
                client,
                transport,
                context_engine,
                sent,
                peer,
                v3: params.auth.version == Version::V3,
                suspects: self.suspects.clone(),
                rediscovered: tokio::sync::Mutex::new(false),
            }) as Box<dyn Session>)
        }
        .boxed()
    }
}

async fn resolve(host: &str, port: u16, timeout: Duration) -> Result<SocketAddr, ClientError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let lookup = tokio::net::lookup_host((host, port));
    match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(mut addresses)) => addresses
            .next()
            .ok_or_else(|| ClientError::Resolve(format!("{host}: no address"))),
        Ok(Err(e)) => Err(ClientError::Resolve(format!("{host}: {e}"))),
        Err(_) => Err(ClientError::Resolve(format!("{host}: timed out"))),
    }
}

/// The library's transport plus a datagram counter.
#[derive(Clone)]
struct Counting {
    inner: Arc<BuiltinTransport>,
    sent: Arc<AtomicU64>,
}

impl async_snmp::Transport for Counting {
    fn send(&self, data: &[u8]) -> impl Future<Output = async_snmp::Result<()>> + Send {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.inner.send(data)
    }

    fn request_with<T, F>(
        &self,
        data: &[u8],
        registration: RequestRegistration,
        validate: F,
    ) -> impl Future<Output = async_snmp::Result<T>> + Send
    where
        T: Send,
        F: FnMut(Bytes, SocketAddr) -> async_snmp::Result<Candidate<T>> + Send,
    {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.inner.request_with(data, registration, validate)
    }

    fn peer_addr(&self) -> SocketAddr {
        self.inner.peer_addr()
    }

    fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    fn alloc_request_id(&self) -> i32 {
        self.inner.alloc_request_id()
    }

    fn is_reliable(&self) -> bool {
        self.inner.is_reliable()
    }

    fn receive_limits(&self) -> async_snmp::ReceiveLimits {
        self.inner.receive_limits()
    }

    fn send_capacity(&self) -> usize {
        self.inner.send_capacity()
    }
}

struct LibrarySession {
    client: async_snmp::Client<Counting>,
    /// The client's transport, for [`ContextEngine`] requests.
    transport: Counting,
    /// Set for v3 sessions with `snmp_engineid`: every request goes through it.
    context_engine: Option<ContextEngine>,
    sent: Arc<AtomicU64>,
    peer: SocketAddr,
    v3: bool,
    suspects: Arc<std::sync::Mutex<HashSet<SocketAddr>>>,
    rediscovered: tokio::sync::Mutex<bool>,
}

fn to_library(oids: &[Oid]) -> Vec<async_snmp::Oid> {
    oids.iter()
        .map(|o| async_snmp::Oid::from_slice(o.arcs()))
        .collect()
}

fn from_library(varbinds: Vec<async_snmp::VarBind>) -> Vec<VarBind> {
    varbinds
        .into_iter()
        .map(|vb| VarBind {
            oid: Oid(vb.oid.arcs().to_vec()),
            value: convert_value(vb.value),
        })
        .collect()
}

fn convert_value(value: async_snmp::Value) -> Value {
    use async_snmp::Value as L;
    match value {
        L::Integer(i) => Value::Integer(i64::from(i)),
        L::OctetString(b) | L::Nsap(b) => Value::OctetString(b.to_vec()),
        L::Null => Value::Null,
        L::ObjectIdentifier(oid) => Value::ObjectIdentifier(Oid(oid.arcs().to_vec())),
        L::IpAddress(ip) => Value::IpAddress(ip),
        L::Counter32(v) => Value::Counter32(v),
        L::Gauge32(v) | L::UInteger32(v) => Value::Gauge32(v),
        L::TimeTicks(v) => Value::TimeTicks(v),
        L::Opaque(b) => Value::Opaque(b.to_vec()),
        L::Counter64(v) => Value::Counter64(v),
        L::NoSuchObject => Value::NoSuchObject,
        L::NoSuchInstance => Value::NoSuchInstance,
        L::EndOfMibView => Value::EndOfMibView,
        // An unknown application tag cannot be rendered; treat it like an absent value.
        _ => Value::Null,
    }
}

/// The usm (or other) statistics counter a v3 Report names, as `snmp_exporter` users know it
/// from net-snmp's `snmpget` and the USM MIB.
fn report_counter(status: &ReportStatus) -> String {
    match status {
        ReportStatus::UnsupportedSecurityLevel { .. } => "usmStatsUnsupportedSecLevels".to_owned(),
        ReportStatus::NotInTimeWindow { .. } => "usmStatsNotInTimeWindows".to_owned(),
        ReportStatus::UnknownUserName { .. } => "usmStatsUnknownUserNames".to_owned(),
        ReportStatus::UnknownEngineId { .. } => "usmStatsUnknownEngineIDs".to_owned(),
        ReportStatus::WrongDigest { .. } => "usmStatsWrongDigests".to_owned(),
        ReportStatus::DecryptionError { .. } => "usmStatsDecryptionErrors".to_owned(),
        ReportStatus::Other { oid, .. } => {
            let text = oid.to_string();
            text.strip_prefix('.').unwrap_or(&text).to_owned()
        }
        // `ReportStatus` is non-exhaustive.
        _ => "unknown report".to_owned(),
    }
}

fn map_error(error: &async_snmp::Error) -> ClientError {
    let message = error.to_string();
    if let async_snmp::Error::Report { status, .. } = error.exchange_source() {
        // e.g. "usmStatsWrongDigests (wrong digest (counter 3)): wrong auth password".
        let hint = match **status {
            ReportStatus::WrongDigest { .. } => ": wrong auth password or auth protocol",
            ReportStatus::UnknownUserName { .. } => ": the agent has no such user",
            ReportStatus::DecryptionError { .. } => ": wrong priv password or priv protocol",
            ReportStatus::UnsupportedSecurityLevel { .. } => {
                ": the user does not allow this security_level"
            }
            _ => "",
        };
        return ClientError::Auth(format!("{} ({status}){hint}", report_counter(status)));
    }
    match error.kind() {
        ErrorKind::Timeout | ErrorKind::ConstructionTimeout => ClientError::Timeout,
        ErrorKind::Network | ErrorKind::Closed => ClientError::Io(message),
        ErrorKind::Auth | ErrorKind::Report | ErrorKind::Privacy => ClientError::Auth(message),
        ErrorKind::Decode | ErrorKind::MalformedResponse | ErrorKind::ResponseShape => {
            ClientError::Decode(message)
        }
        _ => ClientError::Other(message),
    }
}

/// error-status responses arrive as errors from the library; give them back as responses.
fn into_response(
    result: async_snmp::Result<Vec<async_snmp::VarBind>>,
) -> Result<Response, ClientError> {
    match result {
        Ok(varbinds) => Ok(Response {
            error_status: 0,
            error_index: 0,
            varbinds: from_library(varbinds),
        }),
        Err(error) => match error.exchange_source() {
            async_snmp::Error::Snmp { status, index, .. } => Ok(Response {
                error_status: status.as_i32().max(0) as u32,
                error_index: *index,
                varbinds: Vec::new(),
            }),
            other => Err(map_error(other)),
        },
    }
}

async fn bounded<F>(timeout: Duration, work: F) -> Result<Response, ClientError>
where
    F: Future<Output = Result<Response, ClientError>>,
{
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(ClientError::Timeout))
}

impl LibrarySession {
    /// One attempt, bounded by `timeout`. For v3, a target whose last request timed out gets its
    /// engine re-discovered first (once per session, i.e. per scrape): an agent that came back
    /// with a new engine ID answers requests made for the old one with an unknownEngineID Report
    /// the library cannot authenticate and drops, so without this every later scrape would time
    /// out until the process restarts. (A new boots/time under the same engine ID needs nothing
    /// here: the library re-synchronises on the authenticated notInTimeWindow Report.)
    async fn attempt<F>(&self, timeout: Duration, work: F) -> Result<Response, ClientError>
    where
        F: Future<Output = Result<Response, ClientError>>,
    {
        let result = bounded(timeout, async {
            if self.v3 {
                self.rediscover_if_suspect().await?;
            }
            work.await
        })
        .await;
        if self.v3 && result == Err(ClientError::Timeout) {
            lock(&self.suspects).insert(self.peer);
        }
        result
    }

    async fn rediscover_if_suspect(&self) -> Result<(), ClientError> {
        // Concurrent requests of this scrape wait here, then use the replaced engine.
        let mut done = self.rediscovered.lock().await;
        if *done || !lock(&self.suspects).contains(&self.peer) {
            return Ok(());
        }
        *done = true;
        tracing::debug!(peer = %self.peer, "re-discovering the SNMPv3 engine after a timeout");
        self.client
            .rediscover_engine()
            .await
            .map_err(|e| map_error(&e))?;
        lock(&self.suspects).remove(&self.peer);
        Ok(())
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LibrarySession {
    /// One request, through the library's own client or, for a custom contextEngineID, through
    /// the context-engine path; both under the same attempt accounting.
    async fn request(
        &self,
        operation: Operation<'_>,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        self.attempt(timeout, async {
            match &self.context_engine {
                Some(engine) => {
                    engine
                        .request(&self.client, &self.transport, operation, timeout)
                        .await
                }
                None => match operation {
                    Operation::Get(oids) => {
                        into_response(self.client.get_many(oids).await.map(|r| r.varbinds))
                    }
                    Operation::GetNext(oids) => {
                        into_response(self.client.get_next_many(oids).await.map(|r| r.varbinds))
                    }
                    Operation::GetBulk {
                        oids,
                        non_repeaters,
                        max_repetitions,
                    } => into_response(
                        self.client
                            .get_bulk(oids, non_repeaters, max_repetitions)
                            .await,
                    ),
                },
            }
        })
        .await
    }
}

impl Session for LibrarySession {
    fn get<'a>(
        &'a self,
        oids: &'a [Oid],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, ClientError>> {
        async move {
            let oids = to_library(oids);
            self.request(Operation::Get(&oids), timeout).await
        }
        .boxed()
    }

    fn get_next<'a>(
        &'a self,
        oids: &'a [Oid],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, ClientError>> {
        async move {
            let oids = to_library(oids);
            self.request(Operation::GetNext(&oids), timeout).await
        }
        .boxed()
    }

    fn get_bulk<'a>(
        &'a self,
        oids: &'a [Oid],
        non_repeaters: u32,
        max_repetitions: u32,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, ClientError>> {
        async move {
            let oids = to_library(oids);
            let operation = Operation::GetBulk {
                oids: &oids,
                non_repeaters,
                max_repetitions,
            };
            self.request(operation, timeout).await
        }
        .boxed()
    }

    fn datagrams_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn peer(&self) -> Option<SocketAddr> {
        Some(self.peer)
    }
}
