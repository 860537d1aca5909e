//! The default data set of pve-exporter spec §4.6, built deterministically from a seed.
//!
//! The first 60 guests are hand-placed so that every edge case the exporter must handle exists
//! exactly once or a known number of times (templates, a hibernated VM, a guest without RRD
//! data, each lock and HA state, failing and never-run replication, ...). Beyond 60 guests the
//! scaling rule of §4.6 applies (⅔ VMs, ⅓ containers, ~10 % stopped, ~1 % templates, ~6 %
//! replicated, round-robin over the nodes). Structure depends only on the guest count; numbers
//! (memory, counters, uptimes) depend on the seed and the VMID, so a guest keeps its values when
//! the guest count changes.

use super::PveSimConfig;
use super::PveVersion;
use super::model::{
    Cluster, Guest, GuestKind, GuestStatus, Node, QDevice, Storage, StorageOnNode, Subscription,
    VersionInfo,
};
use crate::rng::hash;

/// The cluster's node names in nodeid order (the design document's six nodes).
pub const NODE_NAMES: [&str; 6] = [
    "shire",
    "rivendell",
    "isengard",
    "mirkwood",
    "rohan",
    "gondor",
];
/// Name of the simulated cluster.
pub const CLUSTER_NAME: &str = "middleearth";
/// Number of hand-placed guests.
pub const CURATED_GUESTS: usize = 60;
/// First VMID of the generated guests beyond the curated 60.
pub const SCALED_VMID_BASE: u32 = 10_000;

const GIB: u64 = 1024 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;
const TIB: u64 = 1024 * GIB;

// Salts for per-VMID values, so that each field draws its own number.
const F_CPU: u64 = 1;
const F_MEM: u64 = 2;
const F_DISK: u64 = 3;
const F_NET: u64 = 4;
const F_IO: u64 = 5;
const F_UPTIME: u64 = 6;
const F_SIZE: u64 = 7;
const F_PID: u64 = 8;
const F_STORAGE: u64 = 10;

/// A value in `[0, 1)` determined by the seed, an entity number and a field salt.
pub(super) fn unit(seed: u64, entity: u64, field: u64) -> f64 {
    (hash(&[seed, entity, field]) >> 11) as f64 / (1u64 << 53) as f64
}

fn pick<T: Copy>(seed: u64, entity: u64, field: u64, choices: &[T]) -> T {
    choices[(hash(&[seed, entity, field]) % choices.len() as u64) as usize]
}

/// Rounds to 6 decimals so that floats stay short and stable in text.
pub(super) fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Builds the cluster described by `config`.
pub fn build(config: &PveSimConfig) -> Cluster {
    let seed = config.seed;
    let nodes = build_nodes(config);
    let node_names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let mut guests = build_guests(config, &node_names);
    guests.sort_by_key(|g| g.vmid);
    let replication = if config.standalone {
        Vec::new()
    } else {
        super::replication::build(seed, &guests, &node_names)
    };
    let storages = build_storages(config, &node_names);
    let version = match config.version {
        PveVersion::V9 => VersionInfo {
            version: "9.1.4".into(),
            release: "9.1".into(),
            repoid: "5ed0b7d2f2a8d4b1".into(),
        },
        PveVersion::V8 => VersionInfo {
            version: "8.4.1".into(),
            release: "8.4".into(),
            repoid: "2a5fa54a8503f96d".into(),
        },
    };
    let qdevice = (config.qdevice && !config.standalone).then(|| QDevice {
        model: "Net".into(),
        algorithm: "Fifty-Fifty split".into(),
        qnetd_host: "192.0.2.50:5403".into(),
        tie_breaker: "Node with lowest node ID".into(),
        state: "Connected".into(),
        echo_reply: "OK".into(),
        last_poll_call: "2026-01-01 00:00:00".into(),
    });
    let mut pools: Vec<String> = guests.iter().filter_map(|g| g.pool.clone()).collect();
    pools.sort();
    pools.dedup();
    Cluster {
        name: CLUSTER_NAME.into(),
        config_version: 17,
        standalone: config.standalone,
        nodes,
        guests,
        storages,
        pools,
        replication,
        qdevice,
        version,
    }
}

