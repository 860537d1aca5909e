//! `backup-info`: guests that no backup job covers, from `/cluster/backup-info/not-backed-up`.
//! The cluster-level `id` comes from `/cluster/status`: `cluster/<cluster name>`, or
//! `cluster/<node name>` on a standalone node.

use portkey_kit::exposition::Encoder;

use super::{FamilySpec, ScrapeInputs, ok, sorted_by_id};

const ID: &[&str] = &["id"];

/// Kept for compatibility: a gauge with a counter's name, used by common alert rules.
const NOT_BACKED_UP_TOTAL: FamilySpec = FamilySpec::gauge(
    "pve_not_backed_up_total",
    "Total number of guests not covered by any backup job.",
    ID,
);
const NOT_BACKED_UP_GUESTS: FamilySpec = FamilySpec::gauge(
    "pve_not_backed_up_guests",
    "Number of guests not covered by any backup job.",
    ID,
);
const NOT_BACKED_UP_INFO: FamilySpec = FamilySpec::gauge(
    "pve_not_backed_up_info",
    "Present if guest is not covered by any backup job.",
    ID,
);

pub(super) const FAMILIES: &[FamilySpec] = &[
    NOT_BACKED_UP_TOTAL,
    NOT_BACKED_UP_GUESTS,
    NOT_BACKED_UP_INFO,
];

pub(super) fn collect(inputs: &ScrapeInputs, compat_total: bool, encoder: &mut Encoder) -> bool {
    let (Some(status), Some(guests)) = (ok(&inputs.cluster_status), ok(&inputs.not_backed_up))
    else {
        return false;
    };
    let Some(scope_name) = status.cluster_name().or_else(|| status.local_node_name()) else {
        return false;
    };
    let scope_id = format!("cluster/{scope_name}");
    let count = guests.len() as f64;

    if compat_total {
        NOT_BACKED_UP_TOTAL.start(encoder);
        NOT_BACKED_UP_TOTAL.sample(encoder, &[&scope_id], count);
    }
    NOT_BACKED_UP_GUESTS.start(encoder);
    NOT_BACKED_UP_GUESTS.sample(encoder, &[&scope_id], count);

    NOT_BACKED_UP_INFO.start(encoder);
    let ids = sorted_by_id(
        guests
            .iter()
            .filter_map(|guest| Some((guest.id()?, ())))
            .collect(),
    );
    for (id, ()) in &ids {
        NOT_BACKED_UP_INFO.sample(encoder, &[id], 1.0);
    }
    true
}
