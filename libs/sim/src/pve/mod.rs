//! The Proxmox VE API simulator (pve-exporter spec §4, served as §4.6 asks).
//!
//! - `model.rs`: the cluster as data ([`model::Cluster`]), public so tests can derive expectations.
//! - `data.rs`: the default data set (six nodes, 60 curated guests, scaling rule), from a seed.
//! - `replication.rs`: the replication jobs of the data set.
//! - `render.rs`: each endpoint's JSON shape, per PVE version and node state.
//! - `auth.rs`: API tokens and `/access/ticket` tickets.
//! - `routes.rs`: path dispatch, the `{"data": ...}` envelope, PVE's error statuses and reasons.
//! - `cli.rs`: the `portkey-sim pve` flags.
//!
//! The simulator answers as one node (`local_node`, default `shire`); `/nodes/<n>/...` for the
//! other nodes is served too, as pveproxy proxies it, and answers 595 while `<n>` is offline.

mod auth;
pub mod cli;
pub mod data;
pub mod model;
mod render;
mod replication;
mod routes;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use axum::Router;

pub use auth::Credentials;
use auth::Tickets;
use model::Cluster;

/// Seed used when none is given (any value works; this one is the default data set's).
pub const DEFAULT_SEED: u64 = 8006;
/// Largest guest count accepted (keeps a typo from exhausting memory).
pub const MAX_GUESTS: usize = 100_000;

/// Which PVE major version's response shapes to serve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PveVersion {
    /// PVE 8.x: `sdn/<node>/<zone>` resources, no `memhost`, numeric qemu `memory`, bare
    /// `{"data":null}` error bodies.
    V8,
    /// PVE 9.x (default): `network/...` resources, `memhost`, `host-arch`, errors with `message`.
    #[default]
    V9,
}

impl FromStr for PveVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().trim_start_matches('v') {
            "8" => Ok(PveVersion::V8),
            "9" => Ok(PveVersion::V9),
            other => Err(format!(
                "unsupported PVE version '{other}' (expected 8 or 9)"
            )),
        }
    }
}

impl fmt::Display for PveVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PveVersion::V8 => "8",
            PveVersion::V9 => "9",
        })
    }
}

/// Everything that shapes the simulated cluster; a builder usable from tests and the CLI.
///
/// ```
/// use portkey_sim::pve::{PveSimConfig, PveVersion};
/// let config = PveSimConfig::default()
///     .guests(2000)
///     .version(PveVersion::V8)
///     .offline_node("gondor")
///     .local_node("rivendell");
/// assert_eq!(config.guests, 2000);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PveSimConfig {
    /// Number of guests (60 = the curated default set; more follow the scaling rule).
    pub guests: usize,
    /// Seed for every generated number and every shuffled order.
    pub seed: u64,
    /// Response shapes.
    pub version: PveVersion,
    /// A single node without corosync (no cluster entry, no HA, no replication).
    pub standalone: bool,
    /// Nodes that are offline from the start (changeable later with [`PveSim::set_offline`]).
    pub offline_nodes: Vec<String>,
    /// The node the simulator answers as (`local: 1` in `/cluster/status`).
    pub local_node: String,
    /// Accepted user, token and password.
    pub credentials: Credentials,
    /// Whether a QDevice is configured (`/cluster/config/qdevice` returns `{}` without).
    pub qdevice: bool,
    /// Random key and list order (per request, from the seed), as PVE's Perl hashes produce.
    pub shuffle: bool,
    /// Advance uptimes and traffic counters with every request (for the live demo).
    pub advance_counters: bool,
}

impl Default for PveSimConfig {
    fn default() -> Self {
        PveSimConfig {
            guests: data::CURATED_GUESTS,
            seed: DEFAULT_SEED,
            version: PveVersion::V9,
            standalone: false,
            offline_nodes: Vec::new(),
            local_node: "shire".into(),
            credentials: Credentials::default(),
            qdevice: true,
            shuffle: true,
            advance_counters: false,
        }
    }
}

