//! The metric mapping, one spec edge case at a time (spec §2.3, §3 R4/R9, §5): exact exposition
//! lines for given API data, and per-collector success.

mod common;

use common::{fixture, outcome, render, render_all, samples, status};
use portkey_kit::exposition::{Encoder, Format};
use pve_exporter::collectors::{
    self, CallFailure, Collector, CollectorSet, Endpoint, ScrapeInputs, Selection,
    next_due_timestamp,
};
use pve_exporter::model::{self, GuestRef, GuestType, ModelError};

fn resources(json: &str) -> ScrapeInputs {
    ScrapeInputs {
        cluster_resources: Some(Ok(model::parse_cluster_resources(json.as_bytes()).unwrap())),
        ..common::full_inputs()
    }
}

fn cluster_status(json: &str) -> ScrapeInputs {
    ScrapeInputs {
        cluster_status: Some(Ok(model::parse_cluster_status(json.as_bytes()).unwrap())),
        ..common::full_inputs()
    }
}

const STANDALONE: &str = r#"{"data":[{"type":"node","id":"node/pve","name":"pve","nodeid":0,"ip":"192.0.2.5","local":1,"online":1,"level":""}]}"#;

/// Collectors whose families a failed input removes, and those it leaves alone.
fn assert_outcomes(outcomes: &[(Collector, bool)], failed: &[Collector]) {
    for (collector, success) in outcomes {
        assert_eq!(
            *success,
            !failed.contains(collector),
            "{}",
            collector.name()
        );
    }
}

#[test]
fn every_collector_succeeds_on_complete_data() {
    let (_, outcomes) = render_all(&common::full_inputs());
    let names: Vec<&str> = outcomes.iter().map(|(c, _)| c.name()).collect();
    assert_eq!(
        names,
        [
            "status",
            "resources",
            "node",
            "cluster",
            "version",
            "backup-info",
            "qdevice",
            "subscription",
            "config",
            "replication"
        ]
    );
    assert_outcomes(&outcomes, &[]);
}

#[test]
fn up_for_nodes_cluster_guests_and_storages() {
    let (out, _) = render_all(&common::full_inputs());
    assert_eq!(
        samples(&out, "pve_up"),
        [
            r#"pve_up{id="cluster/middleearth"} 1"#,
            r#"pve_up{id="lxc/200"} 1"#,
            r#"pve_up{id="lxc/201"} 1"#,
            r#"pve_up{id="node/isengard"} 0"#,
            r#"pve_up{id="node/rivendell"} 1"#,
            r#"pve_up{id="node/shire"} 1"#,
            r#"pve_up{id="qemu/100"} 1"#,
            r#"pve_up{id="qemu/1000"} 1"#,
            r#"pve_up{id="qemu/101"} 0"#,
            r#"pve_up{id="qemu/137"} 0"#,
            r#"pve_up{id="qemu/9000"} 0"#,
            r#"pve_up{id="storage/isengard/local"} 0"#,
            r#"pve_up{id="storage/shire/ceph-vm"} 1"#,
            r#"pve_up{id="storage/shire/local"} 1"#,
        ]
    );
}

