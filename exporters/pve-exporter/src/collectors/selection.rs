//! Which collectors run in a scrape, and which API endpoints they need.

use super::FamilySpec;

/// Whether a collector belongs to the `cluster=` or the `node=` half of a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Runs only when `cluster` is true.
    Cluster,
    /// Runs only when `node` is true; reads the local node's endpoints.
    Node,
}

/// A collector, named as its `--collector.<name>` flag and its `collector` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collector {
    /// `pve_up`.
    Status,
    /// The `/cluster/resources` families.
    Resources,
    /// `pve_node_info`.
    Node,
    /// `pve_cluster_info`.
    Cluster,
    /// `pve_version_info`.
    Version,
    /// `pve_not_backed_up_*`.
    BackupInfo,
    /// `pve_qdevice_*`.
    Qdevice,
    /// `pve_subscription_*`.
    Subscription,
    /// `pve_onboot_status`.
    Config,
    /// `pve_replication_*`.
    Replication,
}

impl Collector {
    /// Every collector, in the order their families are printed.
    pub const ALL: [Collector; 10] = [
        Collector::Status,
        Collector::Resources,
        Collector::Node,
        Collector::Cluster,
        Collector::Version,
        Collector::BackupInfo,
        Collector::Qdevice,
        Collector::Subscription,
        Collector::Config,
        Collector::Replication,
    ];

