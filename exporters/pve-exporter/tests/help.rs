//! Every family's name, type, HELP text and label names, byte for byte as the spec's metric table
//! (§2.3 rows 1–38b) gives them — the incumbent's exact strings, without an appended period.

mod common;

use portkey_kit::exposition::Kind;
use pve_exporter::collectors::{self, FAILOVER_TARGET};

/// (name, type, HELP, labels) in print order.
const SPEC: &[(&str, Kind, &str, &[&str])] = &[
    (
        "pve_up",
        Kind::Gauge,
        "Node/VM/CT-Status is online/running",
        &["id"],
    ),
    (
        "pve_disk_size_bytes",
        Kind::Gauge,
        "Storage size in bytes (for type 'storage'), root image size for VMs (for types 'qemu' and 'lxc').",
        &["id"],
    ),
    (
        "pve_disk_usage_bytes",
        Kind::Gauge,
        "Used disk space in bytes (for type 'storage'), used root image space for VMs (for types 'qemu' and 'lxc').",
        &["id"],
    ),
    (
        "pve_memory_size_bytes",
        Kind::Gauge,
        "Number of available memory in bytes (for types 'node', 'qemu' and 'lxc').",
        &["id"],
    ),
    (
        "pve_memory_usage_bytes",
        Kind::Gauge,
        "Used memory in bytes (for types 'node', 'qemu' and 'lxc').",
        &["id"],
    ),
    (
        "pve_network_transmit_bytes",
        Kind::Gauge,
        "The amount of traffic in bytes that was sent from the guest over the network since it was started. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_network_transmit_bytes_total instead.",
        &["id"],
    ),
    (
        "pve_network_receive_bytes",
        Kind::Gauge,
        "The amount of traffic in bytes that was sent to the guest over the network since it was started. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_network_receive_bytes_total instead.",
        &["id"],
    ),
    (
        "pve_disk_write_bytes",
        Kind::Gauge,
        "The amount of bytes the guest wrote to its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_disk_written_bytes_total instead.",
        &["id"],
    ),
    (
        "pve_disk_read_bytes",
        Kind::Gauge,
        "The amount of bytes the guest read from its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_disk_read_bytes_total instead.",
        &["id"],
    ),
    (
        "pve_cpu_usage_ratio",
        Kind::Gauge,
        "CPU utilization (for types 'node', 'qemu' and 'lxc').",
        &["id"],
    ),
    (
        "pve_cpu_usage_limit",
        Kind::Gauge,
        "Number of available CPUs (for types 'node', 'qemu' and 'lxc').",
        &["id"],
    ),
    (
        "pve_uptime_seconds",
        Kind::Gauge,
        "Uptime of node or virtual guest in seconds (for types 'node', 'qemu' and 'lxc').",
        &["id"],
    ),
    (
        "pve_storage_shared",
        Kind::Gauge,
        "Whether or not the storage is shared among cluster nodes",
        &["id"],
    ),
    (
        "pve_network_transmit_bytes_total",
        Kind::Counter,
        "The amount of traffic in bytes that was sent from the guest over the network since it was started. (for types 'qemu' and 'lxc')",
        &["id"],
    ),
    (
        "pve_network_receive_bytes_total",
        Kind::Counter,
        "The amount of traffic in bytes that was sent to the guest over the network since it was started. (for types 'qemu' and 'lxc')",
        &["id"],
    ),
    (
        "pve_disk_written_bytes_total",
        Kind::Counter,
        "The amount of bytes the guest wrote to its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc')",
        &["id"],
    ),
    (
        "pve_disk_read_bytes_total",
        Kind::Counter,
        "The amount of bytes the guest read from its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc')",
        &["id"],
    ),
    (
        "pve_ha_state",
        Kind::Gauge,
        "HA service status (for HA managed VMs).",
        &["id", "state"],
    ),
    (
        "pve_lock_state",
        Kind::Gauge,
        "The guest's current config lock (for types 'qemu' and 'lxc')",
        &["id", "state"],
    ),
    (
        "pve_guest_info",
        Kind::Gauge,
        "VM/CT info",
        &["id", "name", "node", "tags", "template", "type"],
    ),
    (
        "pve_storage_info",
        Kind::Gauge,
        "Storage info",
        &["content", "id", "node", "plugintype", "storage"],
    ),
    (
        "pve_node_info",
        Kind::Gauge,
        "Node info",
        &["id", "level", "name", "nodeid"],
    ),
    (
        "pve_cluster_info",
        Kind::Gauge,
        "Cluster info",
        &["id", "nodes", "quorate", "version"],
    ),
    (
        "pve_version_info",
        Kind::Gauge,
        "Proxmox VE version info",
        &["release", "repoid", "version"],
    ),
    (
        "pve_not_backed_up_total",
        Kind::Gauge,
        "Total number of guests not covered by any backup job.",
        &["id"],
    ),
    (
        "pve_not_backed_up_guests",
        Kind::Gauge,
        "Number of guests not covered by any backup job.",
        &["id"],
    ),
    (
        "pve_not_backed_up_info",
        Kind::Gauge,
        "Present if guest is not covered by any backup job.",
        &["id"],
    ),
    (
        "pve_qdevice_up",
        Kind::Gauge,
        "Proxmox VE QDevice is connected (1) or not (0)",
        &["id"],
    ),
    (
        "pve_qdevice_info",
        Kind::Gauge,
        "Proxmox VE QDevice info (1 if configured)",
        &[
            "algorithm",
            "id",
            "model",
            "qnetd_host",
            "state",
            "tie_breaker",
        ],
    ),
    (
        "pve_subscription_info",
        Kind::Gauge,
        "Proxmox VE subscription info (1 if present)",
        &["id", "level"],
    ),
    (
        "pve_subscription_status",
        Kind::Gauge,
        "Proxmox VE subscription status (1 if matches status)",
        &["id", "status"],
    ),
    (
        "pve_subscription_next_due_timestamp_seconds",
        Kind::Gauge,
        "Subscription next due date as Unix timestamp",
        &["id"],
    ),
    (
        "pve_onboot_status",
        Kind::Gauge,
        "Proxmox vm config onboot value",
        &["id", "node", "type"],
    ),
    (
        "pve_replication_duration_seconds",
        Kind::Gauge,
        "Proxmox vm replication duration",
        &["id"],
    ),
    (
        "pve_replication_last_sync_timestamp_seconds",
        Kind::Gauge,
        "Proxmox vm replication last_sync",
        &["id"],
    ),
    (
        "pve_replication_last_try_timestamp_seconds",
        Kind::Gauge,
        "Proxmox vm replication last_try",
        &["id"],
    ),
    (
        "pve_replication_next_sync_timestamp_seconds",
        Kind::Gauge,
        "Proxmox vm replication next_sync",
        &["id"],
    ),
    (
        "pve_replication_failed_syncs",
        Kind::Gauge,
        "Proxmox vm replication fail_count",
        &["id"],
    ),
    (
        "pve_replication_info",
        Kind::Gauge,
        "Proxmox vm replication info",
        &["guest", "id", "source", "target", "type"],
    ),
];

