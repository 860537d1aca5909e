//! One scrape: which API calls to make, in what order, and how their results become
//! [`ScrapeInputs`].
//!
//! Every input is fetched at most once per scrape (spec R1). The cluster-wide calls start together;
//! the node calls start as soon as `/cluster/status` names the local node; the per-guest config
//! calls start as soon as the guest lists arrive. The session's semaphore bounds how many are in
//! flight, and its deadline cuts whatever is still running when Prometheus is about to give up.

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::api::Session;
use crate::collectors::{CallFailure, Collector, Endpoint, Input, ScrapeInputs, Selection};
use crate::model::{self, GuestRef, ModelError};

/// What a scrape produced besides the inputs: per-collector wall time.
#[derive(Debug, Default)]
pub struct Timings {
    finished: Vec<(Endpoint, Duration)>,
}

impl Timings {
    fn record(&mut self, endpoint: Endpoint, at: Duration) {
        match self.finished.iter_mut().find(|(e, _)| *e == endpoint) {
            Some((_, latest)) => *latest = (*latest).max(at),
            None => self.finished.push((endpoint, at)),
        }
    }

    /// Wall time of a collector: from the start of the scrape (when its first dependency was
    /// requested) to the moment its last input arrived.
    pub fn collector(&self, collector: Collector) -> Duration {
        collector
            .endpoints()
            .iter()
            .filter_map(|e| self.finished.iter().find(|(f, _)| f == e).map(|(_, d)| *d))
            .max()
            .unwrap_or_default()
    }
}

/// Context for log lines of one scrape.
#[derive(Debug, Clone, Copy)]
pub struct LogContext<'a> {
    /// Module name.
    pub module: &'a str,
    /// Target as requested.
    pub target: &'a str,
}

/// Runs the calls `selection` needs against `session` and collects their results.
pub async fn fetch_all(
    session: &Session<'_>,
    selection: &Selection,
    log: LogContext<'_>,
) -> (ScrapeInputs, Timings) {
    let started = Instant::now();
    let needs = |e: Endpoint| selection.needs(e);
    let node_wanted = [
        Endpoint::Subscription,
        Endpoint::QemuList,
        Endpoint::LxcList,
        Endpoint::GuestConfig,
        Endpoint::Replication,
    ]
    .into_iter()
    .any(needs);
    let status_wanted = needs(Endpoint::ClusterStatus) || node_wanted;

    let status_and_node = async {
        if !status_wanted {
            return (None, NodeInputs::default());
        }
        let status = fetch(
            session,
            Endpoint::ClusterStatus,
            "/cluster/status",
            model::parse_cluster_status,
            log,
        )
        .await;
        let status_at = started.elapsed();
        let node = match (&status, node_wanted) {
            (_, false) => NodeInputs::default(),
            (Ok(status), true) => match status.local_node_name() {
                Some(local) => {
                    let mut node = fetch_node(session, selection, local, log).await;
                    node.offset = status_at;
                    node
                }
                None => {
                    tracing::warn!(
                        module = log.module,
                        target = log.target,
                        "local node not found in /cluster/status"
                    );
                    NodeInputs::failed(
                        selection,
                        CallFailure::Status {
                            code: 200,
                            reason: "local node not found in /cluster/status".into(),
                        },
                    )
                }
            },
            (Err(failure), true) => NodeInputs::failed(selection, failure.clone()),
        };
        (Some((status, status_at)), node)
    };
    let resources = optional(needs(Endpoint::ClusterResources), async {
        let r = fetch(
            session,
            Endpoint::ClusterResources,
            "/cluster/resources",
            model::parse_cluster_resources,
            log,
        )
        .await;
        (r, started.elapsed())
    });
    let version = optional(needs(Endpoint::Version), async {
        let r = fetch(
            session,
            Endpoint::Version,
            "/version",
            model::parse_version,
            log,
        )
        .await;
        (r, started.elapsed())
    });
    let not_backed_up = optional(needs(Endpoint::NotBackedUp), async {
        let r = fetch(
            session,
            Endpoint::NotBackedUp,
            "/cluster/backup-info/not-backed-up",
            model::parse_not_backed_up,
            log,
        )
        .await;
        (r, started.elapsed())
    });
    let qdevice = optional(needs(Endpoint::Qdevice), async {
        let r = fetch_quiet(
            session,
            Endpoint::Qdevice,
            "/cluster/config/qdevice",
            model::parse_qdevice,
        )
        .await;
        (r, started.elapsed())
    });

    let ((status, node), resources, version, not_backed_up, qdevice) =
        tokio::join!(status_and_node, resources, version, not_backed_up, qdevice);

    let mut finished = Vec::new();
    let inputs = ScrapeInputs {
        cluster_status: take(&mut finished, Endpoint::ClusterStatus, status),
        cluster_resources: take(&mut finished, Endpoint::ClusterResources, resources),
        version: take(&mut finished, Endpoint::Version, version),
        not_backed_up: take(&mut finished, Endpoint::NotBackedUp, not_backed_up),
        qdevice: take(&mut finished, Endpoint::Qdevice, qdevice),
        subscription: node.subscription,
        qemu: node.qemu,
        lxc: node.lxc,
        guest_configs: node.guest_configs,
        replication: node.replication,
    };
    let mut timings = Timings::default();
    for (endpoint, at) in finished {
        timings.record(endpoint, at);
    }
    for (endpoint, at) in node.finished {
        timings.record(endpoint, at + node.offset);
    }
    (inputs, timings)
}

