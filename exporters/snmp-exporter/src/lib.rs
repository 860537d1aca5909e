//! snmp-exporter: a drop-in replacement for the Prometheus SNMP exporter (prometheus/snmp_exporter).
//!
//! It reads upstream's `snmp.yml` in both formats and answers `GET /snmp?target=&module=&auth=`
//! with upstream's output, label for label; where upstream fails a whole scrape with HTTP 500,
//! Portkey answers with what it could collect plus per-subtree success metrics and `snmp_up`.
//!
//! Layout (the same shape as every Portkey exporter: client, model, metric mapping, handler):
//!
//! - [`config`]: `snmp.yml` (flat ≤0.22 and split ≥0.23 formats), strict parsing, validation with
//!   errors naming file, module and key, the embedded default, and YAML output for `/config`.
//! - [`oid`]: numeric OIDs, independent of the SNMP library.
//! - [`client`]: the small trait the walk engine talks to (one request, one response);
//!   [`snmp`] implements it over async-snmp, the only module that knows the library.
//! - [`collect`]: one scrape's work list (GET batches, walks), retries, the deadline, bounded
//!   parallelism, the per-target limit and PDU accounting.
//! - [`render`]: PDUs → samples (indexes, lookups, types), [`text`]: client_golang's text format
//!   with Go float formatting, [`strptime`]: dates for `ParseDateAndTime`.
//! - [`handler`]: `/snmp` request validation and the scrape; [`app`], [`cli`],
//!   [`self_metrics`]: wiring, flags, `/config`, reloads and `/metrics`.
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
