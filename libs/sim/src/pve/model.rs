//! The simulated cluster as plain data: nodes, guests, storages, replication jobs, subscriptions.
//!
//! Kept separate from the JSON shapes (see `render.rs`) so that tests can compute what an
//! exporter ought to report ("how many guests live on shire?") from the same model the
//! simulator serves, instead of repeating the data set by hand.

use std::fmt;

/// Unix time the simulated cluster lives at (2026-01-01T00:00:00Z): every timestamp is
/// relative to it, so outputs do not change with the wall clock.
pub const EPOCH: u64 = 1_767_225_600;

/// Guest type, as PVE names it in ids and paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GuestKind {
    /// A KVM virtual machine (`qemu/<vmid>`).
    Qemu,
    /// A container (`lxc/<vmid>`).
    Lxc,
}

impl GuestKind {
    /// `qemu` or `lxc`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }
}

impl fmt::Display for GuestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Guest run state as `/cluster/resources` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GuestStatus {
    /// Running, with live counters.
    Running,
    /// Stopped (templates and hibernated VMs too): all counters zero.
    Stopped,
    /// No RRD data reached the cluster yet: the resource entry carries only identity keys.
    Unknown,
}

impl GuestStatus {
    /// `running`, `stopped` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestStatus::Running => "running",
            GuestStatus::Stopped => "stopped",
            GuestStatus::Unknown => "unknown",
        }
    }
}

/// A node's subscription as `GET /nodes/<n>/subscription` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    /// `new|notfound|active|invalid|expired|suspended`.
    pub status: String,
    /// `c`, `b`, `s` or `p`; absent for `notfound`.
    pub level: Option<String>,
    /// `YYYY-MM-DD`; absent for `notfound`.
    pub next_due_date: Option<String>,
    /// Subscription key, absent for `notfound`.
    pub key: Option<String>,
    /// Product name, absent for `notfound`.
    pub product_name: Option<String>,
    /// Registration date (`YYYY-MM-DD HH:MM:SS`), absent for `notfound`.
    pub reg_date: Option<String>,
    /// Number of sockets the subscription covers, absent for `notfound`.
    pub sockets: Option<u32>,
    /// The node's server id (32 hex digits).
    pub server_id: String,
    /// Human-readable status message.
    pub message: String,
}

/// One cluster node.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Host name (`shire`).
    pub name: String,
    /// Corosync node id (1–6; 0 on a standalone node).
    pub nodeid: u32,
    /// Cluster network address (192.0.2.0/24, documentation range).
    pub ip: String,
    /// Subscription level shown in cluster status/resources (`c`, `s` or empty).
    pub level: String,
    /// CPU threads.
    pub maxcpu: u32,
    /// Memory in bytes.
    pub maxmem: u64,
    /// Root file system size in bytes.
    pub maxdisk: u64,
    /// Seconds since boot at [`EPOCH`].
    pub uptime: u64,
    /// CPU utilisation 0..1.
    pub cpu: f64,
    /// Used memory in bytes.
    pub mem: u64,
    /// Used root file system bytes.
    pub disk: u64,
    /// Subscription details.
    pub subscription: Subscription,
    /// Whether HA reports a `hastate` for the node (clusters with HA resources).
    pub ha: bool,
}

impl Node {
    /// `node/<name>`.
    pub fn id(&self) -> String {
        format!("node/{}", self.name)
    }
}

/// One virtual machine or container.
#[derive(Clone, Debug, PartialEq)]
pub struct Guest {
    /// VMID.
    pub vmid: u32,
    /// VM or container.
    pub kind: GuestKind,
    /// VM name / container host name.
    pub name: String,
    /// Node the guest lives on.
    pub node: String,
    /// Run state as the cluster sees it.
    pub status: GuestStatus,
    /// A template (always stopped).
    pub template: bool,
    /// Config lock (`backup`, `migrate`, `snapshot`, `suspended`, ...).
    pub lock: Option<String>,
    /// Raw `;`-separated tags.
    pub tags: Option<String>,
    /// Resource pool.
    pub pool: Option<String>,
    /// HA state, for HA-managed guests.
    pub hastate: Option<String>,
    /// `onboot` in the guest config; `None` = not set (PVE omits the key).
    pub onboot: Option<u8>,
    /// Whether a backup job covers the guest.
    pub backed_up: bool,
    /// Virtual CPUs (fractional CPU limits for containers).
    pub maxcpu: f64,
    /// Memory in bytes.
    pub maxmem: u64,
    /// Root disk size in bytes.
    pub maxdisk: u64,
    /// CPU utilisation 0..1 (running guests).
    pub cpu: f64,
    /// Used memory (running guests).
    pub mem: u64,
    /// Used root disk bytes (containers only; PVE reports 0 for VMs).
    pub disk: u64,
    /// Bytes received since start.
    pub netin: u64,
    /// Bytes sent since start.
    pub netout: u64,
    /// Bytes read from block devices since start.
    pub diskread: u64,
    /// Bytes written to block devices since start.
    pub diskwrite: u64,
    /// Seconds since start at [`EPOCH`].
    pub uptime: u64,
    /// Process id of a running guest.
    pub pid: Option<u32>,
}

