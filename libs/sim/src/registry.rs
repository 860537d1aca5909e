//! The table of simulators the `portkey-sim` binary serves, and its command line.
//!
//! Each simulator adds one [`Simulator`] row to [`SIMULATORS`]: a name (the subcommand), its own
//! clap flags, and a function that builds its router from them. The flags every simulator
//! shares ([`CommonArgs`]) are added here, so `portkey-sim <name> --listen ... --tls
//! --latency-ms N [own flags]` works the same for all of them.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use clap::{Args, Command};

/// Why a simulator's router could not be built from its flags.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// One simulator the binary can serve.
#[derive(Clone, Copy, Debug)]
pub struct Simulator {
    /// Subcommand name (`pve`).
    pub name: &'static str,
    /// One-line description for `--help`.
    pub about: &'static str,
    /// Adds the simulator's own flags to its subcommand.
    pub args: fn(Command) -> Command,
    /// Builds the router from the parsed subcommand flags.
    pub build: fn(&clap::ArgMatches) -> Result<Router, BuildError>,
}

/// Every simulator, in `--help` order. Later simulators add a row here.
pub static SIMULATORS: &[Simulator] = &[Simulator {
    name: "pve",
    about: "Proxmox VE API (/api2/json): six-node cluster 'middleearth', token and ticket auth",
    args: <crate::pve::cli::PveArgs as Args>::augment_args,
    build: crate::pve::cli::build,
}];

/// Looks a simulator up by name.
pub fn find(name: &str) -> Option<&'static Simulator> {
    SIMULATORS.iter().find(|s| s.name == name)
}

/// Flags shared by every simulator.
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

/// The full command line: one subcommand per registered simulator.
pub fn command() -> Command {
    let mut cmd = Command::new("portkey-sim")
        .about("Serves a simulated upstream (for tests, benchmarks and the demo)")
        .long_about(
            "Serves a simulated upstream for tests, benchmarks and the demo. Every simulator also \
             answers the control API under /_sim/ (faults, log, stats, reset).",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true);
    for sim in SIMULATORS {
        let sub = CommonArgs::augment_args(Command::new(sim.name));
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
        assert!((find("pve").unwrap().build)(sub).is_ok());
    }
}
