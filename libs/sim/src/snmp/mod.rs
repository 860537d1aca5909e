//! An SNMP agent simulator: a small Linux router answering SNMP v1 and v2c over UDP.
//!
//! It serves what snmp-exporter's embedded `if_mib` and `system` modules walk and get, the way
//! net-snmp's snmpd does: the system group (`1.3.6.1.2.1.1`, with `sysORTable`), `ifNumber` and
//! `ifTable` (`1.3.6.1.2.1.2`) and `ifXTable` (`1.3.6.1.2.1.31.1.1`), for any number of
//! interfaces (default four: `lo`, `eth0`, `eth1`, `wg0`). Octet and packet counters start from
//! seeded values and advance with time; `eth0`'s alias carries double quotes and non-ASCII
//! characters; `eth1` is 10 GbE, so its `ifSpeed` saturates at 4294967295.
//!
//! - `model.rs`: the device as data ([`model::Device`]), public so tests can derive expectations.
//! - `mib.rs`: the OID tree ([`mib::Tree`]): GET and GETNEXT over the model, computed per request.
//! - `cli.rs`: the `portkey-sim snmp` flags.
//!
//! The protocol side is async-snmp's agent: GET, GETNEXT and GETBULK for v1 and v2c (v1 GETNEXT
//! skips Counter64 objects and a v1 GET of one answers `noSuchName`, as RFC 2576 asks), responses
//! trimmed to 1472 octets, and no answer at all to a wrong community, as real agents do. SET is
//! refused (`notWritable`), and there is no SNMPv3 and no snmpEngine group.
//!
//! Unlike the HTTP simulators it has no `/_sim/` control API and no fault table. From a test,
//! [`SnmpSim::stats`] counts the requests that were answered (by PDU type) and
//! [`SnmpSim::set_latency`] delays every answer; to simulate an agent that stops answering,
//! [`SnmpSim::shutdown`] it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use portkey_sim::snmp::{SnmpSim, SnmpSimConfig};
//!
//! let agent = SnmpSim::start(SnmpSimConfig::default().interfaces(8)).await?;
//! // ... point the exporter at agent.addr() with community "public" and scrape ...
//! assert!(agent.stats().get_bulk > 0);
//! # Ok(()) }
//! ```

pub mod cli;
pub mod mib;
pub mod model;

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_snmp::agent::Agent;
use async_snmp::handler::{
    BoxFuture, GetNextResult, GetResult, HandlerResult, MibHandler, RequestContext,
};
use async_snmp::pdu::PduType;
use async_snmp::{Oid, VarBind};
use tokio::task::JoinHandle;

use crate::SimError;
pub use model::{DEFAULT_INTERFACES, DEFAULT_SEED, Device, MAX_INTERFACES};

/// Everything that shapes the simulated agent; a builder usable from tests and the CLI.
///
/// ```
/// use portkey_sim::snmp::SnmpSimConfig;
/// let config = SnmpSimConfig::default().interfaces(24).community("lab").seed(7);
/// assert_eq!(config.interfaces, 24);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnmpSimConfig {
    /// UDP address to listen on (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// Number of interfaces (`ifNumber`), at most [`MAX_INTERFACES`].
    pub interfaces: usize,
    /// The accepted community, for v1 and v2c alike.
    pub community: String,
    /// Seed for every generated value.
    pub seed: u64,
    /// Delay before every answer.
    pub latency: Duration,
}

impl Default for SnmpSimConfig {
    fn default() -> Self {
        SnmpSimConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            interfaces: DEFAULT_INTERFACES,
            community: "public".to_owned(),
            seed: DEFAULT_SEED,
            latency: Duration::ZERO,
        }
    }
}

impl SnmpSimConfig {
    /// Sets the UDP listen address.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Sets the interface count.
    pub fn interfaces(mut self, interfaces: usize) -> Self {
        self.interfaces = interfaces;
        self
    }

    /// Sets the accepted community.
    pub fn community(mut self, community: impl Into<String>) -> Self {
        self.community = community.into();
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the delay before every answer.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
}

/// Requests answered so far, by PDU type (a GETBULK counts once, however many rows it returns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnmpStats {
    /// All answered requests.
    pub requests: u64,
    /// GetRequest PDUs.
    pub get: u64,
    /// GetNextRequest PDUs.
    pub get_next: u64,
    /// GetBulkRequest PDUs.
    pub get_bulk: u64,
}

/// A request as the handler sees it: one datagram, however many handler calls it causes.
type RequestKey = (SocketAddr, i32, tokio::time::Instant);

/// How many recent requests are remembered to tell a new request from a further handler call
/// of one already counted. A request is looked up while it is being answered, by which time only
/// the requests that arrived meanwhile are more recent; forgetting one early would only count it
/// twice.
const RECENT_REQUESTS: usize = 256;

#[derive(Debug, Default)]
struct Counters {
    get: AtomicU64,
    get_next: AtomicU64,
    get_bulk: AtomicU64,
    other: AtomicU64,
    latency_ms: AtomicU64,
    recent: Mutex<VecDeque<RequestKey>>,
}

/// The async-snmp handler: the whole tree under `1.3.6.1`, answered from the model.
struct Handler {
    device: Arc<Device>,
    started: Instant,
    counters: Arc<Counters>,
}

