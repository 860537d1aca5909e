//! `resources`: the families built from the one unfiltered `/cluster/resources` call.
//!
//! Rows 2–17 are generic: every entry of any type (node, storage, guest, pool, sdn, network, and
//! types PVE adds later) that has the numeric key gets a sample. HA and lock states print one
//! series per state for every guest (and, for HA, every node), 1 for the current state.

use portkey_kit::exposition::Encoder;

use super::{FamilySpec, ScrapeInputs, flag, ok, sorted_by_id};
use crate::model::{Resource, ResourceType};

const ID: &[&str] = &["id"];
const ID_STATE: &[&str] = &["id", "state"];

const DISK_SIZE: FamilySpec = FamilySpec::gauge(
    "pve_disk_size_bytes",
    "Storage size in bytes (for type 'storage'), root image size for VMs (for types 'qemu' and 'lxc').",
    ID,
);
const DISK_USAGE: FamilySpec = FamilySpec::gauge(
    "pve_disk_usage_bytes",
    "Used disk space in bytes (for type 'storage'), used root image space for VMs (for types 'qemu' and 'lxc').",
    ID,
);
const MEMORY_SIZE: FamilySpec = FamilySpec::gauge(
    "pve_memory_size_bytes",
    "Number of available memory in bytes (for types 'node', 'qemu' and 'lxc').",
    ID,
);
const MEMORY_USAGE: FamilySpec = FamilySpec::gauge(
    "pve_memory_usage_bytes",
    "Used memory in bytes (for types 'node', 'qemu' and 'lxc').",
    ID,
);
const NETWORK_TRANSMIT_DEPRECATED: FamilySpec = FamilySpec::gauge(
    "pve_network_transmit_bytes",
    "The amount of traffic in bytes that was sent from the guest over the network since it was started. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_network_transmit_bytes_total instead.",
    ID,
);
const NETWORK_RECEIVE_DEPRECATED: FamilySpec = FamilySpec::gauge(
    "pve_network_receive_bytes",
    "The amount of traffic in bytes that was sent to the guest over the network since it was started. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_network_receive_bytes_total instead.",
    ID,
);
const DISK_WRITE_DEPRECATED: FamilySpec = FamilySpec::gauge(
    "pve_disk_write_bytes",
    "The amount of bytes the guest wrote to its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_disk_written_bytes_total instead.",
    ID,
);
const DISK_READ_DEPRECATED: FamilySpec = FamilySpec::gauge(
    "pve_disk_read_bytes",
    "The amount of bytes the guest read from its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_disk_read_bytes_total instead.",
    ID,
);
const CPU_USAGE: FamilySpec = FamilySpec::gauge(
    "pve_cpu_usage_ratio",
    "CPU utilization (for types 'node', 'qemu' and 'lxc').",
    ID,
);
const CPU_LIMIT: FamilySpec = FamilySpec::gauge(
    "pve_cpu_usage_limit",
    "Number of available CPUs (for types 'node', 'qemu' and 'lxc').",
    ID,
);
const UPTIME: FamilySpec = FamilySpec::gauge(
    "pve_uptime_seconds",
    "Uptime of node or virtual guest in seconds (for types 'node', 'qemu' and 'lxc').",
    ID,
);
const STORAGE_SHARED: FamilySpec = FamilySpec::gauge(
    "pve_storage_shared",
    "Whether or not the storage is shared among cluster nodes",
    ID,
);
const NETWORK_TRANSMIT: FamilySpec = FamilySpec::counter(
    "pve_network_transmit_bytes_total",
    "The amount of traffic in bytes that was sent from the guest over the network since it was started. (for types 'qemu' and 'lxc')",
    ID,
);
const NETWORK_RECEIVE: FamilySpec = FamilySpec::counter(
    "pve_network_receive_bytes_total",
    "The amount of traffic in bytes that was sent to the guest over the network since it was started. (for types 'qemu' and 'lxc')",
    ID,
);
const DISK_WRITTEN: FamilySpec = FamilySpec::counter(
    "pve_disk_written_bytes_total",
    "The amount of bytes the guest wrote to its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc')",
    ID,
);
const DISK_READ: FamilySpec = FamilySpec::counter(
    "pve_disk_read_bytes_total",
    "The amount of bytes the guest read from its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc')",
    ID,
);
const HA_STATE: FamilySpec = FamilySpec::gauge(
    "pve_ha_state",
    "HA service status (for HA managed VMs).",
    ID_STATE,
);
const LOCK_STATE: FamilySpec = FamilySpec::gauge(
    "pve_lock_state",
    "The guest's current config lock (for types 'qemu' and 'lxc')",
    ID_STATE,
);
const GUEST_INFO: FamilySpec = FamilySpec::gauge(
    "pve_guest_info",
    "VM/CT info",
    &["id", "name", "node", "tags", "template", "type"],
);
const STORAGE_INFO: FamilySpec = FamilySpec::gauge(
    "pve_storage_info",
    "Storage info",
    &["content", "id", "node", "plugintype", "storage"],
);

