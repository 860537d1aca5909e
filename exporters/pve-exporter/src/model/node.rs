//! Endpoints under `/nodes/<local node>`: subscription, guest lists, guest configs, replication.

use std::fmt;

use super::lenient::lenient_struct;

lenient_struct! {
    /// `/nodes/<node>/subscription`. Without `Sys.Audit` only `status`, `message` and `url` come.
    pub struct Subscription {
        /// `new`, `notfound`, `active`, `invalid`, `expired` or `suspended`.
        "status" => status: Option<String>,
        /// `c`, `b`, `s` or `p`; absent for `notfound`.
        "level" => level: Option<String>,
        /// `YYYY-MM-DD`; absent for `notfound`.
        "nextduedate" => nextduedate: Option<String>,
        /// Product name, e.g. `Proxmox VE Community Subscription 1 CPU/year`.
        "productname" => productname: Option<String>,
        /// Human-readable status message.
        "message" => message: Option<String>,
    }
}

lenient_struct! {
    /// One guest of `/nodes/<node>/qemu` or `/nodes/<node>/lxc`.
    pub struct GuestListEntry {
        /// VMID; an entry without a usable one is not configured.
        "vmid" => vmid: Option<u64>,
        /// `running`, `stopped`, …
        "status" => status: Option<String>,
        /// Guest name.
        "name" => name: Option<String>,
        /// Template flag as text.
        "template" => template: Option<String>,
        /// Config lock.
        "lock" => lock: Option<String>,
        /// Tags, `;`-separated.
        "tags" => tags: Option<String>,
    }
}

lenient_struct! {
    /// `/nodes/<node>/{qemu,lxc}/<vmid>/config`: only what the exporter reads.
    pub struct GuestConfig {
        /// 1 when the guest starts at boot; PVE leaves the key out when it is unset (= 0).
        "onboot" => onboot: Option<f64>,
        /// Config digest.
        "digest" => digest: Option<String>,
        /// VM name (qemu).
        "name" => name: Option<String>,
        /// Container host name (lxc).
        "hostname" => hostname: Option<String>,
    }
}

lenient_struct! {
    /// One job of `/nodes/<node>/replication`.
    pub struct ReplicationJob {
        /// `<vmid>-<jobnum>`.
        "id" => id: Option<String>,
        /// `local`.
        "type" => kind: Option<String>,
        /// The guest's VMID.
        "guest" => guest: Option<u64>,
        /// Job number.
        "jobnum" => jobnum: Option<u64>,
        /// Source node.
        "source" => source: Option<String>,
        /// Target node.
        "target" => target: Option<String>,
        /// `qemu` or `lxc`.
        "vmtype" => vmtype: Option<String>,
        /// Calendar event, default `*/15`.
        "schedule" => schedule: Option<String>,
        /// Last successful sync, Unix seconds (0 = never).
        "last_sync" => last_sync: Option<f64>,
        /// Last attempt, Unix seconds (0 = never).
        "last_try" => last_try: Option<f64>,
        /// Next planned sync, Unix seconds.
        "next_sync" => next_sync: Option<f64>,
        /// Consecutive failures.
        "fail_count" => fail_count: Option<f64>,
        /// Duration of the last run in seconds; absent before the first run.
        "duration" => duration: Option<f64>,
        /// Last error, when failing.
        "error" => error: Option<String>,
        /// 1 when the job is disabled.
        "disable" => disable: Option<f64>,
        /// Rate limit in MB/s.
        "rate" => rate: Option<f64>,
        /// Free-form comment.
        "comment" => comment: Option<String>,
    }
}

/// Virtual machine or container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GuestType {
    /// Container (`lxc`).
    Lxc,
    /// Virtual machine (`qemu`).
    Qemu,
}

impl GuestType {
    /// `"lxc"` or `"qemu"`: the path segment and the label value.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestType::Lxc => "lxc",
            GuestType::Qemu => "qemu",
        }
    }

    /// The templated config path, for the bounded `url` label of the API-call self-metrics.
    pub fn config_path_template(self) -> &'static str {
        match self {
            GuestType::Lxc => "/nodes/{node}/lxc/{vmid}/config",
            GuestType::Qemu => "/nodes/{node}/qemu/{vmid}/config",
        }
    }
}

impl fmt::Display for GuestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One guest whose config the `config` collector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GuestRef {
    /// VM or container.
    pub kind: GuestType,
    /// VMID.
    pub vmid: u64,
}

impl GuestRef {
    /// `<type>/<vmid>`, the series id.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.vmid)
    }

    /// `/nodes/<node>/<type>/<vmid>/config`; `node` must already be percent-encoded.
    pub fn config_path(&self, node: &str) -> String {
        format!("/nodes/{node}/{}/{}/config", self.kind, self.vmid)
    }
}