impl Handler {
    /// Counts a request the first time one of its varbinds reaches the handler, and applies the
    /// latency then, so a GETBULK of 25 rows is delayed once, not 25 times.
    async fn admit(&self, ctx: &RequestContext) {
        let key = (ctx.source(), ctx.request_id(), ctx.received_at());
        let first = {
            let mut recent = self
                .counters
                .recent
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if recent.iter().rev().any(|seen| *seen == key) {
                false
            } else {
                if recent.len() == RECENT_REQUESTS {
                    recent.pop_front();
                }
                recent.push_back(key);
                true
            }
        };
        if !first {
            return;
        }
        let counter = match ctx.pdu_type() {
            PduType::GetRequest => &self.counters.get,
            PduType::GetNextRequest => &self.counters.get_next,
            PduType::GetBulkRequest => &self.counters.get_bulk,
            _ => &self.counters.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let latency = self.counters.latency_ms.load(Ordering::Relaxed);
        if latency > 0 {
            let cancelled = ctx.cancellation_token();
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(latency)) => {}
                () = cancelled.cancelled() => {}
            }
        }
    }

    fn tree(&self) -> mib::Tree<'_> {
        mib::Tree::new(&self.device, self.started.elapsed())
    }
}

impl MibHandler for Handler {
    fn get<'a>(
        &'a self,
        ctx: &'a RequestContext,
        oid: &'a Oid,
    ) -> BoxFuture<'a, HandlerResult<GetResult>> {
        Box::pin(async move {
            self.admit(ctx).await;
            Ok(match self.tree().get(oid) {
                mib::Lookup::Value(value) => GetResult::Value(value),
                mib::Lookup::NoSuchObject => GetResult::NoSuchObject,
                mib::Lookup::NoSuchInstance => GetResult::NoSuchInstance,
            })
        })
    }

    fn get_next<'a>(
        &'a self,
        ctx: &'a RequestContext,
        oid: &'a Oid,
    ) -> BoxFuture<'a, HandlerResult<GetNextResult>> {
        Box::pin(async move {
            self.admit(ctx).await;
            Ok(match self.tree().next(oid) {
                Some((oid, value)) => GetNextResult::Value(VarBind::new(oid, value)),
                None => GetNextResult::EndOfMibView,
            })
        })
    }
}

/// A running simulated agent; stops when dropped (or with [`SnmpSim::shutdown`]).
pub struct SnmpSim {
    addr: SocketAddr,
    agent: Agent,
    task: Option<JoinHandle<()>>,
    device: Arc<Device>,
    config: SnmpSimConfig,
    counters: Arc<Counters>,
}

impl fmt::Debug for SnmpSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnmpSim")
            .field("addr", &self.addr)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SnmpSim {
    /// Binds the UDP socket and starts answering; the returned agent is ready at once.
    pub async fn start(config: SnmpSimConfig) -> Result<SnmpSim, SimError> {
        if config.interfaces > MAX_INTERFACES {
            return Err(SimError::Config(format!(
                "{} interfaces requested; at most {MAX_INTERFACES} are supported",
                config.interfaces
            )));
        }
        if config.community.is_empty() {
            return Err(SimError::Config("the community must not be empty".into()));
        }
        let device = Arc::new(Device::generate(config.interfaces, config.seed));
        let counters = Arc::new(Counters::default());
        counters
            .latency_ms
            .store(config.latency.as_millis() as u64, Ordering::Relaxed);
        let handler = Handler {
            device: Arc::clone(&device),
            started: Instant::now(),
            counters: Arc::clone(&counters),
        };
        let agent = Agent::builder()
            .bind(config.listen.to_string())
            .community(config.community.as_bytes())
            .handler(Oid::from_slice(&[1, 3, 6, 1]), Arc::new(handler))
            .without_builtin_handlers()
            .allow_all_access()
            .build()
            .await
            .map_err(|error| match *error {
                async_snmp::Error::Network { source, .. } => SimError::Bind {
                    addr: config.listen,
                    source,
                },
                other => SimError::Config(format!("SNMP agent: {other}")),
            })?;
        let addr = agent.local_addr();
        let runner = agent.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = runner.run().await {
                eprintln!("portkey-sim: SNMP agent on {addr} stopped: {error}");
            }
        });
        Ok(SnmpSim {
            addr,
            agent,
            task: Some(task),
            device,
            config,
            counters,
        })
    }

    /// The UDP address the agent answers on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port` as an exporter's `target` parameter wants it.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &SnmpSimConfig {
        &self.config
    }

    /// The simulated device, for deriving expected values.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Requests answered so far.
    pub fn stats(&self) -> SnmpStats {
        let get = self.counters.get.load(Ordering::Relaxed);
        let get_next = self.counters.get_next.load(Ordering::Relaxed);
        let get_bulk = self.counters.get_bulk.load(Ordering::Relaxed);
        let other = self.counters.other.load(Ordering::Relaxed);
        SnmpStats {
            requests: get + get_next + get_bulk + other,
            get,
            get_next,
            get_bulk,
        }
    }

    /// Changes the delay before every answer (requests already waiting keep theirs).
    pub fn set_latency(&self, latency: Duration) {
        self.counters
            .latency_ms
            .store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    /// Stops answering and waits until requests in progress are done.
    pub async fn shutdown(mut self) {
        self.agent.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SnmpSim {
    fn drop(&mut self) {
        self.agent.cancel();
    }
}
