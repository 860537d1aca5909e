//! Logging set-up shared by every binary: `--log.level` and `--log.format logfmt|json`.
//!
//! logfmt is the Prometheus ecosystem's default (`ts=… level=info msg="…" key=value`), so log
//! pipelines built for the incumbents keep parsing Portkey's lines; JSON is there for Loki or
//! Elasticsearch users who want structured fields.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Minimum level of lines to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    /// Everything, including per-call details.
    Debug,
    /// Start-up, shutdown, reloads.
    Info,
    /// Failed upstream calls and other recoverable trouble.
    Warn,
    /// Only what needs an operator.
    Error,
}

impl From<LogLevel> for Level {
    fn from(level: LogLevel) -> Level {
        match level {
            LogLevel::Debug => Level::DEBUG,
            LogLevel::Info => Level::INFO,
            LogLevel::Warn => Level::WARN,
            LogLevel::Error => Level::ERROR,
        }
    }
}

/// Line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `key=value` pairs, the Prometheus exporters' default.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// The logging flags every binary takes.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Only log messages with the given severity or above.
    #[arg(
        id = "log.level",
        long = "log.level",
        value_enum,
        default_value = "info"
    )]
    pub level: LogLevel,
    /// Output format of log messages.
    #[arg(
        id = "log.format",
        long = "log.format",
        value_enum,
        default_value = "logfmt"
    )]
    pub format: LogFormat,
}

/// Installs the global subscriber writing to stderr. Calling it twice is harmless (the second
/// call keeps the first subscriber), which keeps tests that start several servers simple.
pub fn init(args: &LogArgs) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(Level::from(args.level))
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match args.format {
        LogFormat::Logfmt => builder.event_format(Logfmt).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// Formats events as logfmt.
#[derive(Debug, Clone, Copy, Default)]
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = String::with_capacity(128);
        line.push_str("ts=");
        rfc3339_millis(&mut line, SystemTime::now());
        line.push_str(" level=");
        line.push_str(&meta.level().as_str().to_ascii_lowercase());
        line.push_str(" target=");
        line.push_str(meta.target());
        let mut visitor = LogfmtFields {
            line: &mut line,
            message: None,
        };
        event.record(&mut visitor);
        let message = visitor.message.take();
        if let Some(message) = message {
            // msg goes right after the level, where people look for it.
            let insert_at = line.find(" target=").unwrap_or(line.len());
            let mut msg = String::from(" msg=");
            push_logfmt_value(&mut msg, &message);
            line.insert_str(insert_at, &msg);
        }
        writeln!(writer, "{line}")
    }
}

struct LogfmtFields<'a> {
    line: &'a mut String,
    message: Option<String>,
}

impl Visit for LogfmtFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
            return;
        }
        self.line.push(' ');
        self.line.push_str(field.name());
        self.line.push('=');
        push_logfmt_value(self.line, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Appends `value`, quoted and escaped when it contains spaces, quotes, `=` or control bytes.
pub fn push_logfmt_value(out: &mut String, value: &str) {
    let needs_quotes = value.is_empty()
        || value
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c == '\\' || c.is_control());
    if !needs_quotes {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `time` as `2006-01-02T15:04:05.000Z`.
pub fn rfc3339_millis(out: &mut String, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    );
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's civil algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn values_are_quoted_only_when_needed() {
        let mut out = String::new();
        push_logfmt_value(&mut out, "plain");
        out.push(' ');
        push_logfmt_value(&mut out, "two words \"q\"\n");
        out.push(' ');
        push_logfmt_value(&mut out, "");
        assert_eq!(out, "plain \"two words \\\"q\\\"\\n\" \"\"");
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        let mut out = String::new();
        rfc3339_millis(
            &mut out,
            UNIX_EPOCH + Duration::from_millis(1_795_045_445_123),
        );
        assert_eq!(out, "2026-11-18T23:44:05.123Z");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