/// Unwraps a timed result, noting when its endpoint finished.
fn take<T>(
    finished: &mut Vec<(Endpoint, Duration)>,
    endpoint: Endpoint,
    result: Option<(Result<T, CallFailure>, Duration)>,
) -> Input<T> {
    result.map(|(r, at)| {
        finished.push((endpoint, at));
        r
    })
}

async fn optional<T>(wanted: bool, work: impl Future<Output = T>) -> Option<T> {
    if wanted { Some(work.await) } else { None }
}

/// What the node collectors fetched.
#[derive(Debug, Default)]
struct NodeInputs {
    subscription: Input<model::Subscription>,
    qemu: Input<Vec<model::GuestListEntry>>,
    lxc: Input<Vec<model::GuestListEntry>>,
    guest_configs: std::collections::HashMap<GuestRef, Result<model::GuestConfig, CallFailure>>,
    replication: Input<Vec<model::ReplicationJob>>,
    /// Offset of `finished` from the start of the scrape.
    offset: Duration,
    finished: Vec<(Endpoint, Duration)>,
}

impl NodeInputs {
    /// Every wanted node input failed for the same reason (no status, no local node).
    fn failed(selection: &Selection, failure: CallFailure) -> NodeInputs {
        NodeInputs {
            subscription: failed_input(selection, Endpoint::Subscription, &failure),
            qemu: failed_input(selection, Endpoint::QemuList, &failure),
            lxc: failed_input(selection, Endpoint::LxcList, &failure),
            replication: failed_input(selection, Endpoint::Replication, &failure),
            ..NodeInputs::default()
        }
    }
}

fn failed_input<T>(selection: &Selection, endpoint: Endpoint, failure: &CallFailure) -> Input<T> {
    selection.needs(endpoint).then(|| Err(failure.clone()))
}

