//! Shared helpers for the integration tests: fixture bodies, a full set of scrape inputs decoded
//! from them, and readers for the rendered exposition.

#![allow(dead_code)]

use std::collections::HashMap;

use portkey_kit::exposition::{Encoder, Format};
use pve_exporter::collectors::{self, CallFailure, Collector, ScrapeInputs, Selection};
use pve_exporter::model::{self, GuestRef, GuestType};

/// A fixture body from tests/fixtures.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// Guest config bodies of the local node `shire`, as PVE returns them.
pub fn guest_config_bodies() -> Vec<(GuestRef, &'static str)> {
    let qemu = |vmid| GuestRef {
        kind: GuestType::Qemu,
        vmid,
    };
    let lxc = |vmid| GuestRef {
        kind: GuestType::Lxc,
        vmid,
    };
    vec![
        (
            qemu(100),
            r#"{"data":{"onboot":1,"name":"web01","memory":"8192","cores":4,"digest":"5d41402abc4b2a76b9719d911017c592"}}"#,
        ),
        (
            qemu(1000),
            r#"{"data":{"name":"build-runner","memory":16384,"digest":"7d793037a0760186574b0282f2f435e7"}}"#,
        ),
        (
            qemu(101),
            r#"{"data":{"onboot":0,"name":"hibernated","lock":"suspended","digest":"9e107d9d372bb6826bd81d3542a419d6"}}"#,
        ),
        (
            qemu(9000),
            r#"{"data":{"template":1,"name":"debian-13-template","digest":"e4d909c290d0fb1ca068ffaddf22cbd0"}}"#,
        ),
        (
            lxc(201),
            r#"{"data":{"onboot":"1","hostname":"db","arch":"amd64","digest":"0cc175b9c0f1b6a831c399e269772661"}}"#,
        ),
    ]
}

/// Every input of a `cluster=1&node=1` scrape of `shire` in a three-node PVE 9 cluster, decoded
/// from the fixtures.
pub fn full_inputs() -> ScrapeInputs {
    ScrapeInputs {
        cluster_status: Some(Ok(model::parse_cluster_status(&fixture(
            "cluster_status.json",
        ))
        .unwrap())),
        cluster_resources: Some(Ok(model::parse_cluster_resources(&fixture(
            "cluster_resources_pve9.json",
        ))
        .unwrap())),
        version: Some(Ok(model::parse_version(&fixture("version.json")).unwrap())),
        not_backed_up: Some(Ok(model::parse_not_backed_up(&fixture(
            "not_backed_up.json",
        ))
        .unwrap())),
        qdevice: Some(Ok(model::parse_qdevice(&fixture("qdevice.json")).unwrap())),
        subscription: Some(Ok(model::parse_subscription(&fixture(
            "subscription_active.json",
        ))
        .unwrap())),
        qemu: Some(Ok(model::parse_qemu_list(&fixture("qemu.json")).unwrap())),
        lxc: Some(Ok(model::parse_lxc_list(&fixture("lxc.json")).unwrap())),
        guest_configs: guest_config_bodies()
            .into_iter()
            .map(|(guest, body)| {
                (
                    guest,
                    Ok(model::parse_guest_config(body.as_bytes()).unwrap()),
                )
            })
            .collect::<HashMap<_, _>>(),
        replication: Some(Ok(
            model::parse_replication(&fixture("replication.json")).unwrap()
        )),
    }
}

/// A status failure as the client reports it.
pub fn status(code: u16, reason: &str) -> CallFailure {
    CallFailure::Status {
        code,
        reason: reason.to_owned(),
    }
}

/// Renders in the classic text format.
pub fn render(inputs: &ScrapeInputs, selection: &Selection) -> (String, Vec<(Collector, bool)>) {
    let mut encoder = Encoder::new(Format::Text);
    let outcomes = collectors::render(inputs, selection, &mut encoder);
    (String::from_utf8(encoder.finish()).unwrap(), outcomes)
}

/// Renders a `cluster=1&node=1` scrape with every collector.
pub fn render_all(inputs: &ScrapeInputs) -> (String, Vec<(Collector, bool)>) {
    render(inputs, &Selection::new(true, true))
}

/// The sample lines of one family (by sample name), in print order.
pub fn samples<'a>(exposition: &'a str, name: &str) -> Vec<&'a str> {
    exposition
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

/// Names of the families printed (from the `# TYPE` lines), in order.
pub fn family_names(exposition: &str) -> Vec<&str> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .collect()
}

/// Outcome of one collector.
pub fn outcome(outcomes: &[(Collector, bool)], collector: Collector) -> Option<bool> {
    outcomes
        .iter()
        .find(|(c, _)| *c == collector)
        .map(|(_, success)| *success)
}
