//! `node`: `pve_node_info` for every node entry of `/cluster/status`; left out when there is none.

use portkey_kit::exposition::Encoder;

use super::{FamilySpec, ScrapeInputs, ok, sorted_by_id};

const NODE_INFO: FamilySpec = FamilySpec::gauge(
    "pve_node_info",
    "Node info",
    &["id", "level", "name", "nodeid"],
);

pub(super) const FAMILIES: &[FamilySpec] = &[NODE_INFO];

pub(super) fn collect(inputs: &ScrapeInputs, encoder: &mut Encoder) -> bool {
    let Some(status) = ok(&inputs.cluster_status) else {
        return false;
    };
    let nodes = sorted_by_id(
        status
            .nodes()
            .filter_map(|entry| Some((entry.node_id()?, entry)))
            .collect(),
    );
    if nodes.is_empty() {
        return true;
    }
    NODE_INFO.start(encoder);
    for (id, entry) in &nodes {
        NODE_INFO.sample(
            encoder,
            &[
                id,
                entry.level.as_deref().unwrap_or_default(),
                entry.name.as_deref().unwrap_or_default(),
                entry.nodeid.as_deref().unwrap_or_default(),
            ],
            1.0,
        );
    }
    true
}