impl PveSimConfig {
    /// Sets the guest count.
    pub fn guests(mut self, guests: usize) -> Self {
        self.guests = guests;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the response shapes.
    pub fn version(mut self, version: PveVersion) -> Self {
        self.version = version;
        self
    }

    /// Makes a standalone node instead of the six-node cluster.
    pub fn standalone(mut self, standalone: bool) -> Self {
        self.standalone = standalone;
        self
    }

    /// Adds a node that starts offline.
    pub fn offline_node(mut self, node: impl Into<String>) -> Self {
        self.offline_nodes.push(node.into());
        self
    }

    /// Picks the node the simulator answers as.
    pub fn local_node(mut self, node: impl Into<String>) -> Self {
        self.local_node = node.into();
        self
    }

    /// Sets the accepted credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Configures (or removes) the QDevice.
    pub fn qdevice(mut self, qdevice: bool) -> Self {
        self.qdevice = qdevice;
        self
    }

    /// Turns random key/list order on or off.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Turns advancing counters on or off.
    pub fn advance_counters(mut self, advance: bool) -> Self {
        self.advance_counters = advance;
        self
    }

    /// Checks the combination of options.
    pub fn validate(&self) -> Result<(), PveConfigError> {
        if self.guests > MAX_GUESTS {
            return Err(PveConfigError::TooManyGuests(self.guests));
        }
        if self.standalone {
            if self.local_node.is_empty() {
                return Err(PveConfigError::UnknownNode(self.local_node.clone()));
            }
            if let Some(node) = self.offline_nodes.first() {
                return Err(PveConfigError::StandaloneOffline(node.clone()));
            }
            return Ok(());
        }
        if !data::NODE_NAMES.contains(&self.local_node.as_str()) {
            return Err(PveConfigError::UnknownNode(self.local_node.clone()));
        }
        for node in &self.offline_nodes {
            if !data::NODE_NAMES.contains(&node.as_str()) {
                return Err(PveConfigError::UnknownNode(node.clone()));
            }
            if *node == self.local_node {
                return Err(PveConfigError::LocalNodeOffline(node.clone()));
            }
        }
        Ok(())
    }
}

/// A [`PveSimConfig`] that cannot be simulated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PveConfigError {
    /// A node name outside shire, rivendell, isengard, mirkwood, rohan, gondor.
    #[error(
        "unknown node '{0}' (the cluster has shire, rivendell, isengard, mirkwood, rohan, gondor)"
    )]
    UnknownNode(String),
    /// The node answering the API cannot be offline.
    #[error("the local node '{0}' cannot be offline: it is the one answering the API")]
    LocalNodeOffline(String),
    /// A standalone node has no other nodes to take offline.
    #[error("a standalone node has no other node to take offline ('{0}')")]
    StandaloneOffline(String),
    /// More guests than [`MAX_GUESTS`].
    #[error("{0} guests is more than the simulator supports ({MAX_GUESTS})")]
    TooManyGuests(usize),
}

/// Shared state behind the router.
#[derive(Debug)]
struct PveState {
    config: PveSimConfig,
    cluster: Cluster,
    offline: RwLock<HashSet<String>>,
    tickets: Tickets,
    requests: AtomicU64,
}

/// A Proxmox VE API simulator: its data, its live state (offline nodes, tickets) and its router.
///
/// Cheap to clone; clones share state, so a test can keep one to flip a node offline while the
/// server serves the router made from another.
#[derive(Clone, Debug)]
pub struct PveSim {
    state: Arc<PveState>,
}

impl PveSim {
    /// Builds the cluster for `config`.
    pub fn new(config: PveSimConfig) -> Result<Self, PveConfigError> {
        config.validate()?;
        let cluster = data::build(&config);
        let offline = config.offline_nodes.iter().cloned().collect();
        Ok(PveSim {
            state: Arc::new(PveState {
                config,
                cluster,
                offline: RwLock::new(offline),
                tickets: Tickets::default(),
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// The axum router serving `/api2/json/...`; start it with [`crate::SimServer`].
    pub fn router(&self) -> Router {
        routes::router(self.state.clone())
    }

    /// The configuration the simulator was built from.
    pub fn config(&self) -> &PveSimConfig {
        &self.state.config
    }

    /// The simulated data (for computing expected exporter output).
    pub fn cluster(&self) -> &Cluster {
        &self.state.cluster
    }

    /// Takes a node offline (`true`) or brings it back; the local node cannot go offline.
    pub fn set_offline(&self, node: &str, offline: bool) -> Result<(), PveConfigError> {
        if self.state.cluster.node(node).is_none() {
            return Err(PveConfigError::UnknownNode(node.to_owned()));
        }
        if offline && node == self.state.config.local_node {
            return Err(PveConfigError::LocalNodeOffline(node.to_owned()));
        }
        let mut set = self
            .state
            .offline
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if offline {
            set.insert(node.to_owned());
        } else {
            set.remove(node);
        }
        Ok(())
    }

    /// Nodes currently offline.
    pub fn offline_nodes(&self) -> Vec<String> {
        let set = self
            .state
            .offline
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut nodes: Vec<String> = set.iter().cloned().collect();
        nodes.sort();
        nodes
    }

    /// Invalidates every issued ticket, as if they had expired (the next call gets 401).
    pub fn revoke_tickets(&self) {
        self.state.tickets.revoke_all();
    }

    /// Number of successful `POST /access/ticket` logins so far.
    pub fn tickets_issued(&self) -> u64 {
        self.state.tickets.issued()
    }
}
