//! The results of one scrape's API calls, as the metric mapping receives them.

use std::collections::HashMap;

use crate::model::{
    ClusterStatus, GuestConfig, GuestListEntry, GuestRef, GuestType, ModelError, NotBackedUpGuest,
    QDevice, ReplicationJob, Resource, Subscription, Version,
};

/// Why an API call produced no data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallFailure {
    /// The API answered with a status ≥ 400, including pveproxy's 595–599 for a node it cannot
    /// reach. `reason` is the status line's reason phrase or the body's `message`
    /// (`Permission check failed (/, Sys.Audit)`).
    #[error("{code} {reason}")]
    Status {
        /// HTTP status code.
        code: u16,
        /// PVE's reason.
        reason: String,
    },
    /// No HTTP response: connection refused, DNS, TLS handshake or verification, reset.
    #[error("transport error: {0}")]
    Transport(String),
    /// The call exceeded its own timeout.
    #[error("timed out")]
    Timeout,
    /// The scrape deadline passed before the call was made or while it was in flight.
    #[error("cut by the scrape deadline")]
    Deadline,
    /// The body exceeded the response size limit.
    #[error("response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The body was not the JSON the endpoint returns (HTML from a proxy, truncated, wrong shape).
    #[error(transparent)]
    Parse(#[from] ModelError),
    /// A per-guest call found the guest gone from the node (migrated or deleted between the list
    /// and the config call): 404, or 500 `Configuration file '…' does not exist`.
    #[error("guest is no longer on this node: {code} {reason}")]
    GuestGone {
        /// HTTP status code.
        code: u16,
        /// PVE's reason.
        reason: String,
    },
}

impl CallFailure {
    /// Classifies an error status of a per-guest config call: a guest that migrated or was
    /// deleted becomes [`CallFailure::GuestGone`], everything else [`CallFailure::Status`].
    pub fn guest_config_status(code: u16, reason: impl Into<String>) -> CallFailure {
        let reason = reason.into();
        let gone = code == 404 || (code == 500 && reason.contains("does not exist"));
        if gone {
            CallFailure::GuestGone { code, reason }
        } else {
            CallFailure::Status { code, reason }
        }
    }

    /// Whether this says the guest is simply not on the node any more (R9: dropped silently).
    pub fn is_guest_gone(&self) -> bool {
        match self {
            CallFailure::GuestGone { .. } => true,
            CallFailure::Status { code, reason } => {
                *code == 404 || (*code == 500 && reason.contains("does not exist"))
            }
            _ => false,
        }
    }

    /// The HTTP status, when the API answered at all.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            CallFailure::Status { code, .. } | CallFailure::GuestGone { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the target itself looks unreachable: the cases in which cluster collectors fail
    /// over to another node (R11): transport and TLS errors, timeouts, and pveproxy's 595/596.
    pub fn target_unreachable(&self) -> bool {
        match self {
            CallFailure::Transport(_) | CallFailure::Timeout => true,
            CallFailure::Status { code, .. } => matches!(code, 595 | 596),
            _ => false,
        }
    }
}

/// One endpoint's outcome: `None` when it was not called (no selected collector needs it),
/// otherwise its data or why there is none.
pub type Input<T> = Option<Result<T, CallFailure>>;

/// Everything one scrape fetched. The orchestrator fills what [`Selection::needs`] asks for;
/// [`render`] turns it into metrics.
///
/// [`Selection::needs`]: super::Selection::needs
/// [`render`]: super::render
#[derive(Debug, Default)]
pub struct ScrapeInputs {
    /// `/cluster/status`.
    pub cluster_status: Input<ClusterStatus>,
    /// `/cluster/resources`.
    pub cluster_resources: Input<Vec<Resource>>,
    /// `/version`.
    pub version: Input<Version>,
    /// `/cluster/backup-info/not-backed-up`.
    pub not_backed_up: Input<Vec<NotBackedUpGuest>>,
    /// `/cluster/config/qdevice`.
    pub qdevice: Input<QDevice>,
    /// `/nodes/<local>/subscription`.
    pub subscription: Input<Subscription>,
    /// `/nodes/<local>/qemu`.
    pub qemu: Input<Vec<GuestListEntry>>,
    /// `/nodes/<local>/lxc`.
    pub lxc: Input<Vec<GuestListEntry>>,
    /// `/nodes/<local>/<type>/<vmid>/config` per guest of [`ScrapeInputs::guests_to_configure`].
    /// A listed guest without an entry here counts as not fetched (the deadline cut it).
    pub guest_configs: HashMap<GuestRef, Result<GuestConfig, CallFailure>>,
    /// `/nodes/<local>/replication`.
    pub replication: Input<Vec<ReplicationJob>>,
}

impl ScrapeInputs {
    /// The guests whose config the `config` collector needs, from the guest lists that were
    /// fetched: every entry with a usable VMID (templates included), each once, in type then VMID
    /// order.
    pub fn guests_to_configure(&self) -> Vec<GuestRef> {
        let mut guests: Vec<GuestRef> =
            [(GuestType::Qemu, &self.qemu), (GuestType::Lxc, &self.lxc)]
                .into_iter()
                .filter_map(|(kind, list)| Some((kind, list.as_ref()?.as_ref().ok()?)))
                .flat_map(|(kind, list)| {
                    list.iter().filter_map(move |entry| {
                        Some(GuestRef {
                            kind,
                            vmid: entry.vmid?,
                        })
                    })
                })
                .collect();
        guests.sort_unstable();
        guests.dedup();
        guests
    }
}

/// The data of an input that was fetched successfully.
pub(crate) fn ok<T>(input: &Input<T>) -> Option<&T> {
    input.as_ref()?.as_ref().ok()
}
