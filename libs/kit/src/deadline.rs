//! The scrape deadline every upstream call of one scrape shares.
//!
//! Prometheus tells an exporter how long it will wait (`X-Prometheus-Scrape-Timeout-Seconds`).
//! An exporter that lets its upstream calls run past that loses the whole scrape; one that stops
//! a little earlier can still answer with what it collected. [`DeadlinePolicy`] turns the header
//! into a [`Deadline`]; every call takes the smaller of its own timeout and the time left.

use std::future::Future;
use std::time::Duration;

use axum::http::HeaderMap;
use tokio::time::Instant;

/// Header Prometheus sends with every scrape.
pub const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// How a scrape's deadline is derived from its request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeadlinePolicy {
    /// Subtracted from the header's timeout to leave time for encoding and sending.
    pub offset: Duration,
    /// Used when the header is absent or unusable.
    pub default: Duration,
    /// Upper bound on any deadline, whatever the header says.
    pub max: Duration,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        DeadlinePolicy {
            offset: Duration::from_millis(500),
            default: Duration::from_secs(30),
            max: Duration::from_secs(120),
        }
    }
}

impl DeadlinePolicy {
    /// The budget for a request with these headers.
    ///
    /// When subtracting the offset would leave less than half of the advertised timeout (very
    /// short scrape timeouts), half of it is used instead, so the upstream still gets a chance.
    pub fn budget(&self, headers: &HeaderMap) -> Duration {
        let advertised = headers
            .get(SCRAPE_TIMEOUT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64);
        let budget = match advertised {
            Some(timeout) => timeout
                .checked_sub(self.offset)
                .filter(|left| *left >= timeout / 2)
                .unwrap_or(timeout / 2),
            None => self.default,
        };
        budget.min(self.max)
    }

    /// The deadline for a request arriving now.
    pub fn deadline(&self, headers: &HeaderMap) -> Deadline {
        Deadline::after(self.budget(headers))
    }
}

/// The instant by which a scrape must have its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

/// The deadline passed before the work finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("scrape deadline exceeded")]
pub struct DeadlineExceeded;

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + budget,
        }
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The timeout for one call: its own limit or the time left, whichever is smaller.
    pub fn call_timeout(&self, per_call: Duration) -> Duration {
        per_call.min(self.remaining())
    }

    /// Runs `work`, abandoning it at the deadline.
    pub async fn run<F: Future>(&self, work: F) -> Result<F::Output, DeadlineExceeded> {
        tokio::time::timeout_at(self.at, work)
            .await
            .map_err(|_| DeadlineExceeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(SCRAPE_TIMEOUT_HEADER, value.parse().unwrap());
        h
    }

    #[test]
    fn header_minus_offset() {
        let p = DeadlinePolicy::default();
        assert_eq!(p.budget(&headers("10")), Duration::from_millis(9500));
        assert_eq!(p.budget(&headers("0.6")), Duration::from_millis(300));
        assert_eq!(p.budget(&HeaderMap::new()), Duration::from_secs(30));
        assert_eq!(p.budget(&headers("garbage")), Duration::from_secs(30));
        assert_eq!(p.budget(&headers("-3")), Duration::from_secs(30));
        assert_eq!(p.budget(&headers("100000")), Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn run_stops_at_the_deadline() {
        let d = Deadline::after(Duration::from_secs(1));
        assert_eq!(
            d.call_timeout(Duration::from_secs(5)),
            Duration::from_secs(1)
        );
        let slow = d.run(tokio::time::sleep(Duration::from_secs(2))).await;
        assert_eq!(slow, Err(DeadlineExceeded));
        assert!(d.expired());
        assert_eq!(d.remaining(), Duration::ZERO);
    }
}
