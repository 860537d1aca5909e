//! snmp-exporter: a drop-in replacement for the Prometheus SNMP exporter (prometheus/snmp_exporter).
//!
//! It reads upstream's `snmp.yml` in both formats and answers `GET /snmp?target=&module=&auth=`
//! with upstream's output, label for label; where upstream fails a whole scrape with HTTP 500,
//! Portkey answers with what it could collect plus per-subtree success metrics.
//!
//! - [`config`]: `snmp.yml` (flat ≤0.22 and split ≥0.23 formats), validation, the embedded default.
//! - [`oid`]: numeric OIDs, independent of the SNMP library.
pub mod app;
pub mod cli;
pub mod client;
pub mod collect;
pub mod config;
pub mod handler;
pub mod oid;
pub mod render;
pub mod self_metrics;
pub mod snmp;
pub mod strptime;
pub mod text;