fn subscription(seed: u64, index: usize, name: &str) -> Subscription {
    let server_id = format!(
        "{:016X}{:016X}",
        hash(&[seed, 77, index as u64]),
        hash(&[seed, 78, index as u64])
    );
    let active = |level: &str, product: &str, sockets: u32| Subscription {
        status: "active".into(),
        level: Some(level.into()),
        next_due_date: Some("2026-09-30".into()),
        key: Some(format!(
            "pve{sockets}{level}-{:010x}",
            hash(&[seed, 79, index as u64]) & 0xff_ffff_ffff
        )),
        product_name: Some(product.into()),
        reg_date: Some("2025-09-30 00:00:00".into()),
        sockets: Some(sockets),
        server_id: server_id.clone(),
        message: String::new(),
    };
    match name {
        "shire" | "rivendell" => active("c", "Proxmox VE Community Subscription 2 CPUs/year", 2),
        "mirkwood" | "rohan" => active("s", "Proxmox VE Standard Subscription 1 CPU/year", 1),
        "isengard" => Subscription {
            status: "expired".into(),
            next_due_date: Some("2025-11-30".into()),
            reg_date: Some("2024-11-30 00:00:00".into()),
            message: "subscription has expired".into(),
            ..active("c", "Proxmox VE Community Subscription 2 CPUs/year", 2)
        },
        _ => Subscription {
            status: "notfound".into(),
            level: None,
            next_due_date: None,
            key: None,
            product_name: None,
            reg_date: None,
            sockets: None,
            server_id,
            message: "There is no subscription key".into(),
        },
    }
}

fn build_nodes(config: &PveSimConfig) -> Vec<Node> {
    let seed = config.seed;
    let specs: [(&str, &str, u32, u64); 6] = [
        ("shire", "c", 32, 128),
        ("rivendell", "c", 16, 64),
        ("isengard", "", 16, 64),
        ("mirkwood", "s", 8, 32),
        ("rohan", "s", 12, 48),
        ("gondor", "", 24, 96),
    ];
    let make = |index: usize, name: &str, level: &str, cpus: u32, mem_gib: u64, nodeid: u32| {
        let entity = 1000 + index as u64;
        let maxmem = mem_gib * GIB;
        let maxdisk = 94 * GIB + (unit(seed, entity, F_SIZE) * 8.0) as u64 * GIB;
        Node {
            name: name.to_owned(),
            nodeid,
            ip: format!("192.0.2.{}", 11 + index),
            level: level.to_owned(),
            maxcpu: cpus,
            maxmem,
            maxdisk,
            uptime: 86_400 + (unit(seed, entity, F_UPTIME) * 60.0 * 86_400.0) as u64,
            cpu: round6(0.02 + unit(seed, entity, F_CPU) * 0.35),
            mem: (maxmem as f64 * (0.3 + unit(seed, entity, F_MEM) * 0.4)) as u64,
            disk: (maxdisk as f64 * (0.1 + unit(seed, entity, F_DISK) * 0.3)) as u64,
            subscription: subscription(seed, index, name),
            ha: !config.standalone,
        }
    };
    if config.standalone {
        let index = NODE_NAMES
            .iter()
            .position(|n| *n == config.local_node)
            .unwrap_or(0);
        let (_, level, cpus, mem) = specs[index];
        return vec![make(index, &config.local_node, level, cpus, mem, 0)];
    }
    specs
        .iter()
        .enumerate()
        .map(|(i, (name, level, cpus, mem))| make(i, name, level, *cpus, *mem, i as u32 + 1))
        .collect()
}

/// Per-guest structural facts before numbers are filled in.
#[derive(Debug)]
struct Shape {
    vmid: u32,
    kind: GuestKind,
    node: usize,
    name: String,
    status: GuestStatus,
    template: bool,
    lock: Option<&'static str>,
    tags: Option<&'static str>,
    pool: Option<&'static str>,
    hastate: Option<&'static str>,
    onboot: Option<u8>,
    backed_up: bool,
}

const VM_ROLES: [&str; 19] = [
    "gateway",
    "web",
    "db",
    "cache",
    "mail",
    "git",
    "ci",
    "media",
    "vault",
    "grafana",
    "loki",
    "k8s-cp",
    "k8s-worker",
    "proxy",
    "matrix",
    "nextcloud",
    "jellyfin",
    "homeassistant",
    "minio",
];
const CT_ROLES: [&str; 10] = [
    "pihole",
    "unbound",
    "nginx",
    "redis",
    "postgres",
    "mqtt",
    "zigbee2mqtt",
    "syncthing",
    "uptime-kuma",
    "vaultwarden",
];

