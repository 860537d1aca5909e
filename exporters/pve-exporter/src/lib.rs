//! pve-exporter: Proxmox VE state as Prometheus metrics, a drop-in for prometheus-pve-exporter.
//!
//! One `/pve?target=…` request is one scrape of one PVE API. The library is split the way every
//! Portkey exporter is split, so that each concern can be read and tested on its own:
//!
//! - [`config`]: the incumbent's `pve.yml` (module name → credentials and connection settings) plus
//!   Portkey's additions, and the `PVE_*` environment mode. Everything is validated at load time so
//!   that a bad config stops the process at start-up instead of failing scrapes.
//! - [`model`]: typed, lenient decoders for every API endpoint the exporter reads. Upstream data is
//!   survived, not trusted: a field with the wrong JSON type is treated as absent, numbers sent as
//!   strings are accepted, invalid UTF-8 is replaced, unknown fields and resource types are kept
//!   out of the way.
//! - [`collectors`]: the metric mapping. Given the decoded (or failed) results of one scrape's API
//!   calls, it writes the incumbent's metric families in the incumbent's order, with
//!   deterministic sample order, and reports which collectors succeeded.
//!
//! - [`api`]: the client. One pooled keep-alive connection set per module, API tokens or cached
//!   and single-flight password tickets, and per scrape a [`api::Session`] that bounds in-flight
//!   calls and carries the scrape deadline.
//! - [`scrape`]: which calls one scrape makes and in what order (each input once; node calls as
//!   soon as the local node is known), filling [`collectors::ScrapeInputs`].
//! - [`handler`]: `/pve` request validation (module, target, allowlist before any connection),
//!   cluster failover, rendering and the per-collector report.
//! - [`self_metrics`], [`cli`], [`app`]: `/metrics`, the incumbent's flags plus Portkey's, and
//!   the wiring `main.rs` uses.

pub mod api;
pub mod app;
pub mod cli;
pub mod collectors;
pub mod config;
pub mod handler;
pub mod model;
pub mod scrape;
pub mod self_metrics;
