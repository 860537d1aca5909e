//! The Helm chart carries a copy of the embedded modules (it must pass them as a file as soon as
//! the auths come from a Secret). This keeps the copy from drifting from the binary.

use snmp_exporter::config;
use snmp_exporter::config::emit::{Layout, emit};

const CHART_COPY: &str = include_str!("../../../helm/snmp-exporter/files/embedded-modules.yml");

#[test]
fn chart_copy_of_the_embedded_modules_is_current() {
    let printed = emit(&config::default::config(), Layout::Split, false);
    let modules = &printed[printed
        .find("\nmodules:")
        .map(|i| i + 1)
        .expect("split layout has a modules: section")..];
    let copy = &CHART_COPY[CHART_COPY
        .find("\nmodules:")
        .map(|i| i + 1)
        .expect("the chart copy has a modules: section")..];
    assert_eq!(
        copy.trim_end(),
        modules.trim_end(),
        "helm/snmp-exporter/files/embedded-modules.yml is stale; regenerate it with \
         `snmp-exporter --config.print-default=split | sed -n '/^modules:/,$p'`"
    );
}