fn curated_shape(vmid: u32, kind: GuestKind) -> Shape {
    let node = match (kind, vmid) {
        (_, 9000) => 4,
        (_, 9001) => 5,
        (GuestKind::Qemu, v) => ((v - 100) % 6) as usize,
        (GuestKind::Lxc, v) => ((v - 200 + 2) % 6) as usize,
    };
    let name = match (kind, vmid) {
        (_, 9000) => "debian-12-template".to_owned(),
        (_, 9001) => "ubuntu-2404-template".to_owned(),
        (_, 137) => "staging-137".to_owned(),
        (GuestKind::Qemu, v) => {
            let i = (v - 100) as usize;
            format!(
                "{}-{:02}",
                VM_ROLES[i % VM_ROLES.len()],
                i / VM_ROLES.len() + 1
            )
        }
        (GuestKind::Lxc, v) => {
            let i = (v - 200) as usize;
            format!(
                "{}-{:02}",
                CT_ROLES[i % CT_ROLES.len()],
                i / CT_ROLES.len() + 1
            )
        }
    };
    let template = matches!(vmid, 9000 | 9001);
    let status = match vmid {
        137 => GuestStatus::Unknown,
        9000 | 9001 | 118 | 125 | 131 | 212 | 217 => GuestStatus::Stopped,
        _ => GuestStatus::Running,
    };
    let lock = match vmid {
        104 | 207 => Some("backup"),
        110 => Some("migrate"),
        122 => Some("snapshot"),
        118 => Some("suspended"),
        _ => None,
    };
    let hastate = match vmid {
        100..=103 | 200..=202 => Some("started"),
        125 => Some("stopped"),
        131 => Some("error"),
        110 => Some("migrate"),
        106 => Some("ignored"),
        _ => None,
    };
    let pool = match vmid {
        100..=105 | 200..=203 => Some("production"),
        120..=124 | 210..=214 => Some("development"),
        _ => None,
    };
    let tags = match vmid {
        100 | 101 => Some("prod;web"),
        102 | 103 => Some("db;prod"),
        104 | 105 => Some("prod"),
        120..=124 => Some("dev"),
        130..=136 => Some("k8s;lab"),
        137 => Some("new"),
        200..=203 => Some("dns;prod"),
        210..=214 => Some("dev;lxc"),
        9000 | 9001 => Some("template"),
        _ => None,
    };
    let onboot = if template {
        None
    } else if pool == Some("production") {
        Some(1)
    } else {
        match vmid % 3 {
            0 => Some(1),
            1 => Some(0),
            _ => None,
        }
    };
    Shape {
        vmid,
        kind,
        node,
        name,
        status,
        template,
        lock,
        tags,
        pool,
        hastate,
        onboot,
        backed_up: !matches!(vmid, 9000 | 9001 | 137 | 123 | 133 | 215),
    }
}

/// The curated guests in an interleaved order (two VMs, one container, ...), so that a guest
/// count below 60 still mixes both kinds.
fn curated_order() -> Vec<(u32, GuestKind)> {
    let vms: Vec<u32> = (100..=137).chain([9000, 9001]).collect();
    let cts: Vec<u32> = (200..=219).collect();
    let mut order = Vec::with_capacity(CURATED_GUESTS);
    for (i, ct) in cts.iter().enumerate() {
        order.push((vms[2 * i], GuestKind::Qemu));
        order.push((vms[2 * i + 1], GuestKind::Qemu));
        order.push((*ct, GuestKind::Lxc));
    }
    order
}

