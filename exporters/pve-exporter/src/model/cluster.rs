//! Cluster-wide endpoints: `/cluster/status`, `/cluster/resources`, `/version`,
//! `/cluster/backup-info/not-backed-up` and `/cluster/config/qdevice`.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::lenient::{Key, Seed, lenient_struct, number_from_text};

lenient_struct! {
    /// One entry of `/cluster/status`: the cluster itself (`type: "cluster"`, absent on a
    /// standalone node) or one node (`type: "node"`). Numbers the exporter prints as labels are
    /// kept as text.
    pub struct StatusEntry {
        /// `cluster` or `node`; other types are ignored.
        "type" => kind: Option<String>,
        /// `cluster` for the cluster entry, `node/<name>` for nodes.
        "id" => id: Option<String>,
        /// Cluster name, or node name.
        "name" => name: Option<String>,
        /// Cluster: number of nodes.
        "nodes" => nodes: Option<String>,
        /// Cluster: 1 when quorate.
        "quorate" => quorate: Option<String>,
        /// Cluster: config version.
        "version" => version: Option<String>,
        /// Node: corosync node id (0 on a standalone node).
        "nodeid" => nodeid: Option<String>,
        /// Node: address.
        "ip" => ip: Option<String>,
        /// Node: 1 for the node that answered the request.
        "local" => local: Option<f64>,
        /// Node: 1 when online.
        "online" => online: Option<f64>,
        /// Node: subscription level (`c`, `b`, `s`, `p`, or empty).
        "level" => level: Option<String>,
    }
}

impl StatusEntry {
    /// Whether this is the `type: "cluster"` entry.
    pub fn is_cluster(&self) -> bool {
        self.kind.as_deref() == Some("cluster")
    }

    /// Whether this is a `type: "node"` entry.
    pub fn is_node(&self) -> bool {
        self.kind.as_deref() == Some("node")
    }

    /// The node's name: `name`, or what follows `node/` in `id`.
    pub fn node_name(&self) -> Option<&str> {
        self.name
            .as_deref()
            .filter(|name| !name.is_empty())
            .or_else(|| self.id.as_deref()?.strip_prefix("node/"))
            .filter(|name| !name.is_empty())
    }

    /// The node's series id: `id`, or `node/<name>` when PVE left `id` out.
    pub fn node_id(&self) -> Option<String> {
        match self.id.as_deref() {
            Some(id) if !id.is_empty() => Some(id.to_owned()),
            _ => self.node_name().map(|name| format!("node/{name}")),
        }
    }

    /// `quorate` as a number.
    pub fn quorate_value(&self) -> Option<f64> {
        self.quorate.as_deref().and_then(number_from_text)
    }
}

/// The whole `/cluster/status` list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterStatus {
    /// Entries in API order (random).
    pub entries: Vec<StatusEntry>,
}

impl ClusterStatus {
    /// The cluster entry; `None` on a standalone node.
    pub fn cluster(&self) -> Option<&StatusEntry> {
        self.entries.iter().find(|entry| entry.is_cluster())
    }

    /// The cluster's name, when there is a cluster entry with one.
    pub fn cluster_name(&self) -> Option<&str> {
        self.cluster()?
            .name
            .as_deref()
            .filter(|name| !name.is_empty())
    }

    /// Node entries in API order.
    pub fn nodes(&self) -> impl Iterator<Item = &StatusEntry> {
        self.entries.iter().filter(|entry| entry.is_node())
    }

    /// The node that answered the API call: the first node entry with a truthy `local`.
    pub fn local_node(&self) -> Option<&StatusEntry> {
        self.nodes().find(|entry| {
            entry
                .local
                .is_some_and(|local| local != 0.0 && !local.is_nan())
        })
    }

    /// The local node's name, used in `/nodes/<name>/…` paths (percent-encode it there).
    pub fn local_node_name(&self) -> Option<&str> {
        self.local_node()?.node_name()
    }
}

/// The `type` of a `/cluster/resources` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// `node`
    Node,
    /// `qemu` (virtual machine)
    Qemu,
    /// `lxc` (container)
    Lxc,
    /// `storage`
    Storage,
    /// `pool`
    Pool,
    /// `sdn` (PVE ≤ 8)
    Sdn,
    /// `network` (PVE 9)
    Network,
    /// Anything else, including a missing type: kept for the generic numeric families.
    Other,
}

