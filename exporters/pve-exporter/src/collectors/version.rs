//! `version`: `pve_version_info` from `/version`.

use portkey_kit::exposition::Encoder;

use super::{FamilySpec, ScrapeInputs, ok};

const VERSION_INFO: FamilySpec = FamilySpec::gauge(
    "pve_version_info",
    "Proxmox VE version info",
    &["release", "repoid", "version"],
);

pub(super) const FAMILIES: &[FamilySpec] = &[VERSION_INFO];

pub(super) fn collect(inputs: &ScrapeInputs, encoder: &mut Encoder) -> bool {
    let Some(version) = ok(&inputs.version) else {
        return false;
    };
    VERSION_INFO.start(encoder);
    VERSION_INFO.sample(
        encoder,
        &[
            version.release.as_deref().unwrap_or_default(),
            version.repoid.as_deref().unwrap_or_default(),
            version.version.as_deref().unwrap_or_default(),
        ],
        1.0,
    );
    true
}