fn scaled_shape(k: usize) -> Shape {
    let vmid = SCALED_VMID_BASE + k as u32;
    let kind = if k % 3 == 2 {
        GuestKind::Lxc
    } else {
        GuestKind::Qemu
    };
    let template = k % 100 == 42;
    let status = if template || k % 10 == 7 {
        GuestStatus::Stopped
    } else {
        GuestStatus::Running
    };
    let prefix = match kind {
        GuestKind::Qemu => "vm",
        GuestKind::Lxc => "ct",
    };
    Shape {
        vmid,
        kind,
        node: k % 6,
        name: if template {
            format!("{prefix}-template-{vmid}")
        } else {
            format!("{prefix}-{vmid}")
        },
        status,
        template,
        lock: (k % 97 == 13).then_some("backup"),
        tags: match k % 4 {
            0 => Some("prod"),
            1 => Some("dev;test"),
            _ => None,
        },
        pool: match k % 10 {
            0 => Some("production"),
            5 => Some("development"),
            _ => None,
        },
        hastate: (k % 25 == 4 && status == GuestStatus::Running).then_some("started"),
        onboot: if template {
            None
        } else {
            match vmid % 3 {
                0 => Some(1),
                1 => Some(0),
                _ => None,
            }
        },
        backed_up: !(template || k % 50 == 7),
    }
}

fn build_guests(config: &PveSimConfig, node_names: &[String]) -> Vec<Guest> {
    let mut shapes: Vec<Shape> = curated_order()
        .into_iter()
        .take(config.guests)
        .map(|(vmid, kind)| curated_shape(vmid, kind))
        .collect();
    shapes.extend((0..config.guests.saturating_sub(CURATED_GUESTS)).map(scaled_shape));
    shapes
        .into_iter()
        .map(|shape| {
            let node = if config.standalone {
                node_names[0].clone()
            } else {
                node_names[shape.node % node_names.len()].clone()
            };
            fill_numbers(config.seed, shape, node, config.standalone)
        })
        .collect()
}

fn fill_numbers(seed: u64, shape: Shape, node: String, standalone: bool) -> Guest {
    let v = u64::from(shape.vmid);
    let (maxcpu, maxmem, maxdisk) = match shape.kind {
        GuestKind::Qemu => (
            pick(seed, v, F_CPU, &[1.0, 2.0, 2.0, 4.0, 4.0, 8.0]),
            pick(seed, v, F_MEM, &[1, 2, 4, 4, 8, 8, 16, 32]) * GIB,
            pick(seed, v, F_SIZE, &[16, 32, 32, 64, 100, 200]) * GIB,
        ),
        GuestKind::Lxc => (
            pick(seed, v, F_CPU, &[1.0, 2.0, 0.5, 1.5, 4.0]),
            pick(seed, v, F_MEM, &[512, 1024, 2048, 4096]) * MIB,
            pick(seed, v, F_SIZE, &[4, 8, 8, 16, 32]) * GIB,
        ),
    };
    let running = shape.status == GuestStatus::Running;
    let live = |x: u64| if running { x } else { 0 };
    let disk = match shape.kind {
        GuestKind::Qemu => 0,
        GuestKind::Lxc => live((maxdisk as f64 * (0.1 + unit(seed, v, F_DISK) * 0.6)) as u64),
    };
    Guest {
        vmid: shape.vmid,
        kind: shape.kind,
        name: shape.name,
        node,
        status: shape.status,
        template: shape.template,
        lock: shape.lock.map(str::to_owned),
        tags: shape.tags.map(str::to_owned),
        pool: shape.pool.map(str::to_owned),
        hastate: if standalone {
            None
        } else {
            shape.hastate.map(str::to_owned)
        },
        onboot: shape.onboot,
        backed_up: shape.backed_up,
        maxcpu,
        maxmem,
        maxdisk,
        cpu: if running {
            round6(0.001 + unit(seed, v, F_CPU + 100) * 0.35)
        } else {
            0.0
        },
        mem: live((maxmem as f64 * (0.15 + unit(seed, v, F_MEM + 100) * 0.7)) as u64),
        disk,
        netin: live((unit(seed, v, F_NET) * 50.0 * GIB as f64) as u64),
        netout: live((unit(seed, v, F_NET + 100) * 20.0 * GIB as f64) as u64),
        diskread: live((unit(seed, v, F_IO) * 100.0 * GIB as f64) as u64),
        diskwrite: live((unit(seed, v, F_IO + 100) * 80.0 * GIB as f64) as u64),
        uptime: live(600 + (unit(seed, v, F_UPTIME) * 9_000_000.0) as u64),
        pid: running.then(|| 1000 + (hash(&[seed, v, F_PID]) % 4_000_000) as u32),
    }
}

