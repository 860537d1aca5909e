//! `portkey-sim snmp` flags, mapped onto [`SnmpSimConfig`].

use std::time::Duration;

use futures_util::FutureExt;

use super::{DEFAULT_INTERFACES, DEFAULT_SEED, MAX_INTERFACES, SnmpSim, SnmpSimConfig};
use crate::registry::{BuildError, RunningUdp, UdpArgs, UdpStart};

/// Flags of the SNMP simulator (the common `--listen` and `--latency-ms` come from the registry).
#[derive(Clone, Debug, clap::Args)]
pub struct SnmpArgs {
    /// Number of interfaces (lo, eth0, eth1, wg0, then eth2, eth3, ...).
    #[arg(
        long,
        default_value_t = DEFAULT_INTERFACES,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_INTERFACES as u64)
    )]
    pub interfaces: usize,
    /// The accepted community (v1 and v2c); requests with another one get no answer.
    #[arg(long, default_value = "public")]
    pub community: String,
    /// Seed for all generated values.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

impl SnmpArgs {
    /// The configuration these flags and the common ones describe.
    pub fn to_config(&self, common: &UdpArgs) -> SnmpSimConfig {
        SnmpSimConfig {
            listen: common.listen,
            interfaces: self.interfaces,
            community: self.community.clone(),
            seed: self.seed,
            latency: Duration::from_millis(common.latency_ms),
        }
    }
}

impl RunningUdp for SnmpSim {
    fn local_addr(&self) -> std::net::SocketAddr {
        self.addr()
    }

    fn describe(&self) -> String {
        format!(
            "SNMP v1/v2c, community '{}', {} interfaces",
            self.config().community,
            self.config().interfaces
        )
    }

    fn stop(self: Box<Self>) -> futures_util::future::BoxFuture<'static, ()> {
        self.shutdown().boxed()
    }
}

/// Registry hook: parses the flags and returns the start of the agent.
pub fn start(matches: &clap::ArgMatches) -> Result<UdpStart, BuildError> {
    use clap::FromArgMatches;
    let common = UdpArgs::from_arg_matches(matches)?;
    let config = SnmpArgs::from_arg_matches(matches)?.to_config(&common);
    Ok(async move {
        let sim = SnmpSim::start(config).await?;
        Ok(Box::new(sim) as Box<dyn RunningUdp>)
    }
    .boxed())
}
