//! The table of simulators the `portkey-sim` binary serves, and its command line.
//!
//! Each simulator adds one [`Simulator`] row to [`SIMULATORS`]: a name (the subcommand), its own
//! clap flags, and how it runs ([`Kind`]):
//!
//! - [`Kind::Http`]: a function that builds an axum router from the flags; the binary serves it
//!   with [`SimServer`](crate::SimServer), so `portkey-sim <name> --listen ... --tls
//!   --latency-ms N [own flags]` works the same for all of them, control API included
//!   ([`CommonArgs`]).
//! - [`Kind::Udp`]: a function that starts the simulator's own UDP service from the flags
//!   (`--listen` and `--latency-ms` are shared, [`UdpArgs`]); there is no TLS and no `/_sim/`
//!   control API.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use clap::{Args, Command};
use futures_util::future::BoxFuture;

/// Why a simulator could not be built or started from its flags.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// A UDP simulator that is running.
pub trait RunningUdp: Send + fmt::Debug {
    /// The address it answers on.
    fn local_addr(&self) -> SocketAddr;
    /// A few words on what it serves, for the start-up line.
    fn describe(&self) -> String;
    /// Stops it and waits until it has stopped.
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// Starting a UDP simulator: resolves once its socket is bound and it answers.
pub type UdpStart = BoxFuture<'static, Result<Box<dyn RunningUdp>, BuildError>>;

/// How a simulator runs.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// An HTTP upstream: builds the router from the parsed subcommand flags.
    Http(fn(&clap::ArgMatches) -> Result<Router, BuildError>),
    /// A UDP upstream: parses the flags and returns the future that starts it.
    Udp(fn(&clap::ArgMatches) -> Result<UdpStart, BuildError>),
}

/// One simulator the binary can serve.
#[derive(Clone, Copy, Debug)]
pub struct Simulator {
    /// Subcommand name (`pve`).
    pub name: &'static str,
    /// One-line description for `--help`.
    pub about: &'static str,
    /// Adds the simulator's own flags to its subcommand.
    pub args: fn(Command) -> Command,
    /// How it is started.
    pub kind: Kind,
}

/// Every simulator, in `--help` order. Later simulators add a row here.
pub static SIMULATORS: &[Simulator] = &[
    Simulator {
        name: "pve",
        about: "Proxmox VE API (/api2/json): six-node cluster 'middleearth', token and ticket auth",
        args: <crate::pve::cli::PveArgs as Args>::augment_args,
        kind: Kind::Http(crate::pve::cli::build),
    },
    Simulator {
        name: "snmp",
        about: "SNMP v1/v2c agent over UDP: system group, ifTable and ifXTable of a small router",
        args: <crate::snmp::cli::SnmpArgs as Args>::augment_args,
        kind: Kind::Udp(crate::snmp::cli::start),
    },
];

/// Looks a simulator up by name.
pub fn find(name: &str) -> Option<&'static Simulator> {
    SIMULATORS.iter().find(|s| s.name == name)
}

/// Flags shared by every HTTP simulator.
#[derive(Clone, Debug, Args)]
pub struct CommonArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Serve HTTPS with a certificate generated at start (its CA is written to a file).
    #[arg(long)]
    pub tls: bool,
    /// Where to write the CA certificate with --tls (default: a file in the temp directory).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Delay added to every request, in milliseconds (the control API can change it later).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
}

/// Flags shared by every UDP simulator.
#[derive(Clone, Debug, Args)]
pub struct UdpArgs {
    /// UDP address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Delay added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
}

/// The full command line: one subcommand per registered simulator.
pub fn command() -> Command {
    let mut cmd = Command::new("portkey-sim")
        .about("Serves a simulated upstream (for tests, benchmarks and the demo)")
        .long_about(
            "Serves a simulated upstream for tests, benchmarks and the demo. Every HTTP simulator \
             also answers the control API under /_sim/ (faults, log, stats, reset); UDP \
             simulators (snmp) have none.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true);
    for sim in SIMULATORS {
        let sub = match sim.kind {
            Kind::Http(_) => CommonArgs::augment_args(Command::new(sim.name)),
            Kind::Udp(_) => UdpArgs::augment_args(Command::new(sim.name)),
        };
        // The simulator's flag struct may carry its own doc text; the table's wins.
        let sub = (sim.args)(sub).about(sim.about).long_about(None);
        cmd = cmd.subcommand(sub);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    #[test]
    fn command_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn pve_flags_parse() {
        let matches = command()
            .try_get_matches_from([
                "portkey-sim",
                "pve",
                "--guests",
                "2000",
                "--latency-ms",
                "5",
                "--listen",
                "127.0.0.1:18006",
                "--pve-version",
                "8",
                "--offline-node",
                "gondor",
            ])
            .unwrap();
        let (name, sub) = matches.subcommand().unwrap();
        assert_eq!(name, "pve");
        let common = CommonArgs::from_arg_matches(sub).unwrap();
        assert_eq!(common.latency_ms, 5);
        assert_eq!(common.listen.port(), 18006);
        let pve = crate::pve::cli::PveArgs::from_arg_matches(sub).unwrap();
        let config = pve.to_config();
        assert_eq!(config.guests, 2000);
        assert_eq!(config.version, crate::pve::PveVersion::V8);
        assert_eq!(config.offline_nodes, vec!["gondor".to_owned()]);
        let Kind::Http(build) = find("pve").unwrap().kind else {
            panic!("pve is an HTTP simulator");
        };
        assert!(build(sub).is_ok());
    }

    #[test]
    fn snmp_flags_parse() {
        let matches = command()
            .try_get_matches_from([
                "portkey-sim",
                "snmp",
                "--listen",
                "127.0.0.1:16161",
                "--interfaces",
                "24",
                "--community",
                "lab",
                "--latency-ms",
                "3",
            ])
            .unwrap();
        let (name, sub) = matches.subcommand().unwrap();
        assert_eq!(name, "snmp");
        let common = UdpArgs::from_arg_matches(sub).unwrap();
        let config = crate::snmp::cli::SnmpArgs::from_arg_matches(sub)
            .unwrap()
            .to_config(&common);
        assert_eq!(config.listen.port(), 16161);
        assert_eq!(config.interfaces, 24);
        assert_eq!(config.community, "lab");
        assert_eq!(config.latency, std::time::Duration::from_millis(3));
        assert!(matches!(find("snmp").unwrap().kind, Kind::Udp(_)));

        for bad in [
            &["portkey-sim", "snmp", "--tls"][..],
            &["portkey-sim", "snmp", "--interfaces", "10001"],
        ] {
            assert!(command().try_get_matches_from(bad).is_err(), "{bad:?}");
        }
    }
}