fn build_storages(config: &PveSimConfig, nodes: &[String]) -> Vec<Storage> {
    let seed = config.seed;
    let per_node = |storage_index: u64, size: u64, shared: bool| -> Vec<StorageOnNode> {
        let shared_fill = unit(seed, storage_index, F_STORAGE);
        nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let fill = if shared {
                    shared_fill
                } else {
                    unit(seed, storage_index * 100 + i as u64, F_STORAGE)
                };
                StorageOnNode {
                    node: node.clone(),
                    // nfs-backup cannot be reached from mirkwood (a stale mount).
                    available: !(storage_index == 4 && node == "mirkwood"),
                    disk: (size as f64 * (0.05 + fill * 0.8)) as u64,
                    maxdisk: size,
                }
            })
            .collect()
    };
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut storages = vec![
        Storage {
            storage: "local".into(),
            plugintype: "dir".into(),
            content: strings(&["iso", "vztmpl", "backup"]),
            shared: false,
            nodes: per_node(1, 94 * GIB, false),
        },
        Storage {
            storage: "local-zfs".into(),
            plugintype: "zfspool".into(),
            content: strings(&["images", "rootdir"]),
            shared: false,
            nodes: per_node(2, 1800 * GIB, false),
        },
        Storage {
            storage: "nfs-backup".into(),
            plugintype: "nfs".into(),
            content: strings(&["backup", "iso"]),
            shared: true,
            nodes: per_node(4, 16 * TIB, true),
        },
        Storage {
            storage: "pbs".into(),
            plugintype: "pbs".into(),
            content: strings(&["backup"]),
            shared: true,
            nodes: per_node(5, 8 * TIB, true),
        },
    ];
    if !config.standalone {
        storages.push(Storage {
            storage: "ceph-vm".into(),
            plugintype: "rbd".into(),
            content: strings(&["images", "rootdir"]),
            shared: true,
            nodes: per_node(3, 12 * TIB, true),
        });
    }
    storages.sort_by(|a, b| a.storage.cmp(&b.storage));
    storages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_matches_the_spec_counts() {
        let cluster = build(&PveSimConfig::default());
        let g = &cluster.guests;
        assert_eq!(g.len(), 60);
        assert_eq!(g.iter().filter(|g| g.kind == GuestKind::Qemu).count(), 40);
        assert_eq!(g.iter().filter(|g| g.kind == GuestKind::Lxc).count(), 20);
        assert_eq!(
            g.iter()
                .filter(|g| g.status == GuestStatus::Running)
                .count(),
            52
        );
        assert_eq!(
            g.iter()
                .filter(|g| g.status == GuestStatus::Stopped)
                .count(),
            7
        );
        assert_eq!(
            g.iter()
                .filter(|g| g.status == GuestStatus::Unknown)
                .count(),
            1
        );
        assert_eq!(g.iter().filter(|g| g.template).count(), 2);
        assert_eq!(cluster.not_backed_up().count(), 6);
        assert_eq!(cluster.replication.len(), 21);
        let ha = |s: &str| g.iter().filter(|g| g.hastate.as_deref() == Some(s)).count();
        assert_eq!(ha("started"), 7);
        assert_eq!(
            (ha("stopped"), ha("error"), ha("migrate"), ha("ignored")),
            (1, 1, 1, 1)
        );
        let storage_entries: usize = cluster.storages.iter().map(|s| s.nodes.len()).sum();
        assert_eq!(storage_entries, 30);
        for node in NODE_NAMES {
            assert_eq!(cluster.guests_on(node).count(), 10, "{node}");
            assert!(cluster.replication_on(node).count() >= 3, "{node}");
        }
    }

    #[test]
    fn scaling_spreads_guests() {
        let cluster = build(&PveSimConfig::default().guests(2000));
        assert_eq!(cluster.guests.len(), 2000);
        let shire = cluster.guests_on("shire").count();
        assert!((330..=340).contains(&shire), "{shire}");
        let qemu = cluster
            .guests
            .iter()
            .filter(|g| g.kind == GuestKind::Qemu)
            .count();
        assert!((1300..=1370).contains(&qemu), "{qemu}");
        let replicated = cluster.replication.len();
        assert!((100..=160).contains(&replicated), "{replicated}");
    }
}