lenient_struct! {
    /// One entry of the unfiltered `/cluster/resources` list. Every type is kept, including types
    /// this exporter does not know: the numeric families apply to all of them.
    pub struct Resource {
        /// `node/<n>`, `qemu/<vmid>`, `lxc/<vmid>`, `storage/<node>/<storage>`, `/pool/<pool>`, …
        "id" => id: Option<String>,
        /// Resource type, see [`Resource::resource_type`].
        "type" => kind: Option<String>,
        /// Node the resource is on.
        "node" => node: Option<String>,
        /// `online`/`offline`/`unknown` (node), `running`/`stopped`/`unknown` (guest),
        /// `available`/`unknown` (storage).
        "status" => status: Option<String>,
        /// Guest name (only with RRD data).
        "name" => name: Option<String>,
        /// Guest VMID.
        "vmid" => vmid: Option<u64>,
        /// Guest template flag, as text (`"0"`/`"1"`); absent without RRD data.
        "template" => template: Option<String>,
        /// Guest tags, `;`-separated as PVE sends them.
        "tags" => tags: Option<String>,
        /// Guest config lock (`backup`, `migrate`, …).
        "lock" => lock: Option<String>,
        /// HA state of a guest or node.
        "hastate" => hastate: Option<String>,
        /// Pool the guest belongs to, or the pool entry's name.
        "pool" => pool: Option<String>,
        /// Storage: its id.
        "storage" => storage: Option<String>,
        /// Storage: its plugin (`dir`, `zfspool`, `rbd`, …).
        "plugintype" => plugintype: Option<String>,
        /// Storage: content types, comma-separated in random order.
        "content" => content: Option<String>,
        /// Storage: 1 when shared.
        "shared" => shared: Option<f64>,
        /// Disk size in bytes.
        "maxdisk" => maxdisk: Option<f64>,
        /// Used disk in bytes (always 0 for qemu).
        "disk" => disk: Option<f64>,
        /// Memory size in bytes.
        "maxmem" => maxmem: Option<f64>,
        /// Used memory in bytes.
        "mem" => mem: Option<f64>,
        /// Bytes sent since the guest started.
        "netout" => netout: Option<f64>,
        /// Bytes received since the guest started.
        "netin" => netin: Option<f64>,
        /// Bytes written to block devices since the guest started.
        "diskwrite" => diskwrite: Option<f64>,
        /// Bytes read from block devices since the guest started.
        "diskread" => diskread: Option<f64>,
        /// CPU utilisation, 0..1.
        "cpu" => cpu: Option<f64>,
        /// Number of CPUs (may be fractional for containers).
        "maxcpu" => maxcpu: Option<f64>,
        /// Uptime in seconds.
        "uptime" => uptime: Option<f64>,
    }
}

impl Resource {
    /// The entry's type.
    pub fn resource_type(&self) -> ResourceType {
        match self.kind.as_deref() {
            Some("node") => ResourceType::Node,
            Some("qemu") => ResourceType::Qemu,
            Some("lxc") => ResourceType::Lxc,
            Some("storage") => ResourceType::Storage,
            Some("pool") => ResourceType::Pool,
            Some("sdn") => ResourceType::Sdn,
            Some("network") => ResourceType::Network,
            _ => ResourceType::Other,
        }
    }

    /// Whether the entry is a virtual machine or a container.
    pub fn is_guest(&self) -> bool {
        matches!(self.resource_type(), ResourceType::Qemu | ResourceType::Lxc)
    }
}

lenient_struct! {
    /// `/version`.
    pub struct Version {
        /// Full version, e.g. `9.1.4`.
        "version" => version: Option<String>,
        /// Release, e.g. `9.1`.
        "release" => release: Option<String>,
        /// Git commit of pve-manager.
        "repoid" => repoid: Option<String>,
        /// Default console viewer, when set.
        "console" => console: Option<String>,
    }
}

lenient_struct! {
    /// One guest of `/cluster/backup-info/not-backed-up`.
    pub struct NotBackedUpGuest {
        /// VMID.
        "vmid" => vmid: Option<u64>,
        /// `qemu` or `lxc`.
        "type" => kind: Option<String>,
        /// Guest name, when it has one.
        "name" => name: Option<String>,
    }
}

impl NotBackedUpGuest {
    /// `<type>/<vmid>`, when both are present.
    pub fn id(&self) -> Option<String> {
        let kind = self.kind.as_deref().filter(|kind| !kind.is_empty())?;
        Some(format!("{kind}/{}", self.vmid?))
    }
}

/// `/cluster/config/qdevice`: `{}` when no QDevice is configured. Keys are PVE's own, with
/// capitals and spaces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QDevice {
    /// `Model` (`Net`).
    pub model: Option<String>,
    /// `Algorithm` (`ffsplit`, `lms`).
    pub algorithm: Option<String>,
    /// `QNetd host`.
    pub qnetd_host: Option<String>,
    /// `Tie-breaker`.
    pub tie_breaker: Option<String>,
    /// `State` (`Connected`, …).
    pub state: Option<String>,
    /// `Echo reply`.
    pub echo_reply: Option<String>,
    /// `Last poll call`.
    pub last_poll_call: Option<String>,
    /// How many keys the object had; 0 means no QDevice.
    pub key_count: usize,
}

impl QDevice {
    /// Whether PVE reported a QDevice at all (the object was not `{}`).
    pub fn is_configured(&self) -> bool {
        self.key_count > 0
    }
}

impl<'de> de::Deserialize<'de> for QDevice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QDeviceVisitor;

        impl<'de> Visitor<'de> for QDeviceVisitor {
            type Value = QDevice;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a QDevice object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<QDevice, A::Error> {
                let mut out = QDevice::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    out.key_count += 1;
                    let slot = match key.as_str() {
                        "Model" => &mut out.model,
                        "Algorithm" => &mut out.algorithm,
                        "QNetd host" => &mut out.qnetd_host,
                        "Tie-breaker" => &mut out.tie_breaker,
                        "State" => &mut out.state,
                        "Echo reply" => &mut out.echo_reply,
                        "Last poll call" => &mut out.last_poll_call,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = map.next_value_seed(Seed::<Option<String>>::new())?;
                }
                Ok(out)
            }
        }

        deserializer.deserialize_map(QDeviceVisitor)
    }
}