#[test]
fn family_specs_match_the_spec_table() {
    let specs: Vec<_> = collectors::families()
        .map(|f| (f.name, f.kind, f.help, f.labels))
        .collect();
    assert_eq!(specs.len(), SPEC.len());
    for (ours, theirs) in specs.iter().zip(SPEC) {
        assert_eq!(ours, theirs);
    }
    for (name, _, _, labels) in SPEC {
        let mut sorted = labels.to_vec();
        sorted.sort_unstable();
        assert_eq!(&sorted, labels, "labels of {name} must be sorted");
    }
    assert_eq!(FAILOVER_TARGET.labels, &["target"]);
}

/// The rendered exposition prints exactly these HELP and TYPE lines, in this order, and every
/// sample carries exactly the family's label names in that order.
#[test]
fn rendered_descriptors_and_labels_match_the_spec_table() {
    let (exposition, _) = common::render_all(&common::full_inputs());
    let expected: Vec<String> = SPEC
        .iter()
        .flat_map(|(name, kind, help, _)| {
            let kind = match kind {
                Kind::Counter => "counter",
                _ => "gauge",
            };
            [
                format!("# HELP {name} {help}"),
                format!("# TYPE {name} {kind}"),
            ]
        })
        .collect();
    let printed: Vec<&str> = exposition.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(printed, expected);

    for (name, _, _, labels) in SPEC {
        let samples = common::samples(&exposition, name);
        assert!(
            !samples.is_empty(),
            "{name} has no samples in the full scrape"
        );
        for sample in samples {
            let label_names: Vec<&str> = sample
                .split_once('{')
                .and_then(|(_, rest)| rest.rsplit_once('}'))
                .map(|(inner, _)| inner)
                .unwrap_or_default()
                .split("\",")
                .filter_map(|pair| pair.split_once("=\"").map(|(k, _)| k))
                .collect();
            assert_eq!(&label_names, labels, "{sample}");
        }
    }
}
