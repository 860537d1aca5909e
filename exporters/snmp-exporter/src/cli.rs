//! Upstream snmp_exporter's flags plus Portkey's, each also settable as `SNMP_EXPORTER_<FLAG>`.

use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches};
use portkey_kit::cli::{CommonArgs, env_name, with_env_prefix};

/// Environment prefix of every flag.
pub const ENV_PREFIX: &str = "SNMP_EXPORTER";
/// Default listen address (upstream's port).
pub const DEFAULT_LISTEN: &str = "[::]:9116";

/// `--config.print-default` layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrintLayout {
    /// `auths:` + `modules:`.
    Split,
    /// Modules only, loadable by snmp_exporter 0.21.
    Flat,
}

/// Every flag.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "snmp-exporter",
    version,
    about = "Prometheus SNMP exporter: a drop-in for prometheus/snmp_exporter."
)]
pub struct Flags {
    /// Path to a snmp.yml (a glob); repeatable. None: the embedded if_mib/system default.
    #[arg(id = "config.file", long = "config.file", action = ArgAction::Append)]
    pub config_files: Vec<String>,
    /// Expand ${VAR} in community, username, password and priv_password.
    #[arg(
        id = "config.expand-environment-variables",
        long = "config.expand-environment-variables"
    )]
    pub expand_env: bool,
    /// Print the embedded default config in this layout and exit.
    #[arg(id = "config.print-default", long = "config.print-default", value_enum)]
    pub print_default: Option<PrintLayout>,
    /// Load and validate the config, then exit 0 (valid) or 1.
    #[arg(id = "dry-run", long = "dry-run")]
    pub dry_run: bool,
    /// Local address (`addr` or `addr:port`) SNMP requests are sent from.
    #[arg(
        id = "snmp.source-address",
        long = "snmp.source-address",
        default_value = ""
    )]
    pub source_address: String,
    /// Most subtrees walked at once per scrape (a module's walk_concurrency overrides).
    #[arg(id = "snmp.walk-concurrency", long = "snmp.walk-concurrency", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub walk_concurrency: u32,
    /// Most SNMP requests in flight per target, across concurrent scrapes.
    #[arg(id = "snmp.target-concurrency", long = "snmp.target-concurrency", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub target_concurrency: u32,
    /// Accepted for upstream compatibility; modules share one work list.
    #[arg(
        id = "snmp.module-concurrency",
        long = "snmp.module-concurrency",
        default_value_t = 1
    )]
    pub module_concurrency: u32,
    /// Log every SNMP PDU at debug level.
    #[arg(id = "snmp.debug-packets", long = "snmp.debug-packets")]
    pub debug_packets: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// Parsed flags with the `--[no-]snmp.wrap-large-counters` switch resolved.
#[derive(Debug, Clone)]
pub struct Cli {
    /// Plain flags.
    pub flags: Flags,
    /// Counter64 modulo 2^53.
    pub wrap_large_counters: bool,
}

/// The full command, for parsing and `--help`.
pub fn command() -> Command {
    let positive = "snmp.wrap-large-counters";
    let negative = "no-snmp.wrap-large-counters";
    with_env_prefix(Flags::command(), ENV_PREFIX)
        // Upstream's deadline default is 60s when Prometheus sends no header.
        .mut_arg("scrape.default-timeout", |a| a.default_value("60s"))
        .arg(
            Arg::new(positive)
                .long(positive)
                .action(ArgAction::SetTrue)
                .overrides_with(negative)
                .env(env_name(ENV_PREFIX, positive))
                .help("Wrap 64-bit counters modulo 2^53 so they stay exact as floats (default on)"),
        )
        .arg(
            Arg::new(negative)
                .long(negative)
                .action(ArgAction::SetTrue)
                .overrides_with(positive)
                .help("Do not wrap 64-bit counters"),
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
    let wrap_large_counters = !matches.get_flag("no-snmp.wrap-large-counters");
    Ok(Cli {
        flags,
        wrap_large_counters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_switches() {
        let cli = try_parse_from(["snmp-exporter"]).unwrap();
        assert!(cli.wrap_large_counters);
        assert!(cli.flags.config_files.is_empty());
        assert_eq!(
            cli.flags.common.scrape.default_timeout,
            std::time::Duration::from_secs(60)
        );
        assert_eq!(cli.flags.walk_concurrency, 4);
        let cli = try_parse_from([
            "snmp-exporter",
            "--no-snmp.wrap-large-counters",
            "--config.file",
            "a.yml",
            "--config.file",
            "b/*.yml",
        ])
        .unwrap();
        assert!(!cli.wrap_large_counters);
        assert_eq!(cli.flags.config_files, ["a.yml", "b/*.yml"]);
        command().debug_assert();
    }
}
