//! `status`: `pve_up` for nodes and the cluster (from `/cluster/status`) and for guests and
//! storages (from `/cluster/resources`).

use std::borrow::Cow;

use portkey_kit::exposition::Encoder;

use super::{FamilySpec, ScrapeInputs, flag, ok, sorted_by_id};
use crate::model::ResourceType;

const UP: FamilySpec = FamilySpec::gauge("pve_up", "Node/VM/CT-Status is online/running", &["id"]);

pub(super) const FAMILIES: &[FamilySpec] = &[UP];

pub(super) fn collect(inputs: &ScrapeInputs, encoder: &mut Encoder) -> bool {
    let (Some(status), Some(resources)) =
        (ok(&inputs.cluster_status), ok(&inputs.cluster_resources))
    else {
        return false;
    };

    let mut samples: Vec<(Cow<'_, str>, f64)> = Vec::with_capacity(resources.len() + 8);
    for entry in &status.entries {
        if entry.is_node() {
            if let (Some(id), Some(online)) = (entry.node_id(), entry.online) {
                samples.push((Cow::Owned(id), online));
            }
        } else if entry.is_cluster() {
            // Other entry types (none today) are ignored rather than failing the scrape.
            let name = entry.name.as_deref().filter(|name| !name.is_empty());
            if let (Some(name), Some(quorate)) = (name, entry.quorate_value()) {
                samples.push((Cow::Owned(format!("cluster/{name}")), quorate));
            }
        }
    }
    for resource in resources {
        let Some(id) = resource.id.as_deref() else {
            continue;
        };
        let up = match resource.resource_type() {
            ResourceType::Qemu | ResourceType::Lxc => resource.status.as_deref() == Some("running"),
            ResourceType::Storage => resource.status.as_deref() == Some("available"),
            _ => continue,
        };
        samples.push((Cow::Borrowed(id), flag(up)));
    }

    UP.start(encoder);
    for (id, value) in sorted_by_id(samples) {
        UP.sample(encoder, &[&id], value);
    }
    true
}
