//! Contract-faithful simulators of Portkey's upstreams, for tests, benchmarks and the demo.
//!
//! The real Proxmox VE API, OPNsense, AdGuard Home and friends cannot run on a CI machine, so
//! every exporter is tested against a simulator that serves the upstream's documented shapes
//! (see the component specs), including its quirks and version variants, and that can be made
//! slow or broken on demand.
//!
//! # Layout
//!
//! The framework (shared by every simulator):
//!
//! - [`server`]: [`SimServer`] runs any axum [`Router`](axum::Router) on `127.0.0.1:0` (or a given
//!   address), plain or TLS, behind the middleware that logs requests and applies faults. UDP
//!   simulators run their own socket instead and have none of the HTTP framework.
//! - [`faults`]: [`Fault`] kinds (latency, status, malformed/truncated/stalled body, reset) and
//!   the per-path [`Faults`] table.
//! - [`log`]: the [`RequestLog`] tests assert on (counts, entries, peak concurrency).
//! - [`control`]: the `/_sim/...` HTTP control API served by every simulator (faults, log,
//!   stats, reset), with [`faults::FaultSpec`] as its JSON fault description.
//! - [`tls`]: [`TlsIdentity`], a CA and server certificate generated at run time.
//! - [`rng`], [`json`]: the seeded generator behind all simulated data, and JSON output with
//!   shuffled object keys (upstreams that use hash maps do not keep key order).
//! - [`registry`]: the table of simulators the `portkey-sim` binary can serve, with their flags.
//! - [`tools`]: finding the real programs some tests drive (snmpd, promtool), with the
//!   workspace's skip-or-fail rule (`PORTKEY_REQUIRE_TOOLS`).
//!
//! The simulators:
//!
//! - [`pve`]: the Proxmox VE API (`/api2/json/...`), cluster `middleearth` of six nodes.
//! - [`snmp`]: an SNMP v1/v2c agent over UDP (system group, `ifTable`, `ifXTable`), started with
//!   [`snmp::SnmpSim::start`]; no control API, a request counter instead.
//!
//! # Use from a test
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use portkey_sim::{Fault, SimServer, pve::{PveSim, PveSimConfig}};
//!
//! let pve = PveSim::new(PveSimConfig::default().guests(200))?;
//! let sim = SimServer::start(pve.router()).await?;
//! sim.faults().set("/api2/json/cluster/status", Fault::Status(500, None));
//! // ... point the exporter at sim.url() and scrape ...
//! assert_eq!(sim.log().count("/api2/json/cluster/resources"), 1);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod control;
pub mod faults;
pub mod json;
pub mod log;
pub mod pve;
pub mod registry;
pub mod rng;
pub mod server;
pub mod snmp;
pub mod tls;
pub mod tools;

use std::net::SocketAddr;

pub use faults::{Fault, FaultRule, FaultSpec, Faults};
pub use log::{LogEntry, RequestLog};
pub use server::{SimServer, SimServerBuilder};
pub use tls::{TlsIdentity, install_ring_provider};

/// Why a simulator could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Certificate generation or TLS configuration failed.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// Another I/O error while starting.
    #[error("I/O error: {0}")]
    Io(std::io::Error),
    /// The simulator's configuration cannot be served.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
}
