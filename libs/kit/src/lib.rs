//! portkey-kit: what every Portkey binary shares, written once.
//!
//! Each Portkey exporter has the same shape — an upstream client, a data model, a metric mapping
//! and an HTTP handler — and the same obligations: the Prometheus exporter conventions users rely
//! on, and the failure policy that sets Portkey apart from the incumbents (partial results and
//! per-collector status instead of HTTP 500). This crate holds everything that is not specific to
//! one upstream:
//!
//! | module | why it exists |
//! |---|---|
//! | [`server`], [`web_config`] | listeners, TLS and basic auth (exporter-toolkit file, re-read live), landing page, health, graceful shutdown, `--web.max-requests` |
//! | [`exposition`], [`respond`] | text 0.0.4 and OpenMetrics 1.0 from one encoder, content negotiation, gzip |
//! | [`metrics`], [`process`] | self-metrics primitives, `<name>_build_info`, `process_*` |
//! | [`allocator`] | one glibc malloc arena, so resident memory is one scrape's peak, not one per thread |
//! | [`collector`] | per-collector success/duration gauges and `<name>_up` |
//! | [`deadline`] | the scrape deadline from `X-Prometheus-Scrape-Timeout-Seconds` shared by every call |
//! | [`client`], [`tls_client`], [`crypto`] | pooled keep-alive upstream client on rustls/ring, size limits, CA file, server name |
//! | [`target`], [`allowlist`], [`probe`] | `?target=&module=` parsing, allowlists checked before any connection |
//! | [`secret`] | credentials from flags, environment or files that never print |
//! | [`cli`], [`logging`] | the shared flags with environment variables, durations, logfmt/JSON logs |

pub mod allocator;
pub mod allowlist;
pub mod cli;
pub mod client;
pub mod collector;
pub mod crypto;
pub mod deadline;
pub mod exposition;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod process;
pub mod respond;
pub mod secret;
pub mod server;
pub mod target;
pub mod tls_client;
pub mod web_config;