async fn fetch_node(
    session: &Session<'_>,
    selection: &Selection,
    local: &str,
    log: LogContext<'_>,
) -> NodeInputs {
    let started = Instant::now();
    let node = encode_segment(local);
    let needs = |e: Endpoint| selection.needs(e);
    let subscription = optional(needs(Endpoint::Subscription), async {
        let path = format!("/nodes/{node}/subscription");
        let r = fetch(
            session,
            Endpoint::Subscription,
            &path,
            model::parse_subscription,
            log,
        )
        .await;
        (r, started.elapsed())
    });
    let replication = optional(needs(Endpoint::Replication), async {
        let path = format!("/nodes/{node}/replication");
        let r = fetch(
            session,
            Endpoint::Replication,
            &path,
            model::parse_replication,
            log,
        )
        .await;
        (r, started.elapsed())
    });
    let guests = async {
        let lists_wanted = needs(Endpoint::QemuList) || needs(Endpoint::LxcList);
        if !lists_wanted {
            return (None, None, Default::default(), None);
        }
        let qemu_path = format!("/nodes/{node}/qemu");
        let lxc_path = format!("/nodes/{node}/lxc");
        let (qemu, lxc) = tokio::join!(
            optional(
                needs(Endpoint::QemuList),
                fetch(
                    session,
                    Endpoint::QemuList,
                    &qemu_path,
                    model::parse_qemu_list,
                    log
                )
            ),
            optional(
                needs(Endpoint::LxcList),
                fetch(
                    session,
                    Endpoint::LxcList,
                    &lxc_path,
                    model::parse_lxc_list,
                    log
                )
            ),
        );
        let lists_at = started.elapsed();
        let mut partial = ScrapeInputs {
            qemu,
            lxc,
            ..ScrapeInputs::default()
        };
        let mut configs = std::collections::HashMap::new();
        let mut configs_at = None;
        if needs(Endpoint::GuestConfig) {
            let guests = partial.guests_to_configure();
            let results = join_all(guests.iter().map(|guest| {
                let path = guest.config_path(&node);
                async move {
                    let result = session
                        .get(guest.kind.config_path_template(), &path)
                        .await
                        .map_err(|failure| match failure {
                            CallFailure::Status { code, reason } => {
                                CallFailure::guest_config_status(code, reason)
                            }
                            other => other,
                        })
                        .and_then(|body| {
                            model::parse_guest_config(&body).map_err(CallFailure::from)
                        });
                    (*guest, result)
                }
            }))
            .await;
            let mut logged = false;
            for (guest, result) in results {
                if let Err(failure) = &result
                    && !failure.is_guest_gone()
                    && !logged
                {
                    // One line per scrape is enough to act on; the rest would repeat it.
                    logged = true;
                    tracing::warn!(
                        module = log.module,
                        target = log.target,
                        collector = "config",
                        path = %guest.config_path(&node),
                        reason = %failure,
                        "PVE API call failed"
                    );
                }
                configs.insert(guest, result);
            }
            configs_at = Some(started.elapsed());
        }
        let qemu = partial.qemu.take();
        let lxc = partial.lxc.take();
        (
            qemu.map(|q| (q, lists_at)),
            lxc.map(|l| (l, lists_at)),
            configs,
            configs_at,
        )
    };
    let (subscription, replication, (qemu, lxc, guest_configs, configs_at)) =
        tokio::join!(subscription, replication, guests);
    let mut finished = Vec::new();
    let subscription = take(&mut finished, Endpoint::Subscription, subscription);
    let replication = take(&mut finished, Endpoint::Replication, replication);
    let qemu = take(&mut finished, Endpoint::QemuList, qemu);
    let lxc = take(&mut finished, Endpoint::LxcList, lxc);
    if let Some(at) = configs_at {
        finished.push((Endpoint::GuestConfig, at));
    }
    NodeInputs {
        subscription,
        qemu,
        lxc,
        guest_configs,
        replication,
        offset: Duration::ZERO,
        finished,
    }
}

/// Calls one endpoint and decodes it, logging a failure once with everything needed to act on it.
async fn fetch<T>(
    session: &Session<'_>,
    endpoint: Endpoint,
    path: &str,
    parse: fn(&[u8]) -> Result<T, ModelError>,
    log: LogContext<'_>,
) -> Result<T, CallFailure> {
    let result = fetch_quiet(session, endpoint, path, parse).await;
    if let Err(failure) = &result {
        tracing::warn!(
            module = log.module,
            target = log.target,
            path,
            reason = %failure,
            "PVE API call failed"
        );
    }
    result
}

/// Like [`fetch`] without the log line, for calls whose failure is expected and harmless
/// (qdevice on a cluster without one answers an error).
async fn fetch_quiet<T>(
    session: &Session<'_>,
    endpoint: Endpoint,
    path: &str,
    parse: fn(&[u8]) -> Result<T, ModelError>,
) -> Result<T, CallFailure> {
    let body = session.get(endpoint.path_template(), path).await?;
    parse(&body).map_err(CallFailure::from)
}

/// Percent-encodes a node name for a path segment (node names are DNS labels in practice, but
/// the value comes from the API and must not be able to change the path).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_cannot_change_the_path() {
        assert_eq!(encode_segment("shire"), "shire");
        assert_eq!(encode_segment("../x y"), "..%2Fx%20y");
    }
}
