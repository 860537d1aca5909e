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
//! - [`filter`]: dynamic `filters` — the filter column is walked first, the target columns are
//!   then fetched (GETs instead of walks) and rendered only for the selected rows.
//! - [`handler`]: `/snmp` request validation and the scrape; [`app`], [`cli`],
//!   [`self_metrics`]: wiring, flags, `/config`, reloads and `/metrics`.
//!
//! SNMPv3 specifics:
//!
//! - `snmp_context` (or an auth's `context_name`) is sent as the v3 contextName.
//! - `snmp_engineid` is sent as the v3 contextEngineID (e.g. to reach an engine behind a proxy
//!   agent, RFC 3413 §7); without it the agent's own engine ID is sent. The security side stays
//!   the agent's: its discovered engine ID, boots/time and the keys localized to it. async-snmp
//!   0.18.1's client always sends the authoritative engine ID there, so these requests are built
//!   in [`snmp`] from the library's public v3 building blocks (scoped PDU, USM parameters, key
//!   localization, privacy, HMAC signing and verification) and sent on the session's socket;
//!   responses must name the requested context engine and name. A Report in answer (e.g.
//!   snmpUnknownPDUHandlers) fails the subtree as `io`, naming the Report in the log; a dropped
//!   request is a `timeout`. net-snmp (without a proxy) ignores the contextEngineID and answers
//!   any from its own MIB. For v1/v2c-only requests the parameter is ignored, as upstream does.
//! - A wrong auth password or auth protocol, or an unknown user, is reported by the agent with an
//!   unauthenticated Report (usmStatsWrongDigests, usmStatsUnknownUserNames); the request ends
//!   at once, classified `auth`, and the log names the counter. net-snmp stays silent on a wrong
//!   priv password and on an unknown context name, so those remain timeouts.
//! - Engine ID, boots and time are cached per target. A restarted agent (same engine ID, new
//!   boots) is re-synchronised from its authenticated notInTimeWindow Report within the request;
//!   after a timeout the next attempt re-discovers the engine first (once per scrape), so an
//!   agent that came back with a new engine ID is picked up by the retry.
pub mod app;
pub mod cli;
pub mod client;
pub mod collect;
pub mod config;
pub mod filter;
pub mod handler;
pub mod oid;
pub mod render;
pub mod self_metrics;
pub mod snmp;
pub mod strptime;
pub mod text;
