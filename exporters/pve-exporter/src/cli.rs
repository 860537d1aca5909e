//! The incumbent's flags plus Portkey's, each also settable as `PVE_EXPORTER_<FLAG>`.
//!
//! The collector switches come in `--collector.<name>` / `--no-collector.<name>` pairs, as in
//! prometheus-pve-exporter; the later one on the command line wins, and the environment variable
//! of the positive form takes `true` or `false`.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};
use portkey_kit::cli::{CommonArgs, env_name, with_env_prefix};

use crate::collectors::{Collector, CollectorSet};

/// Environment prefix of every flag.
pub const ENV_PREFIX: &str = "PVE_EXPORTER";
/// Default listen address (the incumbent's port).
pub const DEFAULT_LISTEN: &str = "[::]:9221";

/// Flags that are plain values.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "pve-exporter",
    version,
    about = "Prometheus exporter for Proxmox VE: a drop-in for prometheus-pve-exporter."
)]
pub struct Flags {
    /// Path to the pve.yml module configuration (ignored when PVE_USER is set).
    #[arg(long = "config.file", default_value = "/etc/prometheus/pve.yml")]
    pub config_file: PathBuf,
    /// TLS key file for the exporter's own listener (same as tls_server_config in --web.config.file).
    #[arg(long = "server.keyfile")]
    pub server_keyfile: Option<PathBuf>,
    /// TLS certificate file for the exporter's own listener.
    #[arg(long = "server.certfile")]
    pub server_certfile: Option<PathBuf>,
    /// Target used when a request has no target parameter.
    #[arg(long = "pve.default-target", default_value = "localhost")]
    pub default_target: String,
    /// Most API calls in flight per scrape, for modules without max_concurrency.
    #[arg(long = "pve.max-concurrency", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrency: u16,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// Every flag, switches resolved.
#[derive(Debug, Clone)]
pub struct Cli {
    /// Plain flags.
    pub flags: Flags,
    /// Collectors enabled.
    pub collectors: CollectorSet,
    /// `--collector.pve-api-metrics`.
    pub api_metrics: bool,
    /// `--collector.target-metrics`.
    pub target_metrics: bool,
    /// `--compat.not-backed-up-total`.
    pub compat_not_backed_up_total: bool,
}

/// An on/off switch and its default.
struct Switch {
    name: &'static str,
    default: bool,
    help: &'static str,
}

fn switches() -> Vec<Switch> {
    let mut all: Vec<Switch> = Collector::ALL
        .into_iter()
        .map(|c| Switch {
            name: c.name(),
            default: true,
            help: "collector",
        })
        .collect();
    all.push(Switch {
        name: "pve-api-metrics",
        default: false,
        help: "self-metrics of every PVE API call (duration and errors per templated URL)",
    });
    all.push(Switch {
        name: "target-metrics",
        default: false,
        help: "self-metrics per scraped target (duration and errors)",
    });
    all
}

fn switch_args(
    command: Command,
    prefix: &'static str,
    name: &str,
    default: bool,
    help: &str,
) -> Command {
    let positive = format!("{prefix}.{name}");
    let negative = format!("no-{prefix}.{name}");
    let state = if default { "on" } else { "off" };
    command
        .arg(
            Arg::new(positive.clone())
                .long(positive.clone())
                .action(ArgAction::SetTrue)
                .overrides_with(negative.clone())
                .env(env_name(ENV_PREFIX, &positive))
                .help(format!("Enable the {name} {help} (default {state})")),
        )
        .arg(
            Arg::new(negative.clone())
                .long(negative)
                .action(ArgAction::SetTrue)
                .overrides_with(positive)
                .help(format!("Disable the {name} {help}")),
        )
}

fn switch_value(matches: &ArgMatches, prefix: &str, name: &str, default: bool) -> bool {
    let positive = format!("{prefix}.{name}");
    let negative = format!("no-{prefix}.{name}");
    if matches.get_flag(&negative) {
        return false;
    }
    match matches.value_source(&positive) {
        Some(ValueSource::CommandLine) | Some(ValueSource::EnvVariable) => {
            matches.get_flag(&positive)
        }
        _ => default,
    }
}

/// The full command, for parsing and for `--help`.
pub fn command() -> Command {
    let mut command = with_env_prefix(Flags::command(), ENV_PREFIX);
    for switch in switches() {
        command = switch_args(
            command,
            "collector",
            switch.name,
            switch.default,
            switch.help,
        );
    }
    switch_args(
        command,
        "compat",
        "not-backed-up-total",
        true,
        "pve_not_backed_up_total alias (a gauge with a counter's name, kept for existing rules)",
    )
}

/// Parses `args` (including the program name).
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut matches = command().try_get_matches_from(args)?;
    let flags = Flags::from_arg_matches_mut(&mut matches)?;
    let mut collectors = CollectorSet::empty();
    for collector in Collector::ALL {
        if switch_value(&matches, "collector", collector.name(), true) {
            collectors = collectors.with(collector);
        }
    }
    Ok(Cli {
        flags,
        collectors,
        api_metrics: switch_value(&matches, "collector", "pve-api-metrics", false),
        target_metrics: switch_value(&matches, "collector", "target-metrics", false),
        compat_not_backed_up_total: switch_value(&matches, "compat", "not-backed-up-total", true),
    })
}
