//! Command-line conventions: every flag also settable from the environment, Go-style durations,
//! and the scrape-deadline flags.
//!
//! Flags are declared once with clap's derive; [`with_env_prefix`] then gives each one an
//! environment variable named after the binary (`--scrape.timeout-offset` of pve-exporter becomes
//! `PVE_EXPORTER_SCRAPE_TIMEOUT_OFFSET`), which is how the Helm charts configure the binaries.

use std::time::Duration;

use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};

use crate::deadline::DeadlinePolicy;
use crate::logging::LogArgs;
use crate::server::WebArgs;

/// The flags every Portkey server binary takes: web server, scrape deadline, logging, runtime.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub web: WebArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub scrape: ScrapeArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub log: LogArgs,
    /// Tokio worker threads (the memory budgets assume 2).
    #[arg(
        id = "runtime.worker-threads",
        long = "runtime.worker-threads",
        default_value_t = 2,
        value_parser = clap::value_parser!(u16).range(1..=64)
    )]
    pub worker_threads: u16,
}

impl CommonArgs {
    /// The multi-threaded runtime the flags ask for.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(self.worker_threads))
            .enable_all()
            .build()
    }
}

/// The scrape deadline flags (see [`crate::deadline`]).
#[derive(Debug, Clone, clap::Args)]
pub struct ScrapeArgs {
    /// Subtracted from the scrape timeout Prometheus sends, to leave time to answer.
    #[arg(id = "scrape.timeout-offset", long = "scrape.timeout-offset", value_parser = parse_duration, default_value = "0.5s")]
    pub timeout_offset: Duration,
    /// Scrape deadline when the request carries no X-Prometheus-Scrape-Timeout-Seconds header.
    #[arg(id = "scrape.default-timeout", long = "scrape.default-timeout", value_parser = parse_duration, default_value = "30s")]
    pub default_timeout: Duration,
    /// Upper bound on any scrape deadline.
    #[arg(id = "scrape.max-timeout", long = "scrape.max-timeout", value_parser = parse_duration, default_value = "120s")]
    pub max_timeout: Duration,
}

impl ScrapeArgs {
    /// The deadline policy these flags describe.
    pub fn policy(&self) -> DeadlinePolicy {
        DeadlinePolicy {
            offset: self.timeout_offset,
            default: self.default_timeout,
            max: self.max_timeout,
        }
    }
}

/// Parses `500ms`, `0.5s`, `1m30s`, `2h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds_to_duration(seconds, text);
    }
    let mut total = 0.0_f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("'{text}': missing unit (ms, s, m, h)"))?;
        if number_len == 0 {
            return Err(format!("'{text}': expected a number"));
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("'{text}': invalid number"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            unit => return Err(format!("'{text}': unknown unit '{unit}' (use ms, s, m, h)")),
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    seconds_to_duration(total, text)
}

fn seconds_to_duration(seconds: f64, text: &str) -> Result<Duration, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("'{text}': must be a non-negative duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Environment variable for a long flag: `PREFIX_` + flag upper-cased with `.` and `-` as `_`.
pub fn env_name(prefix: &str, long: &str) -> String {
    let mut name = String::with_capacity(prefix.len() + long.len() + 1);
    name.push_str(prefix);
    name.push('_');
    name.extend(long.chars().map(|c| match c {
        '.' | '-' => '_',
        c => c.to_ascii_uppercase(),
    }));
    name
}

/// Gives every flag of `command` that has no environment variable yet one named by [`env_name`].
pub fn with_env_prefix(command: Command, prefix: &str) -> Command {
    let ids: Vec<(String, String)> = command
        .get_arguments()
        .filter(|a| a.get_env().is_none())
        .filter_map(|a| Some((a.get_id().to_string(), a.get_long()?.to_owned())))
        .filter(|(id, _)| id != "help" && id != "version")
        .collect();
    ids.into_iter().fold(command, |command, (id, long)| {
        let env = env_name(prefix, &long);
        command.mut_arg(id, |arg| arg.env(env))
    })
}

/// Parses `C` from `args` with environment variables under `prefix`; exits with clap's usage
/// message (code 2) on a bad flag, like every other Prometheus exporter.
pub fn parse_from<C, I, T>(prefix: &str, args: I) -> C
where
    C: CommandFactory + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match try_parse_from::<C, I, T>(prefix, args) {
        Ok(c) => c,
        Err(e) => e.exit(),
    }
}

/// Like [`parse_from`] but returns the error, for tests.
pub fn try_parse_from<C, I, T>(prefix: &str, args: I) -> Result<C, clap::Error>
where
    C: CommandFactory + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = with_env_prefix(C::command(), prefix);
    let mut matches: ArgMatches = command.try_get_matches_from(args)?;
    C::from_arg_matches_mut(&mut matches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0.5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        scrape: ScrapeArgs,
        #[arg(id = "config.file", long = "config.file", default_value = "/etc/x.yml")]
        config: String,
    }

    #[test]
    fn env_names_follow_the_flag() {
        assert_eq!(
            env_name("PVE_EXPORTER", "scrape.timeout-offset"),
            "PVE_EXPORTER_SCRAPE_TIMEOUT_OFFSET"
        );
        let command = with_env_prefix(Cli::command(), "PORTKEY_KIT_TEST");
        let envs: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
            .collect();
        assert!(envs.contains(&"PORTKEY_KIT_TEST_CONFIG_FILE".to_owned()));
        assert!(envs.contains(&"PORTKEY_KIT_TEST_SCRAPE_DEFAULT_TIMEOUT".to_owned()));
    }

    #[test]
    fn flags_parse_and_bad_values_are_refused() {
        let cli: Cli = try_parse_from(
            "PORTKEY_KIT_TEST_UNSET",
            ["x", "--scrape.timeout-offset", "1s"],
        )
        .unwrap();
        assert_eq!(cli.scrape.timeout_offset, Duration::from_secs(1));
        assert_eq!(cli.scrape.policy().default, Duration::from_secs(30));
        let e = try_parse_from::<Cli, _, _>(
            "PORTKEY_KIT_TEST_UNSET",
            ["x", "--scrape.max-timeout", "soon"],
        )
        .unwrap_err();
        assert!(e.to_string().contains("soon"));
    }
}
