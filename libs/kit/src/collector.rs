//! Per-scrape collector outcomes: the `<prefix>_scrape_collector_success`/`_duration_seconds`
//! gauges and the `<prefix>_up` gauge of the failure policy.
//!
//! Incumbents answered HTTP 500 when any upstream call failed. Portkey answers with what it could
//! collect and says, per collector, what worked; dashboards and alerts key on these series.

use std::time::Duration;

use crate::exposition::{Encoder, Kind};

/// HELP of `<prefix>_scrape_collector_success`.
pub const SUCCESS_HELP: &str = "Whether a collector succeeded (1) or failed (0) in this scrape.";
/// HELP of `<prefix>_scrape_collector_duration_seconds`.
pub const DURATION_HELP: &str = "Wall time a collector spent in this scrape, in seconds.";

/// What happened to one collector in one scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectorOutcome {
    /// The collector's name (its flag name).
    pub name: &'static str,
    /// Whether every call it needed succeeded.
    pub success: bool,
    /// Wall time from its first call to the end of its work.
    pub duration: Duration,
}

/// The outcomes of all selected collectors of one scrape.
#[derive(Debug, Clone, Default)]
pub struct ScrapeReport {
    outcomes: Vec<CollectorOutcome>,
}

impl ScrapeReport {
    /// An empty report.
    pub fn new() -> ScrapeReport {
        ScrapeReport::default()
    }

    /// Records a collector's outcome (a later record for the same name replaces the earlier).
    pub fn record(&mut self, name: &'static str, success: bool, duration: Duration) {
        if let Some(existing) = self.outcomes.iter_mut().find(|o| o.name == name) {
            existing.success = success;
            existing.duration = duration;
        } else {
            self.outcomes.push(CollectorOutcome {
                name,
                success,
                duration,
            });
        }
    }

    /// The recorded outcomes.
    pub fn outcomes(&self) -> &[CollectorOutcome] {
        &self.outcomes
    }

    /// Whether any collector failed.
    pub fn any_failed(&self) -> bool {
        self.outcomes.iter().any(|o| !o.success)
    }

    /// Writes `<prefix>_scrape_collector_success` and `<prefix>_scrape_collector_duration_seconds`
    /// with one series per recorded collector, sorted by name.
    pub fn encode(&self, prefix: &str, encoder: &mut Encoder) {
        let mut sorted: Vec<&CollectorOutcome> = self.outcomes.iter().collect();
        sorted.sort_by_key(|o| o.name);
        encoder.family(
            &format!("{prefix}_scrape_collector_success"),
            SUCCESS_HELP,
            Kind::Gauge,
        );
        for o in &sorted {
            encoder.sample(&[("collector", o.name)], if o.success { 1.0 } else { 0.0 });
        }
        encoder.family(
            &format!("{prefix}_scrape_collector_duration_seconds"),
            DURATION_HELP,
            Kind::Gauge,
        );
        for o in &sorted {
            encoder.sample(&[("collector", o.name)], o.duration.as_secs_f64());
        }
    }
}

/// Writes an `_up`-style gauge: 1 when the upstream answered at least one call of the scrape.
pub fn encode_up(encoder: &mut Encoder, name: &str, help: &str, up: bool) {
    encoder
        .family(name, help, Kind::Gauge)
        .sample(&[], if up { 1.0 } else { 0.0 });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::Format;

    #[tokio::test]
    async fn report_encodes_sorted_series() {
        let mut report = ScrapeReport::new();
        report.record("status", true, Duration::from_millis(20));
        report.record("config", false, Duration::from_millis(5));
        assert!(report.any_failed());
        let mut encoder = Encoder::new(Format::Text);
        report.encode("pve", &mut encoder);
        encode_up(&mut encoder, "pve_api_up", "Up.", true);
        let out = String::from_utf8(encoder.finish()).unwrap();
        assert!(out.starts_with(
            "# HELP pve_scrape_collector_success Whether a collector succeeded (1) or failed (0) in this scrape.\n# TYPE pve_scrape_collector_success gauge\npve_scrape_collector_success{collector=\"config\"} 0\npve_scrape_collector_success{collector=\"status\"} 1\n"
        ), "{out}");
        assert!(out.contains("pve_scrape_collector_duration_seconds{collector=\"status\"} 0.02\n"));
        assert!(out.ends_with("pve_api_up 1\n"));
    }
}
