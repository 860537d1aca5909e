//! `cluster`: `pve_cluster_info` from the cluster entry of `/cluster/status`; left out on a
//! standalone node, which has no such entry.

use portkey_kit::exposition::Encoder;

use super::{FamilySpec, ScrapeInputs, ok};

const CLUSTER_INFO: FamilySpec = FamilySpec::gauge(
    "pve_cluster_info",
    "Cluster info",
    &["id", "nodes", "quorate", "version"],
);

pub(super) const FAMILIES: &[FamilySpec] = &[CLUSTER_INFO];

pub(super) fn collect(inputs: &ScrapeInputs, encoder: &mut Encoder) -> bool {
    let Some(status) = ok(&inputs.cluster_status) else {
        return false;
    };
    let Some(cluster) = status.cluster() else {
        return true;
    };
    let Some(name) = status.cluster_name() else {
        return true;
    };
    CLUSTER_INFO.start(encoder);
    CLUSTER_INFO.sample(
        encoder,
        &[
            &format!("cluster/{name}"),
            cluster.nodes.as_deref().unwrap_or_default(),
            cluster.quorate.as_deref().unwrap_or_default(),
            cluster.version.as_deref().unwrap_or_default(),
        ],
        1.0,
    );
    true
}