    /// The flag name: `status`, `backup-info`, …
    pub fn name(self) -> &'static str {
        match self {
            Collector::Status => "status",
            Collector::Resources => "resources",
            Collector::Node => "node",
            Collector::Cluster => "cluster",
            Collector::Version => "version",
            Collector::BackupInfo => "backup-info",
            Collector::Qdevice => "qdevice",
            Collector::Subscription => "subscription",
            Collector::Config => "config",
            Collector::Replication => "replication",
        }
    }

    /// The collector with that flag name.
    pub fn from_name(name: &str) -> Option<Collector> {
        Collector::ALL
            .into_iter()
            .find(|collector| collector.name() == name)
    }

    /// Cluster or node half.
    pub fn scope(self) -> Scope {
        match self {
            Collector::Subscription | Collector::Config | Collector::Replication => Scope::Node,
            _ => Scope::Cluster,
        }
    }

    /// The API endpoints the collector needs; it fails when any of them failed.
    pub fn endpoints(self) -> &'static [Endpoint] {
        use Endpoint as E;
        match self {
            Collector::Status => &[E::ClusterStatus, E::ClusterResources],
            Collector::Resources => &[E::ClusterResources],
            Collector::Node | Collector::Cluster => &[E::ClusterStatus],
            Collector::Version => &[E::Version],
            Collector::BackupInfo => &[E::ClusterStatus, E::NotBackedUp],
            Collector::Qdevice => &[E::ClusterStatus, E::Qdevice],
            Collector::Subscription => &[E::ClusterStatus, E::Subscription],
            Collector::Config => &[E::ClusterStatus, E::QemuList, E::LxcList, E::GuestConfig],
            Collector::Replication => &[E::ClusterStatus, E::Replication],
        }
    }

    /// The families the collector prints, in order.
    pub fn families(self) -> &'static [FamilySpec] {
        match self {
            Collector::Status => super::status::FAMILIES,
            Collector::Resources => super::resources::FAMILIES,
            Collector::Node => super::node::FAMILIES,
            Collector::Cluster => super::cluster::FAMILIES,
            Collector::Version => super::version::FAMILIES,
            Collector::BackupInfo => super::backup_info::FAMILIES,
            Collector::Qdevice => super::qdevice::FAMILIES,
            Collector::Subscription => super::subscription::FAMILIES,
            Collector::Config => super::config::FAMILIES,
            Collector::Replication => super::replication::FAMILIES,
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of collectors: the ones enabled by the `--collector.*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorSet(u16);

impl CollectorSet {
    /// Every collector (the default: all flags are on).
    pub fn all() -> Self {
        Collector::ALL
            .into_iter()
            .fold(CollectorSet(0), |set, collector| set.with(collector))
    }

    /// No collector.
    pub fn empty() -> Self {
        CollectorSet(0)
    }

    /// The set plus `collector`.
    #[must_use]
    pub fn with(self, collector: Collector) -> Self {
        CollectorSet(self.0 | collector.bit())
    }

    /// The set without `collector` (`--no-collector.<name>`).
    #[must_use]
    pub fn without(self, collector: Collector) -> Self {
        CollectorSet(self.0 & !collector.bit())
    }

    /// Whether `collector` is in the set.
    pub fn contains(self, collector: Collector) -> bool {
        self.0 & collector.bit() != 0
    }
}

impl Default for CollectorSet {
    fn default() -> Self {
        CollectorSet::all()
    }
}

/// What one `/pve` request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// `cluster=` after [`Selection::parse_flag`].
    pub cluster: bool,
    /// `node=` after [`Selection::parse_flag`].
    pub node: bool,
    /// Collectors enabled by flags.
    pub collectors: CollectorSet,
    /// Print `pve_not_backed_up_total` (`--compat.not-backed-up-total`, default on).
    pub compat_not_backed_up_total: bool,
}

impl Selection {
    /// A selection with every collector enabled and the compat family on.
    pub fn new(cluster: bool, node: bool) -> Self {
        Selection {
            cluster,
            node,
            collectors: CollectorSet::all(),
            compat_not_backed_up_total: true,
        }
    }

    /// The incumbent's truthiness of `cluster=`/`node=`: false only for `false`, `0` and the empty
    /// string (any case); anything else, `no` and `off` included, is true.
    pub fn parse_flag(value: &str) -> bool {
        !(value.is_empty() || value == "0" || value.eq_ignore_ascii_case("false"))
    }

    /// Whether the collector runs in this scrape.
    pub fn is_selected(&self, collector: Collector) -> bool {
        self.collectors.contains(collector)
            && match collector.scope() {
                Scope::Cluster => self.cluster,
                Scope::Node => self.node,
            }
    }

    /// The collectors that run, in print order.
    pub fn selected(&self) -> impl Iterator<Item = Collector> + '_ {
        Collector::ALL
            .into_iter()
            .filter(|collector| self.is_selected(*collector))
    }

    /// Whether any selected collector needs the endpoint, i.e. whether to call it.
    pub fn needs(&self, endpoint: Endpoint) -> bool {
        self.selected()
            .any(|collector| collector.endpoints().contains(&endpoint))
    }
}

/// An API endpoint the exporter calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/cluster/status`.
    ClusterStatus,
    /// `/cluster/resources` (unfiltered).
    ClusterResources,
    /// `/version`.
    Version,
    /// `/cluster/backup-info/not-backed-up`.
    NotBackedUp,
    /// `/cluster/config/qdevice`.
    Qdevice,
    /// `/nodes/{node}/subscription`.
    Subscription,
    /// `/nodes/{node}/qemu`.
    QemuList,
    /// `/nodes/{node}/lxc`.
    LxcList,
    /// `/nodes/{node}/{type}/{vmid}/config`, once per local guest.
    GuestConfig,
    /// `/nodes/{node}/replication`.
    Replication,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 10] = [
        Endpoint::ClusterStatus,
        Endpoint::ClusterResources,
        Endpoint::Version,
        Endpoint::NotBackedUp,
        Endpoint::Qdevice,
        Endpoint::Subscription,
        Endpoint::QemuList,
        Endpoint::LxcList,
        Endpoint::GuestConfig,
        Endpoint::Replication,
    ];

    /// The path under `/api2/json`, with `{node}`, `{type}` and `{vmid}` placeholders. The
    /// API-call self-metrics label per-guest calls with
    /// [`GuestType::config_path_template`](crate::model::GuestType::config_path_template), which
    /// names the type.
    pub fn path_template(self) -> &'static str {
        match self {
            Endpoint::ClusterStatus => "/cluster/status",
            Endpoint::ClusterResources => "/cluster/resources",
            Endpoint::Version => "/version",
            Endpoint::NotBackedUp => "/cluster/backup-info/not-backed-up",
            Endpoint::Qdevice => "/cluster/config/qdevice",
            Endpoint::Subscription => "/nodes/{node}/subscription",
            Endpoint::QemuList => "/nodes/{node}/qemu",
            Endpoint::LxcList => "/nodes/{node}/lxc",
            Endpoint::GuestConfig => "/nodes/{node}/{type}/{vmid}/config",
            Endpoint::Replication => "/nodes/{node}/replication",
        }
    }

    /// Whether the call is made once per local guest rather than once per scrape.
    pub fn per_guest(self) -> bool {
        self == Endpoint::GuestConfig
    }
}
