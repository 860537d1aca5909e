//! `replication`: storage replication jobs of the local node, from `/nodes/<local>/replication`.
//! The list carries everything the incumbent read from one status call per job.

use portkey_kit::exposition::Encoder;

use super::{FamilySpec, ScrapeInputs, ok, sorted_by_id};
use crate::model::ReplicationJob;

const ID: &[&str] = &["id"];

const DURATION: FamilySpec = FamilySpec::gauge(
    "pve_replication_duration_seconds",
    "Proxmox vm replication duration",
    ID,
);
const LAST_SYNC: FamilySpec = FamilySpec::gauge(
    "pve_replication_last_sync_timestamp_seconds",
    "Proxmox vm replication last_sync",
    ID,
);
const LAST_TRY: FamilySpec = FamilySpec::gauge(
    "pve_replication_last_try_timestamp_seconds",
    "Proxmox vm replication last_try",
    ID,
);
const NEXT_SYNC: FamilySpec = FamilySpec::gauge(
    "pve_replication_next_sync_timestamp_seconds",
    "Proxmox vm replication next_sync",
    ID,
);
const FAILED_SYNCS: FamilySpec = FamilySpec::gauge(
    "pve_replication_failed_syncs",
    "Proxmox vm replication fail_count",
    ID,
);
const REPLICATION_INFO: FamilySpec = FamilySpec::gauge(
    "pve_replication_info",
    "Proxmox vm replication info",
    &["guest", "id", "source", "target", "type"],
);

pub(super) const FAMILIES: &[FamilySpec] = &[
    DURATION,
    LAST_SYNC,
    LAST_TRY,
    NEXT_SYNC,
    FAILED_SYNCS,
    REPLICATION_INFO,
];

type NumericField = fn(&ReplicationJob) -> Option<f64>;
const NUMERIC: [(FamilySpec, NumericField); 5] = [
    (DURATION, |job| job.duration),
    (LAST_SYNC, |job| job.last_sync),
    (LAST_TRY, |job| job.last_try),
    (NEXT_SYNC, |job| job.next_sync),
    (FAILED_SYNCS, |job| job.fail_count),
];

pub(super) fn collect(inputs: &ScrapeInputs, encoder: &mut Encoder) -> bool {
    let (Some(status), Some(jobs)) = (ok(&inputs.cluster_status), ok(&inputs.replication)) else {
        return false;
    };
    // The list was fetched from /nodes/<local>; without a local node there is no such call.
    if status.local_node_name().is_none() {
        return false;
    }
    let jobs: Vec<(&str, &ReplicationJob)> = sorted_by_id(
        jobs.iter()
            .filter_map(|job| Some((job.id.as_deref()?, job)))
            .collect(),
    );

    for (family, field) in NUMERIC {
        family.start(encoder);
        for (id, job) in &jobs {
            if let Some(value) = field(job) {
                family.sample(encoder, &[id], value);
            }
        }
    }

    REPLICATION_INFO.start(encoder);
    for (id, job) in &jobs {
        let guest = match (job.vmtype.as_deref(), job.guest) {
            (Some(vmtype), Some(guest)) if !vmtype.is_empty() => format!("{vmtype}/{guest}"),
            _ => String::new(),
        };
        let node = |name: Option<&str>| match name {
            Some(name) if !name.is_empty() => format!("node/{name}"),
            _ => String::new(),
        };
        REPLICATION_INFO.sample(
            encoder,
            &[
                &guest,
                id,
                &node(job.source.as_deref()),
                &node(job.target.as_deref()),
                job.kind.as_deref().unwrap_or_default(),
            ],
            1.0,
        );
    }
    true
}
