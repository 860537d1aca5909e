//! `config`: `pve_onboot_status` for every guest on the local node, from one config call per guest.
//!
//! A guest that left the node between the list and its config call (404, or 500
//! `Configuration file '…' does not exist`) is dropped silently. Any other per-guest failure drops
//! the guest and fails the collector, but the other guests are still printed.

use portkey_kit::exposition::Encoder;

use super::{FamilySpec, ScrapeInputs, ok};

const ONBOOT_STATUS: FamilySpec = FamilySpec::gauge(
    "pve_onboot_status",
    "Proxmox vm config onboot value",
    &["id", "node", "type"],
);

pub(super) const FAMILIES: &[FamilySpec] = &[ONBOOT_STATUS];

pub(super) fn collect(inputs: &ScrapeInputs, encoder: &mut Encoder) -> bool {
    let Some(status) = ok(&inputs.cluster_status) else {
        return false;
    };
    let Some(node) = status.local_node_name() else {
        return false;
    };
    if ok(&inputs.qemu).is_none() || ok(&inputs.lxc).is_none() {
        return false;
    }

    let mut success = true;
    let mut samples: Vec<(String, &'static str, f64)> = Vec::new();
    for guest in inputs.guests_to_configure() {
        match inputs.guest_configs.get(&guest) {
            // PVE leaves `onboot` out when it is unset, which means 0.
            Some(Ok(config)) => samples.push((
                guest.id(),
                guest.kind.as_str(),
                config.onboot.unwrap_or(0.0),
            )),
            Some(Err(failure)) if failure.is_guest_gone() => {}
            Some(Err(_)) | None => success = false,
        }
    }
    samples.sort_by(|a, b| a.0.cmp(&b.0));

    ONBOOT_STATUS.start(encoder);
    for (id, kind, value) in &samples {
        ONBOOT_STATUS.sample(encoder, &[id, node, kind], *value);
    }
    success
}
