//! `portkey-sim pve` flags, mapped onto [`PveSimConfig`].

use axum::Router;

use super::{Credentials, DEFAULT_SEED, PveSim, PveSimConfig, PveVersion};

/// Flags of the PVE simulator (the common `--listen`, `--tls`, `--latency-ms` come from the
/// registry).
#[derive(Clone, Debug, clap::Args)]
pub struct PveArgs {
    /// Number of guests (60 = the curated data set; more follow the scaling rule).
    #[arg(long, default_value_t = 60)]
    pub guests: usize,
    /// Seed for all generated values and random orders.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// PVE major version whose response shapes to serve (8 or 9).
    #[arg(long = "pve-version", default_value = "9")]
    pub pve_version: PveVersion,
    /// A single standalone node instead of the six-node cluster.
    #[arg(long)]
    pub standalone: bool,
    /// A node that is offline (its `/nodes/NODE/...` calls answer 595); repeatable.
    #[arg(long = "offline-node")]
    pub offline_nodes: Vec<String>,
    /// The node the simulator answers as.
    #[arg(long, default_value = "shire")]
    pub local_node: String,
    /// Accepted user (user@realm).
    #[arg(long, default_value = "demo@pve")]
    pub user: String,
    /// Accepted API token id.
    #[arg(long, default_value = "portkey")]
    pub token_name: String,
    /// Accepted API token secret.
    #[arg(long, default_value = "demo-token-value")]
    pub token_value: String,
    /// Accepted password for /access/ticket logins.
    #[arg(long, default_value = "demo-password")]
    pub password: String,
    /// No QDevice (/cluster/config/qdevice returns {}).
    #[arg(long)]
    pub no_qdevice: bool,
    /// Keep keys and lists in a fixed order instead of PVE's random order.
    #[arg(long)]
    pub no_shuffle: bool,
    /// Advance uptimes and traffic counters with every request.
    #[arg(long)]
    pub advance_counters: bool,
}

impl PveArgs {
    /// The configuration these flags describe.
    pub fn to_config(&self) -> PveSimConfig {
        PveSimConfig {
            guests: self.guests,
            seed: self.seed,
            version: self.pve_version,
            standalone: self.standalone,
            offline_nodes: self.offline_nodes.clone(),
            local_node: self.local_node.clone(),
            credentials: Credentials {
                user: self.user.clone(),
                token_name: self.token_name.clone(),
                token_value: self.token_value.clone(),
                password: self.password.clone(),
            },
            qdevice: !self.no_qdevice,
            shuffle: !self.no_shuffle,
            advance_counters: self.advance_counters,
        }
    }
}

/// Registry hook: builds the router from parsed flags.
pub fn build(matches: &clap::ArgMatches) -> Result<Router, crate::registry::BuildError> {
    use clap::FromArgMatches;
    let args = PveArgs::from_arg_matches(matches)?;
    Ok(PveSim::new(args.to_config())?.router())
}
