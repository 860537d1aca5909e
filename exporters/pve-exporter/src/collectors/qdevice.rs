//! `qdevice`: corosync QDevice state from `/cluster/config/qdevice`.
//!
//! Both families are left out (and the collector still succeeds) on a standalone node, when the
//! call answered with an HTTP error, and when PVE reports no QDevice (`{}`). A call that got no
//! answer at all (timeout, transport) or an unreadable body fails the collector.

use portkey_kit::exposition::Encoder;

use super::{FamilySpec, ScrapeInputs, flag, ok};

const QDEVICE_UP: FamilySpec = FamilySpec::gauge(
    "pve_qdevice_up",
    "Proxmox VE QDevice is connected (1) or not (0)",
    &["id"],
);
const QDEVICE_INFO: FamilySpec = FamilySpec::gauge(
    "pve_qdevice_info",
    "Proxmox VE QDevice info (1 if configured)",
    &[
        "algorithm",
        "id",
        "model",
        "qnetd_host",
        "state",
        "tie_breaker",
    ],
);

pub(super) const FAMILIES: &[FamilySpec] = &[QDEVICE_UP, QDEVICE_INFO];

pub(super) fn collect(inputs: &ScrapeInputs, encoder: &mut Encoder) -> bool {
    let Some(status) = ok(&inputs.cluster_status) else {
        return false;
    };
    // Standalone: the call was made in parallel with /cluster/status; its result is discarded.
    let Some(cluster_name) = status.cluster_name() else {
        return true;
    };
    let qdevice = match &inputs.qdevice {
        Some(Ok(qdevice)) => qdevice,
        Some(Err(failure)) if failure.http_status().is_some() => return true,
        Some(Err(_)) | None => return false,
    };
    if !qdevice.is_configured() {
        return true;
    }
    let id = format!("cluster/{cluster_name}");
    let state = qdevice.state.as_deref().unwrap_or_default();

    QDEVICE_UP.start(encoder);
    QDEVICE_UP.sample(encoder, &[&id], flag(state == "Connected"));

    QDEVICE_INFO.start(encoder);
    QDEVICE_INFO.sample(
        encoder,
        &[
            qdevice.algorithm.as_deref().unwrap_or_default(),
            &id,
            qdevice.model.as_deref().unwrap_or_default(),
            qdevice.qnetd_host.as_deref().unwrap_or_default(),
            state,
            qdevice.tie_breaker.as_deref().unwrap_or_default(),
        ],
        1.0,
    );
    true
}