pub(super) const FAMILIES: &[FamilySpec] = &[
    DISK_SIZE,
    DISK_USAGE,
    MEMORY_SIZE,
    MEMORY_USAGE,
    NETWORK_TRANSMIT_DEPRECATED,
    NETWORK_RECEIVE_DEPRECATED,
    DISK_WRITE_DEPRECATED,
    DISK_READ_DEPRECATED,
    CPU_USAGE,
    CPU_LIMIT,
    UPTIME,
    STORAGE_SHARED,
    NETWORK_TRANSMIT,
    NETWORK_RECEIVE,
    DISK_WRITTEN,
    DISK_READ,
    HA_STATE,
    LOCK_STATE,
    GUEST_INFO,
    STORAGE_INFO,
];

/// Rows 2–17: the family and the field it prints.
type NumericField = fn(&Resource) -> Option<f64>;
const NUMERIC: [(FamilySpec, NumericField); 16] = [
    (DISK_SIZE, |r| r.maxdisk),
    (DISK_USAGE, |r| r.disk),
    (MEMORY_SIZE, |r| r.maxmem),
    (MEMORY_USAGE, |r| r.mem),
    (NETWORK_TRANSMIT_DEPRECATED, |r| r.netout),
    (NETWORK_RECEIVE_DEPRECATED, |r| r.netin),
    (DISK_WRITE_DEPRECATED, |r| r.diskwrite),
    (DISK_READ_DEPRECATED, |r| r.diskread),
    (CPU_USAGE, |r| r.cpu),
    (CPU_LIMIT, |r| r.maxcpu),
    (UPTIME, |r| r.uptime),
    (STORAGE_SHARED, |r| r.shared),
    (NETWORK_TRANSMIT, |r| r.netout),
    (NETWORK_RECEIVE, |r| r.netin),
    (DISK_WRITTEN, |r| r.diskwrite),
    (DISK_READ, |r| r.diskread),
];

/// HA states of a guest, in print order.
const GUEST_HA_STATES: [&str; 11] = [
    "stopped",
    "request_stop",
    "request_start",
    "request_start_balance",
    "started",
    "fence",
    "recovery",
    "migrate",
    "relocate",
    "freeze",
    "error",
];

/// HA states of a node, in print order.
const NODE_HA_STATES: [&str; 5] = ["online", "maintenance", "unknown", "fence", "gone"];

/// Config locks, in print order; other locks print all zeros.
const LOCK_STATES: [&str; 9] = [
    "backup",
    "clone",
    "create",
    "migrate",
    "rollback",
    "snapshot",
    "snapshot-delete",
    "suspended",
    "suspending",
];

pub(super) fn collect(inputs: &ScrapeInputs, encoder: &mut Encoder) -> bool {
    let Some(resources) = ok(&inputs.cluster_resources) else {
        return false;
    };
    // Sorted once by id; a repeated id keeps its first entry.
    let entries: Vec<(&str, &Resource)> = sorted_by_id(
        resources
            .iter()
            .filter_map(|resource| Some((resource.id.as_deref()?, resource)))
            .collect(),
    );

    for (family, field) in NUMERIC {
        family.start(encoder);
        for (id, resource) in &entries {
            if let Some(value) = field(resource) {
                family.sample(encoder, &[id], value);
            }
        }
    }

    HA_STATE.start(encoder);
    for (id, resource) in &entries {
        let states: &[&str] = match resource.resource_type() {
            ResourceType::Qemu | ResourceType::Lxc => &GUEST_HA_STATES,
            ResourceType::Node => &NODE_HA_STATES,
            _ => continue,
        };
        let current = resource.hastate.as_deref();
        for state in states {
            HA_STATE.sample(encoder, &[id, state], flag(current == Some(*state)));
        }
    }

    LOCK_STATE.start(encoder);
    for (id, resource) in entries.iter().filter(|(_, r)| r.is_guest()) {
        let current = resource.lock.as_deref();
        for state in LOCK_STATES {
            LOCK_STATE.sample(encoder, &[id, state], flag(current == Some(state)));
        }
    }

    GUEST_INFO.start(encoder);
    for (id, resource) in entries.iter().filter(|(_, r)| r.is_guest()) {
        GUEST_INFO.sample(
            encoder,
            &[
                id,
                resource.name.as_deref().unwrap_or_default(),
                resource.node.as_deref().unwrap_or_default(),
                resource.tags.as_deref().unwrap_or_default(),
                resource.template.as_deref().unwrap_or_default(),
                resource.kind.as_deref().unwrap_or_default(),
            ],
            1.0,
        );
    }

    STORAGE_INFO.start(encoder);
    let mut content_parts: Vec<&str> = Vec::new();
    for (id, resource) in &entries {
        if resource.resource_type() != ResourceType::Storage {
            continue;
        }
        content_parts.clear();
        content_parts.extend(resource.content.as_deref().unwrap_or_default().split(','));
        content_parts.sort_unstable();
        let content = content_parts.join(",");
        STORAGE_INFO.sample(
            encoder,
            &[
                &content,
                id,
                resource.node.as_deref().unwrap_or_default(),
                resource.plugintype.as_deref().unwrap_or_default(),
                resource.storage.as_deref().unwrap_or_default(),
            ],
            1.0,
        );
    }
    true
}
