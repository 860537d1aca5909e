//! The metric mapping: decoded API data → the incumbent's metric families.
//!
//! One file per collector (`status`, `resources`, `node`, `cluster`, `version`, `backup_info`,
//! `qdevice`, `subscription`, `config`, `replication`); each owns its [`FamilySpec`]s and writes
//! them. [`render`] runs the selected collectors in the order their families are printed and
//! reports which succeeded.
//!
//! Rules every collector follows (spec §2.2):
//!
//! - a collector whose inputs failed prints none of its families and reports failure; a
//!   successful one prints all its families, with HELP and TYPE even when they have no samples,
//!   except `pve_node_info`, `pve_cluster_info` and `pve_qdevice_*`, which are left out when empty;
//! - samples are sorted by `id` (byte order), then by the family's fixed state order; a repeated
//!   `id` keeps its first entry, so no series is ever printed twice;
//! - labels are printed sorted by name.

mod backup_info;
mod cluster;
mod config;
mod inputs;
mod node;
mod qdevice;
mod replication;
mod resources;
mod selection;
mod status;
mod subscription;
mod version;

use portkey_kit::exposition::{Encoder, Kind};

pub use inputs::{CallFailure, Input, ScrapeInputs};
pub use selection::{Collector, CollectorSet, Endpoint, Scope, Selection};
pub use subscription::next_due_timestamp;

use inputs::ok;

/// A metric family this exporter prints: name, HELP (byte-exact), type and label names in print
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilySpec {
    /// Family name; for counters the `_total` sample name.
    pub name: &'static str,
    /// HELP text, exactly as printed.
    pub help: &'static str,
    /// Metric type.
    pub kind: Kind,
    /// Label names, sorted.
    pub labels: &'static [&'static str],
}

impl FamilySpec {
    const fn gauge(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Self {
        FamilySpec {
            name,
            help,
            kind: Kind::Gauge,
            labels,
        }
    }

    const fn counter(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Self {
        FamilySpec {
            name,
            help,
            kind: Kind::Counter,
            labels,
        }
    }

    /// Writes the HELP and TYPE lines; samples follow with [`FamilySpec::sample`].
    fn start(&self, encoder: &mut Encoder) {
        encoder.family(self.name, self.help, self.kind);
    }

    /// Writes one sample. `values` are this family's label values, in [`FamilySpec::labels`] order.
    fn sample(&self, encoder: &mut Encoder, values: &[&str], value: f64) {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        let mut pairs: [(&str, &str); 8] = [("", ""); 8];
        let count = values.len().min(pairs.len());
        for (pair, (name, value)) in pairs.iter_mut().zip(self.labels.iter().zip(values)) {
            *pair = (name, value);
        }
        encoder.sample(&pairs[..count], value);
    }
}

/// `pve_scrape_failover_target`: which node answered the cluster collectors when the requested
/// target could not be reached (spec §3 R11).
pub const FAILOVER_TARGET: FamilySpec = FamilySpec::gauge(
    "pve_scrape_failover_target",
    "The target that answered the cluster collectors of this scrape because the requested target could not be reached (value 1).",
    &["target"],
);

/// Every family the collectors can print, in print order (the Portkey scrape families written by
/// the kit, and [`FAILOVER_TARGET`], are not included).
pub fn families() -> impl Iterator<Item = &'static FamilySpec> {
    Collector::ALL
        .into_iter()
        .flat_map(|collector| collector.families().iter())
}

/// Writes every selected collector's families and returns, per selected collector in print order,
/// whether it succeeded: false when any call it needs failed, was not made, or (for the per-guest
/// config calls) failed for a reason other than the guest having left the node.
pub fn render(
    inputs: &ScrapeInputs,
    selection: &Selection,
    encoder: &mut Encoder,
) -> Vec<(Collector, bool)> {
    selection
        .selected()
        .map(|collector| {
            let success = match collector {
                Collector::Status => status::collect(inputs, encoder),
                Collector::Resources => resources::collect(inputs, encoder),
                Collector::Node => node::collect(inputs, encoder),
                Collector::Cluster => cluster::collect(inputs, encoder),
                Collector::Version => version::collect(inputs, encoder),
                Collector::BackupInfo => {
                    backup_info::collect(inputs, selection.compat_not_backed_up_total, encoder)
                }
                Collector::Qdevice => qdevice::collect(inputs, encoder),
                Collector::Subscription => subscription::collect(inputs, encoder),
                Collector::Config => config::collect(inputs, encoder),
                Collector::Replication => replication::collect(inputs, encoder),
            };
            (collector, success)
        })
        .collect()
}

/// Writes `pve_scrape_failover_target{target="<used>"} 1` for a scrape whose cluster collectors
/// were answered by `used_target` instead of the requested target.
pub fn encode_failover_target(encoder: &mut Encoder, used_target: &str) {
    FAILOVER_TARGET.start(encoder);
    FAILOVER_TARGET.sample(encoder, &[used_target], 1.0);
}

/// Sorts `(id, item)` pairs by id (byte order, stable) and keeps the first of each id.
fn sorted_by_id<K: AsRef<str>, T>(mut items: Vec<(K, T)>) -> Vec<(K, T)> {
    items.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    items.dedup_by(|later, earlier| later.0.as_ref() == earlier.0.as_ref());
    items
}

/// `1.0` for true, `0.0` for false.
fn flag(value: bool) -> f64 {
    if value { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests;