impl Guest {
    /// `qemu/<vmid>` or `lxc/<vmid>`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.vmid)
    }

    /// Whether the guest is running.
    pub fn running(&self) -> bool {
        self.status == GuestStatus::Running
    }
}

/// A storage as it appears on one node.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageOnNode {
    /// Node name.
    pub node: String,
    /// `status: available` (else `unknown`, without sizes).
    pub available: bool,
    /// Used bytes.
    pub disk: u64,
    /// Size in bytes.
    pub maxdisk: u64,
}

/// A storage definition and its per-node view.
#[derive(Clone, Debug, PartialEq)]
pub struct Storage {
    /// Storage id (`local-zfs`).
    pub storage: String,
    /// Plugin type (`dir`, `zfspool`, `rbd`, `nfs`, `pbs`).
    pub plugintype: String,
    /// Content types (`images`, `rootdir`, `iso`, `vztmpl`, `backup`).
    pub content: Vec<String>,
    /// Shared among nodes (same numbers on every node).
    pub shared: bool,
    /// One entry per node that has the storage.
    pub nodes: Vec<StorageOnNode>,
}

/// A storage replication job (§4.4 of the pve-exporter spec).
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationJob {
    /// Guest VMID.
    pub guest: u32,
    /// Job number per guest.
    pub jobnum: u32,
    /// Guest type.
    pub vmtype: GuestKind,
    /// Source node (where the guest lives).
    pub source: String,
    /// Target node.
    pub target: String,
    /// Calendar schedule (`*/15`).
    pub schedule: String,
    /// Last successful sync (0 = never).
    pub last_sync: u64,
    /// Last attempt (0 = never).
    pub last_try: u64,
    /// Next scheduled sync.
    pub next_sync: u64,
    /// Consecutive failures.
    pub fail_count: u32,
    /// Duration of the last run in seconds; `None` before the first run.
    pub duration: Option<f64>,
    /// Error of the last failed run.
    pub error: Option<String>,
    /// Optional comment.
    pub comment: Option<String>,
    /// Optional rate limit (MB/s).
    pub rate: Option<f64>,
    /// Disabled job.
    pub disable: bool,
}

impl ReplicationJob {
    /// `<vmid>-<jobnum>`.
    pub fn id(&self) -> String {
        format!("{}-{}", self.guest, self.jobnum)
    }
}

/// The corosync QDevice status keys PVE passes through.
#[derive(Clone, Debug, PartialEq)]
pub struct QDevice {
    /// `Model` (`Net`).
    pub model: String,
    /// `Algorithm`.
    pub algorithm: String,
    /// `QNetd host`.
    pub qnetd_host: String,
    /// `Tie-breaker`.
    pub tie_breaker: String,
    /// `State` (`Connected`).
    pub state: String,
    /// `Echo reply`.
    pub echo_reply: String,
    /// `Last poll call`.
    pub last_poll_call: String,
}

/// What `GET /version` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionInfo {
    /// `9.1.4`.
    pub version: String,
    /// `9.1`.
    pub release: String,
    /// Git commit of pve-manager (hex).
    pub repoid: String,
}

/// The whole simulated cluster (or standalone node).
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    /// Cluster name (`middleearth`).
    pub name: String,
    /// Corosync config version (cluster status `version`).
    pub config_version: u32,
    /// A single node without corosync: no cluster entry in `/cluster/status`.
    pub standalone: bool,
    /// Nodes in nodeid order.
    pub nodes: Vec<Node>,
    /// Guests in VMID order.
    pub guests: Vec<Guest>,
    /// Storages in storage-id order.
    pub storages: Vec<Storage>,
    /// Resource pool names.
    pub pools: Vec<String>,
    /// Replication jobs in id order.
    pub replication: Vec<ReplicationJob>,
    /// QDevice, when configured.
    pub qdevice: Option<QDevice>,
    /// pve-manager version.
    pub version: VersionInfo,
}

impl Cluster {
    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The guest with this VMID.
    pub fn guest(&self, vmid: u32) -> Option<&Guest> {
        self.guests.iter().find(|g| g.vmid == vmid)
    }

    /// Guests living on `node`.
    pub fn guests_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Guest> + 'a {
        self.guests.iter().filter(move |g| g.node == node)
    }

    /// Replication jobs whose guest lives on `node` (what `/nodes/<node>/replication` lists).
    pub fn replication_on<'a>(
        &'a self,
        node: &'a str,
    ) -> impl Iterator<Item = &'a ReplicationJob> + 'a {
        self.replication.iter().filter(move |j| j.source == node)
    }

    /// Guests no backup job covers.
    pub fn not_backed_up(&self) -> impl Iterator<Item = &Guest> + '_ {
        self.guests.iter().filter(|g| !g.backed_up)
    }
}
