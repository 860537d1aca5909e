//! The SNMP operations the exporter needs, behind a small trait of its own (spec §3.5).
//!
//! The walk loop, retries, the deadline and PDU accounting live in Portkey ([`crate::collect`]);
//! an implementation only sends one request and returns one response. That keeps the SNMP library
//! swappable (only [`crate::snmp`] knows it) and lets unit tests drive the engine with a fake agent.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::config::{Auth, Version};
use crate::oid::Oid;

/// A decoded SNMP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// INTEGER / Integer32.
    Integer(i64),
    /// OCTET STRING.
    OctetString(Vec<u8>),
    /// NULL.
    Null,
    /// OBJECT IDENTIFIER.
    ObjectIdentifier(Oid),
    /// IpAddress.
    IpAddress([u8; 4]),
    /// Counter32.
    Counter32(u32),
    /// Gauge32 / Unsigned32.
    Gauge32(u32),
    /// TimeTicks.
    TimeTicks(u32),
    /// Opaque (floats and doubles are decoded from it when rendering).
    Opaque(Vec<u8>),
    /// Counter64.
    Counter64(u64),
    /// noSuchObject exception.
    NoSuchObject,
    /// noSuchInstance exception.
    NoSuchInstance,
    /// endOfMibView exception.
    EndOfMibView,
}

impl Value {
    /// Whether this is one of the three exception values.
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView
        )
    }
}

/// One variable binding.
#[derive(Debug, Clone, PartialEq)]
pub struct VarBind {
    /// Its OID.
    pub oid: Oid,
    /// Its value.
    pub value: Value,
}

/// One response PDU.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// error-status (0 = noError).
    pub error_status: u32,
    /// error-index.
    pub error_index: u32,
    /// The varbinds.
    pub varbinds: Vec<VarBind>,
}

/// error-status tooBig.
pub const TOO_BIG: u32 = 1;
/// error-status noSuchName (v1).
pub const NO_SUCH_NAME: u32 = 2;

/// Name of an error-status code, for logs and reasons.
pub fn error_status_name(status: u32) -> &'static str {
    match status {
        0 => "noError",
        1 => "tooBig",
        2 => "noSuchName",
        3 => "badValue",
        4 => "readOnly",
        5 => "genErr",
        6 => "noAccess",
        7 => "wrongType",
        8 => "wrongLength",
        9 => "wrongEncoding",
        10 => "wrongValue",
        11 => "noCreation",
        12 => "inconsistentValue",
        13 => "resourceUnavailable",
        14 => "commitFailed",
        15 => "undoFailed",
        16 => "authorizationError",
        17 => "notWritable",
        18 => "inconsistentName",
        _ => "unknown",
    }
}

/// Why one request failed, classified for `snmp_walk_failures_total{reason}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No answer within the attempt's timeout.
    #[error("timeout")]
    Timeout,
    /// The target refused (ICMP port unreachable) or the network failed.
    #[error("{0}")]
    Io(String),
    /// Name resolution failed.
    #[error("cannot resolve target: {0}")]
    Resolve(String),
    /// v3 authentication failed (wrong password, unknown user, …).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// A response could not be decoded.
    #[error("decode error: {0}")]
    Decode(String),
    /// Anything else (configuration the library refused, …).
    #[error("{0}")]
    Other(String),
}

impl ClientError {
    /// The `reason` label value.
    pub fn reason(&self) -> &'static str {
        match self {
            ClientError::Timeout => "timeout",
            ClientError::Io(message) if message.contains("refused") => "refused",
            ClientError::Io(_) | ClientError::Resolve(_) | ClientError::Other(_) => "io",
            ClientError::Auth(_) => "auth",
            ClientError::Decode(_) => "decode",
        }
    }
}

/// Transport of a target (`udp://` default, `tcp://`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

/// Everything needed to open a session to one target with one set of credentials.
#[derive(Debug, Clone)]
pub struct SessionParams {
    /// Host name or IP literal.
    pub host: String,
    /// Port.
    pub port: u16,
    /// UDP or TCP.
    pub transport: Transport,
    /// Credentials (version included).
    pub auth: Auth,
    /// v3 context name (the auth's, or `snmp_context=`).
    pub context_name: String,
    /// v3 contextEngineID from `snmp_engineid=` (hex-decoded); `None` sends the agent's own
    /// engine ID. Ignored for v1/v2c.
    pub context_engine_id: Option<Vec<u8>>,
    /// Accept responses from any source address.
    pub unconnected: bool,
    /// The scrape deadline's remaining time, bounding name resolution.
    pub open_timeout: Duration,
}

impl SessionParams {
    /// The SNMP version.
    pub fn version(&self) -> Version {
        self.auth.version
    }
}

/// One target with one set of credentials, for the duration of a scrape.
pub trait Session: Send + Sync {
    /// GET of `oids`, one attempt.
    fn get<'a>(
        &'a self,
        oids: &'a [Oid],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, ClientError>>;
    /// GETNEXT of `oids`, one attempt.
    fn get_next<'a>(
        &'a self,
        oids: &'a [Oid],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, ClientError>>;
    /// GETBULK, one attempt.
    fn get_bulk<'a>(
        &'a self,
        oids: &'a [Oid],
        non_repeaters: u32,
        max_repetitions: u32,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, ClientError>>;
    /// Datagrams sent so far, including v3 discovery and re-sync exchanges.
    fn datagrams_sent(&self) -> u64;
    /// The resolved peer address.
    fn peer(&self) -> Option<SocketAddr>;
}

/// Opens sessions.
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// Opens a session for `params`.
    fn open<'a>(
        &'a self,
        params: &'a SessionParams,
    ) -> BoxFuture<'a, Result<Box<dyn Session>, ClientError>>;
}