#[test]
fn unknown_cluster_status_types_are_ignored() {
    let inputs = cluster_status(
        r#"{"data":[{"type":"cluster","name":"c","quorate":0,"nodes":1,"version":2},
            {"type":"witness","id":"witness/x","online":1},
            {"type":"node","id":"node/a","name":"a","local":1,"online":"1","nodeid":1,"level":null}]}"#,
    );
    let (out, outcomes) = render_all(&inputs);
    assert_eq!(outcome(&outcomes, Collector::Status), Some(true));
    assert!(samples(&out, "pve_up").contains(&r#"pve_up{id="cluster/c"} 0"#));
    assert!(samples(&out, "pve_up").contains(&r#"pve_up{id="node/a"} 1"#));
    assert!(!out.contains("witness"));
    assert_eq!(
        samples(&out, "pve_node_info"),
        [r#"pve_node_info{id="node/a",level="",name="a",nodeid="1"} 1"#]
    );
    assert_eq!(
        samples(&out, "pve_cluster_info"),
        [r#"pve_cluster_info{id="cluster/c",nodes="1",quorate="0",version="2"} 1"#]
    );
}

#[test]
fn generic_numeric_families_take_every_type_and_numeric_strings() {
    let inputs = resources(
        r#"{"data":[
        {"id":"qemu/5","type":"qemu","status":"running","maxmem":"1024","mem":{"rss":1},"cpu":null,"maxdisk":[1],"disk":"n/a","uptime":12.0,"netout":"1e3"},
        {"id":"/pool/dev","type":"pool","pool":"dev","mem":10,"maxmem":20,"cpu":0.5,"maxcpu":2,"uptime":30},
        {"id":"sdn/a/localnetwork","type":"sdn","sdn":"localnetwork","node":"a","status":"ok"},
        {"id":"thing/1","type":"thing-from-pve-10","maxmem":7,"shared":1},
        {"type":"qemu","mem":99}
    ]}"#,
    );
    let (out, outcomes) = render_all(&inputs);
    assert_eq!(outcome(&outcomes, Collector::Resources), Some(true));
    assert_eq!(
        samples(&out, "pve_memory_size_bytes"),
        [
            r#"pve_memory_size_bytes{id="/pool/dev"} 20"#,
            r#"pve_memory_size_bytes{id="qemu/5"} 1024"#,
            r#"pve_memory_size_bytes{id="thing/1"} 7"#,
        ]
    );
    assert_eq!(
        samples(&out, "pve_memory_usage_bytes"),
        [r#"pve_memory_usage_bytes{id="/pool/dev"} 10"#]
    );
    assert_eq!(
        samples(&out, "pve_cpu_usage_ratio"),
        [r#"pve_cpu_usage_ratio{id="/pool/dev"} 0.5"#]
    );
    assert!(samples(&out, "pve_disk_size_bytes").is_empty());
    assert!(samples(&out, "pve_disk_usage_bytes").is_empty());
    assert_eq!(
        samples(&out, "pve_uptime_seconds")[1],
        r#"pve_uptime_seconds{id="qemu/5"} 12"#
    );
    assert_eq!(
        samples(&out, "pve_network_transmit_bytes"),
        [r#"pve_network_transmit_bytes{id="qemu/5"} 1000"#]
    );
    assert_eq!(
        samples(&out, "pve_network_transmit_bytes_total"),
        [r#"pve_network_transmit_bytes_total{id="qemu/5"} 1000"#]
    );
    assert_eq!(
        samples(&out, "pve_storage_shared"),
        [r#"pve_storage_shared{id="thing/1"} 1"#]
    );
    // HELP/TYPE stay even for a family without samples.
    assert!(out.contains("# TYPE pve_disk_read_bytes_total counter\n# HELP pve_ha_state"));
}

#[test]
fn ha_state_series_per_guest_and_node() {
    let inputs = resources(
        r#"{"data":[
        {"id":"qemu/1","type":"qemu","status":"running","hastate":"migrate"},
        {"id":"lxc/2","type":"lxc","status":"stopped","hastate":"ignored"},
        {"id":"node/a","type":"node","status":"online","hastate":"fence"},
        {"id":"storage/a/local","type":"storage","status":"available","hastate":"started"}
    ]}"#,
    );
    let (out, _) = render_all(&inputs);
    let ha = samples(&out, "pve_ha_state");
    assert_eq!(ha.len(), 11 + 11 + 5);
    assert!(
        ha[..11].iter().all(|line| line.ends_with(" 0")),
        "ignored is all zeros"
    );
    assert_eq!(
        &ha[11..],
        [
            r#"pve_ha_state{id="node/a",state="online"} 0"#,
            r#"pve_ha_state{id="node/a",state="maintenance"} 0"#,
            r#"pve_ha_state{id="node/a",state="unknown"} 0"#,
            r#"pve_ha_state{id="node/a",state="fence"} 1"#,
            r#"pve_ha_state{id="node/a",state="gone"} 0"#,
            r#"pve_ha_state{id="qemu/1",state="stopped"} 0"#,
            r#"pve_ha_state{id="qemu/1",state="request_stop"} 0"#,
            r#"pve_ha_state{id="qemu/1",state="request_start"} 0"#,
            r#"pve_ha_state{id="qemu/1",state="request_start_balance"} 0"#,
            r#"pve_ha_state{id="qemu/1",state="started"} 0"#,
            r#"pve_ha_state{id="qemu/1",state="fence"} 0"#,
            r#"pve_ha_state{id="qemu/1",state="recovery"} 0"#,
            r#"pve_ha_state{id="qemu/1",state="migrate"} 1"#,
            r#"pve_ha_state{id="qemu/1",state="relocate"} 0"#,
            r#"pve_ha_state{id="qemu/1",state="freeze"} 0"#,
            r#"pve_ha_state{id="qemu/1",state="error"} 0"#,
        ]
    );
}

#[test]
fn lock_state_series_per_guest() {
    let inputs = resources(
        r#"{"data":[
        {"id":"qemu/1","type":"qemu","status":"stopped","lock":"suspended"},
        {"id":"lxc/2","type":"lxc","status":"running","lock":"fstrim"},
        {"id":"node/a","type":"node","status":"online","lock":"backup"}
    ]}"#,
    );
    let (out, _) = render_all(&inputs);
    let locks = samples(&out, "pve_lock_state");
    assert_eq!(locks.len(), 18, "9 per guest, none for nodes");
    assert!(
        locks[..9].iter().all(|line| line.ends_with(" 0")),
        "unknown lock is all zeros"
    );
    assert_eq!(
        &locks[9..],
        [
            r#"pve_lock_state{id="qemu/1",state="backup"} 0"#,
            r#"pve_lock_state{id="qemu/1",state="clone"} 0"#,
            r#"pve_lock_state{id="qemu/1",state="create"} 0"#,
            r#"pve_lock_state{id="qemu/1",state="migrate"} 0"#,
            r#"pve_lock_state{id="qemu/1",state="rollback"} 0"#,
            r#"pve_lock_state{id="qemu/1",state="snapshot"} 0"#,
            r#"pve_lock_state{id="qemu/1",state="snapshot-delete"} 0"#,
            r#"pve_lock_state{id="qemu/1",state="suspended"} 1"#,
            r#"pve_lock_state{id="qemu/1",state="suspending"} 0"#,
        ]
    );
}

#[test]
fn guest_info_for_templates_and_guests_without_rrd_data() {
    let (out, _) = render_all(&common::full_inputs());
    let info = samples(&out, "pve_guest_info");
    assert!(info.contains(
        &r#"pve_guest_info{id="qemu/137",name="",node="isengard",tags="orphan",template="",type="qemu"} 1"#
    ));
    assert!(info.contains(
        &r#"pve_guest_info{id="qemu/9000",name="debian-13-template",node="shire",tags="template",template="1",type="qemu"} 1"#
    ));
    assert!(info.contains(
        &r#"pve_guest_info{id="lxc/201",name="db \"main\" ü\\x",node="shire",tags="db;prod",template="0",type="lxc"} 1"#
    ));
}

#[test]
fn label_values_are_escaped() {
    let inputs = resources(
        r#"{"data":[{"id":"qemu/1","type":"qemu","status":"running","name":"a\\b\"c\nd","node":"n","tags":"x;ü;日本","template":0}]}"#,
    );
    let (out, _) = render_all(&inputs);
    assert_eq!(
        samples(&out, "pve_guest_info"),
        [
            r#"pve_guest_info{id="qemu/1",name="a\\b\"c\nd",node="n",tags="x;ü;日本",template="0",type="qemu"} 1"#
        ]
    );
}

#[test]
fn storage_content_is_sorted() {
    let inputs = resources(
        r#"{"data":[
        {"id":"storage/b/nfs-backup","type":"storage","storage":"nfs-backup","node":"b","plugintype":"nfs","status":"unknown","shared":1,"content":"vztmpl,backup,iso,snippets"},
        {"id":"storage/a/pbs","type":"storage","storage":"pbs","node":"a","plugintype":"pbs","status":"available","shared":1,"content":"backup","disk":5,"maxdisk":10},
        {"id":"storage/a/bare","type":"storage","storage":"bare","node":"a","status":"available"}
    ]}"#,
    );
    let (out, _) = render_all(&inputs);
    assert_eq!(
        samples(&out, "pve_storage_info"),
        [
            r#"pve_storage_info{content="",id="storage/a/bare",node="a",plugintype="",storage="bare"} 1"#,
            r#"pve_storage_info{content="backup",id="storage/a/pbs",node="a",plugintype="pbs",storage="pbs"} 1"#,
            r#"pve_storage_info{content="backup,iso,snippets,vztmpl",id="storage/b/nfs-backup",node="b",plugintype="nfs",storage="nfs-backup"} 1"#,
        ]
    );
    assert_eq!(
        samples(&out, "pve_disk_size_bytes"),
        [r#"pve_disk_size_bytes{id="storage/a/pbs"} 10"#]
    );
    assert_eq!(
        samples(&out, "pve_up"),
        [
            r#"pve_up{id="cluster/middleearth"} 1"#,
            r#"pve_up{id="node/isengard"} 0"#,
            r#"pve_up{id="node/rivendell"} 1"#,
            r#"pve_up{id="node/shire"} 1"#,
            r#"pve_up{id="storage/a/bare"} 1"#,
            r#"pve_up{id="storage/a/pbs"} 1"#,
            r#"pve_up{id="storage/b/nfs-backup"} 0"#,
        ]
    );
}

#[test]
fn duplicate_ids_keep_the_first_entry() {
    let inputs = resources(
        r#"{"data":[
        {"id":"qemu/1","type":"qemu","status":"running","mem":1,"name":"first"},
        {"id":"qemu/1","type":"qemu","status":"stopped","mem":2,"name":"second"}
    ]}"#,
    );
    let (out, _) = render_all(&inputs);
    assert_eq!(
        samples(&out, "pve_memory_usage_bytes"),
        [r#"pve_memory_usage_bytes{id="qemu/1"} 1"#]
    );
    assert!(samples(&out, "pve_up").contains(&r#"pve_up{id="qemu/1"} 1"#));
    assert_eq!(samples(&out, "pve_guest_info").len(), 1);
    assert_eq!(samples(&out, "pve_lock_state").len(), 9);
}

#[test]
fn samples_sort_by_id_bytes_not_api_order() {
    let inputs = resources(
        r#"{"data":[
        {"id":"qemu/101","type":"qemu","mem":3},
        {"id":"qemu/1000","type":"qemu","mem":2},
        {"id":"qemu/100","type":"qemu","mem":1},
        {"id":"lxc/300","type":"lxc","mem":4}
    ]}"#,
    );
    let (out, _) = render_all(&inputs);
    assert_eq!(
        samples(&out, "pve_memory_usage_bytes"),
        [
            r#"pve_memory_usage_bytes{id="lxc/300"} 4"#,
            r#"pve_memory_usage_bytes{id="qemu/100"} 1"#,
            r#"pve_memory_usage_bytes{id="qemu/1000"} 2"#,
            r#"pve_memory_usage_bytes{id="qemu/101"} 3"#,
        ]
    );
}

#[test]
fn pve8_shapes() {
    let inputs = ScrapeInputs {
        cluster_resources: Some(Ok(model::parse_cluster_resources(&fixture(
            "cluster_resources_pve8.json",
        ))
        .unwrap())),
        version: Some(Ok(model::parse_version(
            br#"{"data":{"version":"8.4.1","release":"8.4","repoid":"2a5fa54a"}}"#,
        )
        .unwrap())),
        ..common::full_inputs()
    };
    let (out, outcomes) = render_all(&inputs);
    assert_outcomes(&outcomes, &[]);
    assert_eq!(
        samples(&out, "pve_version_info"),
        [r#"pve_version_info{release="8.4",repoid="2a5fa54a",version="8.4.1"} 1"#]
    );
    assert!(!out.contains("sdn/"), "sdn entries carry no numeric keys");
    assert_eq!(
        samples(&out, "pve_storage_info"),
        [
            r#"pve_storage_info{content="images,rootdir",id="storage/shire/local-zfs",node="shire",plugintype="zfspool",storage="local-zfs"} 1"#
        ]
    );
    assert_eq!(
        samples(&out, "pve_memory_usage_bytes"),
        [
            r#"pve_memory_usage_bytes{id="node/shire"} 34359738368"#,
            r#"pve_memory_usage_bytes{id="qemu/100"} 2147483648"#,
        ]
    );
}

#[test]
fn version_with_missing_keys() {
    let inputs = ScrapeInputs {
        version: Some(Ok(
            model::parse_version(br#"{"data":{"version":9.1}}"#).unwrap()
        )),
        ..common::full_inputs()
    };
    let (out, _) = render_all(&inputs);
    assert_eq!(
        samples(&out, "pve_version_info"),
        [r#"pve_version_info{release="",repoid="",version="9.1"} 1"#]
    );
}

#[test]
fn standalone_node() {
    let inputs = ScrapeInputs {
        // A standalone node still answers the qdevice call (with an error): it is discarded.
        qdevice: Some(Err(CallFailure::Transport("connection reset".to_owned()))),
        ..cluster_status(STANDALONE)
    };
    let (out, outcomes) = render_all(&inputs);
    assert_outcomes(&outcomes, &[]);
    assert!(samples(&out, "pve_cluster_info").is_empty());
    assert!(!out.contains("pve_cluster_info"), "no HELP/TYPE either");
    assert!(!out.contains("pve_qdevice"));
    assert_eq!(
        samples(&out, "pve_node_info"),
        [r#"pve_node_info{id="node/pve",level="",name="pve",nodeid="0"} 1"#]
    );
    assert_eq!(
        samples(&out, "pve_not_backed_up_total"),
        [r#"pve_not_backed_up_total{id="cluster/pve"} 3"#]
    );
    assert_eq!(
        samples(&out, "pve_not_backed_up_guests"),
        [r#"pve_not_backed_up_guests{id="cluster/pve"} 3"#]
    );
    assert!(samples(&out, "pve_up").contains(&r#"pve_up{id="node/pve"} 1"#));
    assert!(
        !samples(&out, "pve_up")
            .iter()
            .any(|l| l.contains("cluster/"))
    );
}

#[test]
fn standalone_node_collectors_use_its_name() {
    let standalone = cluster_status(STANDALONE);
    let (out, outcomes) = render(&standalone, &Selection::new(false, true));
    assert_outcomes(&outcomes, &[]);
    assert_eq!(
        samples(&out, "pve_subscription_info"),
        [r#"pve_subscription_info{id="node/pve",level="c"} 1"#]
    );
    assert!(samples(&out, "pve_onboot_status")[0].contains(r#"node="pve""#));
}

#[test]
fn no_local_node_fails_node_collectors_only() {
    let inputs = cluster_status(
        r#"{"data":[{"type":"cluster","name":"c","quorate":1,"nodes":2,"version":3},
            {"type":"node","id":"node/a","name":"a","local":0,"online":1,"nodeid":1,"level":"c"}]}"#,
    );
    let (out, outcomes) = render_all(&inputs);
    assert_outcomes(
        &outcomes,
        &[
            Collector::Subscription,
            Collector::Config,
            Collector::Replication,
        ],
    );
    assert!(!out.contains("pve_subscription"));
    assert!(!out.contains("pve_onboot_status"));
    assert!(!out.contains("pve_replication"));
    assert!(samples(&out, "pve_not_backed_up_total")[0].contains("cluster/c"));
}

#[test]
fn cluster_status_403_fails_everything_that_needs_it() {
    let inputs = ScrapeInputs {
        cluster_status: Some(Err(status(403, "Permission check failed (/, Sys.Audit)"))),
        ..common::full_inputs()
    };
    let (out, outcomes) = render_all(&inputs);
    assert_outcomes(
        &outcomes,
        &[
            Collector::Status,
            Collector::Node,
            Collector::Cluster,
            Collector::BackupInfo,
            Collector::Qdevice,
            Collector::Subscription,
            Collector::Config,
            Collector::Replication,
        ],
    );
    let resource_families: Vec<&str> = Collector::Resources
        .families()
        .iter()
        .map(|f| f.name)
        .collect();
    let expected: Vec<&str> = resource_families
        .iter()
        .copied()
        .chain(["pve_version_info"])
        .collect();
    assert_eq!(common::family_names(&out), expected);
}

#[test]
fn cluster_resources_500_fails_status_and_resources_only() {
    let inputs = ScrapeInputs {
        cluster_resources: Some(Err(status(500, "Internal Server Error"))),
        ..common::full_inputs()
    };
    let (out, outcomes) = render_all(&inputs);
    assert_outcomes(&outcomes, &[Collector::Status, Collector::Resources]);
    let names = common::family_names(&out);
    assert_eq!(names.first(), Some(&"pve_node_info"));
    assert!(!names.contains(&"pve_up"));
    assert!(names.contains(&"pve_onboot_status"));
}

#[test]
fn malformed_body_fails_its_collector() {
    let error: ModelError = model::parse_version(b"<html>proxy error</html>").unwrap_err();
    let inputs = ScrapeInputs {
        version: Some(Err(CallFailure::from(error))),
        ..common::full_inputs()
    };
    let (out, outcomes) = render_all(&inputs);
    assert_outcomes(&outcomes, &[Collector::Version]);
    assert!(!out.contains("pve_version_info"));
}

#[test]
fn unfetched_input_fails_its_collector() {
    let inputs = ScrapeInputs {
        not_backed_up: None,
        replication: Some(Err(CallFailure::Deadline)),
        ..common::full_inputs()
    };
    let (out, outcomes) = render_all(&inputs);
    assert_outcomes(&outcomes, &[Collector::BackupInfo, Collector::Replication]);
    assert!(!out.contains("pve_not_backed_up"));
    assert!(!out.contains("pve_replication"));
}

type QDeviceInput = Option<Result<model::QDevice, CallFailure>>;

#[test]
fn qdevice_outcomes() {
    let with = |qdevice| ScrapeInputs {
        qdevice,
        ..common::full_inputs()
    };
    // (input, collector succeeds, families printed)
    let cases: Vec<(QDeviceInput, bool, bool)> = vec![
        (
            Some(Ok(model::parse_qdevice(br#"{"data":{}}"#).unwrap())),
            true,
            false,
        ),
        (
            Some(Ok(model::parse_qdevice(br#"{"data":null}"#).unwrap())),
            true,
            false,
        ),
        (Some(Err(status(500, "no qdevice configured"))), true, false),
        (
            Some(Err(status(403, "Permission check failed"))),
            true,
            false,
        ),
        (Some(Err(CallFailure::Timeout)), false, false),
        (
            Some(Err(CallFailure::Transport("connection refused".to_owned()))),
            false,
            false,
        ),
        (
            Some(Err(CallFailure::Parse(
                model::parse_qdevice(b"nope").unwrap_err(),
            ))),
            false,
            false,
        ),
        (None, false, false),
        (
            Some(Ok(model::parse_qdevice(&fixture("qdevice.json")).unwrap())),
            true,
            true,
        ),
    ];
    for (qdevice, success, printed) in cases {
        let label = format!("{qdevice:?}");
        let (out, outcomes) = render_all(&with(qdevice));
        assert_eq!(
            outcome(&outcomes, Collector::Qdevice),
            Some(success),
            "{label}"
        );
        assert_eq!(out.contains("pve_qdevice"), printed, "{label}");
    }

    let disconnected = with(Some(Ok(model::parse_qdevice(
        br#"{"data":{"Model":"Net","State":"Disconnected","QNetd host":"qnetd \"lab\""}}"#,
    )
    .unwrap())));
    let (out, _) = render_all(&disconnected);
    assert_eq!(
        samples(&out, "pve_qdevice_up"),
        [r#"pve_qdevice_up{id="cluster/middleearth"} 0"#]
    );
    assert_eq!(
        samples(&out, "pve_qdevice_info"),
        [
            r#"pve_qdevice_info{algorithm="",id="cluster/middleearth",model="Net",qnetd_host="qnetd \"lab\"",state="Disconnected",tie_breaker=""} 1"#
        ]
    );
}

#[test]
fn not_backed_up_compat_flag() {
    let mut selection = Selection::new(true, false);
    let (out, _) = render(&common::full_inputs(), &selection);
    assert!(out.contains("pve_not_backed_up_total"));
    selection.compat_not_backed_up_total = false;
    let (out, outcomes) = render(&common::full_inputs(), &selection);
    assert_eq!(outcome(&outcomes, Collector::BackupInfo), Some(true));
    assert!(!out.contains("pve_not_backed_up_total"));
    assert_eq!(
        samples(&out, "pve_not_backed_up_guests"),
        [r#"pve_not_backed_up_guests{id="cluster/middleearth"} 3"#]
    );
    assert_eq!(
        samples(&out, "pve_not_backed_up_info"),
        [
            r#"pve_not_backed_up_info{id="lxc/201"} 1"#,
            r#"pve_not_backed_up_info{id="qemu/137"} 1"#,
            r#"pve_not_backed_up_info{id="qemu/9000"} 1"#,
        ]
    );
}

#[test]
fn nothing_to_back_up() {
    let inputs = ScrapeInputs {
        not_backed_up: Some(Ok(model::parse_not_backed_up(br#"{"data":[]}"#).unwrap())),
        ..common::full_inputs()
    };
    let (out, _) = render_all(&inputs);
    assert_eq!(
        samples(&out, "pve_not_backed_up_guests"),
        [r#"pve_not_backed_up_guests{id="cluster/middleearth"} 0"#]
    );
    assert!(out.contains("# TYPE pve_not_backed_up_info gauge\n"));
    assert!(samples(&out, "pve_not_backed_up_info").is_empty());
}

#[test]
fn subscription_states() {
    let with = |body: &str| ScrapeInputs {
        subscription: Some(Ok(model::parse_subscription(body.as_bytes()).unwrap())),
        ..common::full_inputs()
    };
    let (out, _) = render_all(&with(
        r#"{"data":{"status":"notfound","message":"There is no subscription key","url":"https://www.proxmox.com"}}"#,
    ));
    assert_eq!(
        samples(&out, "pve_subscription_info"),
        [r#"pve_subscription_info{id="node/shire",level="unknown"} 1"#]
    );
    assert!(
        samples(&out, "pve_subscription_status")
            .contains(&r#"pve_subscription_status{id="node/shire",status="notfound"} 1"#)
    );
    assert!(samples(&out, "pve_subscription_next_due_timestamp_seconds").is_empty());
    assert!(out.contains("# TYPE pve_subscription_next_due_timestamp_seconds gauge\n"));

    let (out, _) = render_all(&with(
        r#"{"data":{"status":"expired","level":"s","nextduedate":"2024-02-29"}}"#,
    ));
    assert_eq!(
        samples(&out, "pve_subscription_status"),
        [
            r#"pve_subscription_status{id="node/shire",status="new"} 0"#,
            r#"pve_subscription_status{id="node/shire",status="notfound"} 0"#,
            r#"pve_subscription_status{id="node/shire",status="active"} 0"#,
            r#"pve_subscription_status{id="node/shire",status="invalid"} 0"#,
            r#"pve_subscription_status{id="node/shire",status="expired"} 1"#,
            r#"pve_subscription_status{id="node/shire",status="suspended"} 0"#,
        ]
    );
    assert_eq!(
        samples(&out, "pve_subscription_next_due_timestamp_seconds"),
        [r#"pve_subscription_next_due_timestamp_seconds{id="node/shire"} 1709164800"#]
    );

    for body in [
        r#"{"data":{"status":"Active","level":"c","nextduedate":"2025-02-29"}}"#,
        r#"{"data":{"status":"active","level":"c","nextduedate":"soon"}}"#,
        r#"{"data":{"status":"active","level":"c","nextduedate":""}}"#,
    ] {
        let (out, outcomes) = render_all(&with(body));
        assert_eq!(outcome(&outcomes, Collector::Subscription), Some(true));
        assert!(
            samples(&out, "pve_subscription_next_due_timestamp_seconds").is_empty(),
            "{body}"
        );
        assert_eq!(samples(&out, "pve_subscription_info").len(), 1);
        assert_eq!(samples(&out, "pve_subscription_status").len(), 6);
    }
    let (out, _) = render_all(&with(r#"{"data":{"status":"Active"}}"#));
    assert!(
        samples(&out, "pve_subscription_status")
            .iter()
            .all(|l| l.ends_with(" 0")),
        "other status: all zero"
    );
}

#[test]
fn next_due_dates_are_midnight_utc() {
    assert_eq!(next_due_timestamp("1970-01-01"), Some(0));
    assert_eq!(next_due_timestamp("2026-03-01"), Some(1_772_323_200));
    assert_eq!(next_due_timestamp("2000-02-29"), Some(951_782_400));
    assert_eq!(next_due_timestamp("2026-1-5"), Some(1_767_571_200));
    assert_eq!(next_due_timestamp("1969-12-31"), Some(-86_400));
    for bad in [
        "",
        "2026",
        "2026-13-01",
        "2026-00-10",
        "2026-04-31",
        "1900-02-29",
        "26-01-01",
        "2026-01-01T00:00",
        "2026-01-+1",
        "2026-01-01-01",
        "２０２６-01-01",
    ] {
        assert_eq!(next_due_timestamp(bad), None, "{bad}");
    }
}

#[test]
fn onboot_for_every_local_guest() {
    let (out, _) = render_all(&common::full_inputs());
    assert_eq!(
        samples(&out, "pve_onboot_status"),
        [
            r#"pve_onboot_status{id="lxc/201",node="shire",type="lxc"} 1"#,
            r#"pve_onboot_status{id="qemu/100",node="shire",type="qemu"} 1"#,
            r#"pve_onboot_status{id="qemu/1000",node="shire",type="qemu"} 0"#,
            r#"pve_onboot_status{id="qemu/101",node="shire",type="qemu"} 0"#,
            r#"pve_onboot_status{id="qemu/9000",node="shire",type="qemu"} 0"#,
        ]
    );
}

fn with_config(
    guest: GuestRef,
    result: Option<Result<model::GuestConfig, CallFailure>>,
) -> ScrapeInputs {
    let mut inputs = common::full_inputs();
    match result {
        Some(result) => inputs.guest_configs.insert(guest, result),
        None => inputs.guest_configs.remove(&guest),
    };
    inputs
}

const VM_101: GuestRef = GuestRef {
    kind: GuestType::Qemu,
    vmid: 101,
};

#[test]
fn guest_that_left_the_node_is_dropped_silently() {
    for failure in [
        CallFailure::guest_config_status(
            500,
            "Configuration file 'nodes/shire/qemu-server/101.conf' does not exist",
        ),
        CallFailure::guest_config_status(404, "Not Found"),
        status(
            500,
            "Configuration file 'nodes/shire/qemu-server/101.conf' does not exist",
        ),
    ] {
        assert!(failure.is_guest_gone());
        let (out, outcomes) = render_all(&with_config(VM_101, Some(Err(failure))));
        assert_eq!(outcome(&outcomes, Collector::Config), Some(true));
        let onboot = samples(&out, "pve_onboot_status");
        assert_eq!(onboot.len(), 4);
        assert!(!onboot.iter().any(|l| l.contains("qemu/101")));
    }
}

#[test]
fn other_guest_failures_fail_config_but_keep_the_rest() {
    for failure in [
        Some(Err(status(
            595,
            "Errors during connection establishment, proxy handshake: Connection refused",
        ))),
        Some(Err(CallFailure::Timeout)),
        Some(Err(status(
            403,
            "Permission check failed (/vms/101, VM.Audit)",
        ))),
        None,
    ] {
        let label = format!("{failure:?}");
        let (out, outcomes) = render_all(&with_config(VM_101, failure));
        assert_eq!(
            outcome(&outcomes, Collector::Config),
            Some(false),
            "{label}"
        );
        let onboot = samples(&out, "pve_onboot_status");
        assert_eq!(onboot.len(), 4, "{label}");
        assert!(!onboot.iter().any(|l| l.contains("qemu/101")));
    }
}

#[test]
fn guest_list_failure_fails_config() {
    let inputs = ScrapeInputs {
        lxc: Some(Err(status(595, "Errors during connection establishment"))),
        ..common::full_inputs()
    };
    let (out, outcomes) = render_all(&inputs);
    assert_outcomes(&outcomes, &[Collector::Config]);
    assert!(!out.contains("pve_onboot_status"));
}

#[test]
fn guests_to_configure_from_both_lists() {
    let mut inputs = common::full_inputs();
    inputs.qemu = Some(Ok(model::parse_qemu_list(
        br#"{"data":[{"vmid":101},{"vmid":"100"},{"vmid":101},{"name":"no vmid"},{"vmid":1.5}]}"#,
    )
    .unwrap()));
    let guests: Vec<String> = inputs
        .guests_to_configure()
        .iter()
        .map(GuestRef::id)
        .collect();
    assert_eq!(guests, ["lxc/201", "qemu/100", "qemu/101"]);
    inputs.lxc = None;
    inputs.qemu = Some(Err(CallFailure::Timeout));
    assert!(inputs.guests_to_configure().is_empty());
}

#[test]
fn replication_jobs() {
    let (out, _) = render_all(&common::full_inputs());
    assert_eq!(
        samples(&out, "pve_replication_duration_seconds"),
        [
            r#"pve_replication_duration_seconds{id="100-0"} 2.532"#,
            r#"pve_replication_duration_seconds{id="100-1"} 0.4"#,
            r#"pve_replication_duration_seconds{id="201-0"} 1"#,
        ],
        "the never-run job 1000-0 has no duration"
    );
    assert_eq!(
        samples(&out, "pve_replication_failed_syncs"),
        [
            r#"pve_replication_failed_syncs{id="100-0"} 0"#,
            r#"pve_replication_failed_syncs{id="100-1"} 2"#,
            r#"pve_replication_failed_syncs{id="1000-0"} 0"#,
            r#"pve_replication_failed_syncs{id="201-0"} 0"#,
        ]
    );
    assert!(
        samples(&out, "pve_replication_last_sync_timestamp_seconds")
            .contains(&r#"pve_replication_last_sync_timestamp_seconds{id="1000-0"} 0"#)
    );
    assert_eq!(
        samples(&out, "pve_replication_info")[3],
        r#"pve_replication_info{guest="lxc/201",id="201-0",source="node/shire",target="node/rivendell",type="local"} 1"#
    );
    let families = common::family_names(&out);
    assert_eq!(families.last(), Some(&"pve_replication_info"));
}

#[test]
fn replication_with_missing_fields_and_no_jobs() {
    let inputs = ScrapeInputs {
        replication: Some(Ok(model::parse_replication(
            br#"{"data":[{"id":"5-0","guest":"5","fail_count":"1"},{"guest":6}]}"#,
        )
        .unwrap())),
        ..common::full_inputs()
    };
    let (out, _) = render_all(&inputs);
    assert_eq!(
        samples(&out, "pve_replication_info"),
        [r#"pve_replication_info{guest="",id="5-0",source="",target="",type=""} 1"#]
    );
    assert_eq!(
        samples(&out, "pve_replication_failed_syncs"),
        [r#"pve_replication_failed_syncs{id="5-0"} 1"#]
    );

    let empty = ScrapeInputs {
        replication: Some(Ok(model::parse_replication(br#"{"data":[]}"#).unwrap())),
        ..common::full_inputs()
    };
    let (out, outcomes) = render_all(&empty);
    assert_eq!(outcome(&outcomes, Collector::Replication), Some(true));
    assert_eq!(
        common::family_names(&out)
            .iter()
            .filter(|n| n.starts_with("pve_replication"))
            .count(),
        6
    );
}

#[test]
fn node_info_and_cluster_info_are_left_out_when_empty() {
    let inputs = cluster_status(r#"{"data":[]}"#);
    let (out, outcomes) = render(&inputs, &Selection::new(true, false));
    // Without a cluster entry or a local node there is no id for the backup-info families.
    assert_outcomes(&outcomes, &[Collector::BackupInfo]);
    assert!(!out.contains("pve_node_info"));
    assert!(!out.contains("pve_cluster_info"));
    assert!(!out.contains("pve_qdevice"));
    assert!(out.contains("# TYPE pve_up gauge"));
}

#[test]
fn cluster_and_node_halves() {
    let inputs = common::full_inputs();
    let (_, outcomes) = render(&inputs, &Selection::new(true, false));
    let names: Vec<&str> = outcomes.iter().map(|(c, _)| c.name()).collect();
    assert_eq!(
        names,
        [
            "status",
            "resources",
            "node",
            "cluster",
            "version",
            "backup-info",
            "qdevice"
        ]
    );
    let (out, outcomes) = render(&inputs, &Selection::new(false, true));
    let names: Vec<&str> = outcomes.iter().map(|(c, _)| c.name()).collect();
    assert_eq!(names, ["subscription", "config", "replication"]);
    assert_eq!(
        common::family_names(&out).first(),
        Some(&"pve_subscription_info")
    );
    let (out, outcomes) = render(&inputs, &Selection::new(false, false));
    assert!(outcomes.is_empty());
    assert!(out.is_empty());
}

#[test]
fn disabled_collectors_are_neither_run_nor_reported() {
    let selection = Selection {
        collectors: CollectorSet::all()
            .without(Collector::Resources)
            .without(Collector::Config),
        ..Selection::new(true, true)
    };
    let (out, outcomes) = render(&common::full_inputs(), &selection);
    assert!(
        !outcomes
            .iter()
            .any(|(c, _)| matches!(c, Collector::Resources | Collector::Config))
    );
    assert_eq!(outcomes.len(), 8);
    assert!(!out.contains("pve_memory_size_bytes"));
    assert!(!out.contains("pve_onboot_status"));
    assert!(out.contains("pve_up{"));
    // /cluster/resources is still needed by `status`; the guest lists are not needed at all.
    assert!(selection.needs(Endpoint::ClusterResources));
    assert!(!selection.needs(Endpoint::QemuList));
    assert!(!selection.needs(Endpoint::GuestConfig));
}

/// R1: per scrape, `cluster=1&node=1` makes 9 + Q + L calls, `cluster=1&node=0` 5, `cluster=0&node=1`
/// 5 + Q + L (the per-guest config calls are the Q + L).
#[test]
fn endpoints_needed_match_the_call_formulas() {
    let count = |selection: Selection| {
        Endpoint::ALL
            .iter()
            .filter(|e| selection.needs(**e))
            .filter(|e| !e.per_guest())
            .count()
    };
    assert_eq!(count(Selection::new(true, true)), 9);
    assert_eq!(count(Selection::new(true, false)), 5);
    assert_eq!(count(Selection::new(false, true)), 5);
    assert_eq!(count(Selection::new(false, false)), 0);
    assert!(Selection::new(false, true).needs(Endpoint::ClusterStatus));
    assert!(!Selection::new(false, true).needs(Endpoint::ClusterResources));
    assert!(Selection::new(false, true).needs(Endpoint::GuestConfig));
    assert!(!Selection::new(true, false).needs(Endpoint::GuestConfig));
}

#[test]
fn query_flag_truthiness_is_the_incumbents() {
    for (value, expected) in [
        ("", false),
        ("0", false),
        ("false", false),
        ("FALSE", false),
        ("False", false),
        ("1", true),
        ("true", true),
        ("no", true),
        ("off", true),
        (" 0", true),
    ] {
        assert_eq!(Selection::parse_flag(value), expected, "{value:?}");
    }
}

#[test]
fn collector_names_round_trip() {
    for collector in Collector::ALL {
        assert_eq!(Collector::from_name(collector.name()), Some(collector));
    }
    assert_eq!(Collector::from_name("pve-api-metrics"), None);
}

#[test]
fn call_failure_classification() {
    assert!(status(595, "Errors during connection establishment").target_unreachable());
    assert!(status(596, "Connection timed out").target_unreachable());
    assert!(CallFailure::Timeout.target_unreachable());
    assert!(CallFailure::Transport("tls: unknown issuer".to_owned()).target_unreachable());
    assert!(!status(401, "No ticket").target_unreachable());
    assert!(!status(500, "Internal Server Error").target_unreachable());
    assert!(!CallFailure::Deadline.target_unreachable());

    assert_eq!(
        CallFailure::guest_config_status(500, "Internal Server Error"),
        status(500, "Internal Server Error")
    );
    assert!(!status(500, "Internal Server Error").is_guest_gone());
    assert!(!CallFailure::Timeout.is_guest_gone());
    assert_eq!(
        status(403, "Permission check failed (/, Sys.Audit)").to_string(),
        "403 Permission check failed (/, Sys.Audit)"
    );
    assert_eq!(CallFailure::Timeout.http_status(), None);
}

#[test]
fn failover_target_gauge() {
    let mut encoder = Encoder::new(Format::Text);
    collectors::encode_failover_target(&mut encoder, "rivendell.lan:8006");
    let out = String::from_utf8(encoder.finish()).unwrap();
    assert_eq!(
        out,
        "# HELP pve_scrape_failover_target The target that answered the cluster collectors of this scrape because the requested target could not be reached (value 1).\n\
         # TYPE pve_scrape_failover_target gauge\n\
         pve_scrape_failover_target{target=\"rivendell.lan:8006\"} 1\n"
    );
}

#[test]
fn wrong_types_everywhere_never_break_a_scrape() {
    let inputs = ScrapeInputs {
        cluster_status: Some(Ok(model::parse_cluster_status(
            br#"{"data":[{"type":"cluster","name":["x"],"quorate":"yes"},{"type":"node","name":"a","local":true,"online":"1","nodeid":[1],"level":{"x":1}}]}"#,
        )
        .unwrap())),
        cluster_resources: Some(Ok(model::parse_cluster_resources(
            br#"{"data":[{"id":5,"type":"qemu","status":null},{"id":"qemu/1","type":["qemu"],"mem":"7"},{"id":"lxc/2","type":"lxc","hastate":1,"lock":[],"tags":{}}]}"#,
        )
        .unwrap())),
        ..common::full_inputs()
    };
    let (out, outcomes) = render_all(&inputs);
    // The cluster entry has no usable name: no cluster id, so the cluster-scoped families fall back
    // to the local node (backup-info) or are left out (cluster_info, qdevice).
    assert_outcomes(&outcomes, &[]);
    assert_eq!(
        samples(&out, "pve_up"),
        [
            r#"pve_up{id="5"} 0"#,
            r#"pve_up{id="lxc/2"} 0"#,
            r#"pve_up{id="node/a"} 1"#
        ]
    );
    assert_eq!(
        samples(&out, "pve_memory_usage_bytes"),
        [r#"pve_memory_usage_bytes{id="qemu/1"} 7"#]
    );
    assert_eq!(
        samples(&out, "pve_node_info"),
        [r#"pve_node_info{id="node/a",level="",name="a",nodeid=""} 1"#]
    );
    assert!(!out.contains("pve_cluster_info"));
    assert!(!out.contains("pve_qdevice"));
    assert_eq!(
        samples(&out, "pve_not_backed_up_guests"),
        [r#"pve_not_backed_up_guests{id="cluster/a"} 3"#]
    );
}
