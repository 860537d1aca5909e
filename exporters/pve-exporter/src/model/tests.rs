use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

#[test]
fn cluster_status_of_a_cluster() {
    let status = parse_cluster_status(&fixture("cluster_status.json")).unwrap();
    assert_eq!(status.entries.len(), 4);
    let cluster = status.cluster().unwrap();
    assert_eq!(cluster.name.as_deref(), Some("middleearth"));
    assert_eq!(cluster.nodes.as_deref(), Some("3"));
    assert_eq!(cluster.quorate.as_deref(), Some("1"));
    assert_eq!(cluster.quorate_value(), Some(1.0));
    assert_eq!(cluster.version.as_deref(), Some("17"));
    assert_eq!(status.cluster_name(), Some("middleearth"));
    assert_eq!(status.nodes().count(), 3);
    assert_eq!(status.local_node_name(), Some("shire"));
    let local = status.local_node().unwrap();
    assert_eq!(local.id.as_deref(), Some("node/shire"));
    assert_eq!(local.nodeid.as_deref(), Some("1"));
    assert_eq!(local.level.as_deref(), Some("c"));
    assert_eq!(local.ip.as_deref(), Some("192.0.2.11"));
    assert_eq!(local.online, Some(1.0));
}

#[test]
fn cluster_status_of_a_standalone_node() {
    let status = parse_cluster_status(
        br#"{"data":[{"type":"node","id":"node/pve","name":"pve","nodeid":0,"ip":"192.0.2.5","local":1,"online":1,"level":""}]}"#,
    )
    .unwrap();
    assert!(status.cluster().is_none());
    assert_eq!(status.cluster_name(), None);
    assert_eq!(status.local_node_name(), Some("pve"));
    assert_eq!(status.local_node().unwrap().nodeid.as_deref(), Some("0"));
}

#[test]
fn local_node_needs_a_truthy_local() {
    let status = parse_cluster_status(
        br#"{"data":[
            {"type":"node","name":"a","local":0},
            {"type":"node","name":"b","local":"0"},
            {"type":"node","name":"c"},
            {"type":"node","id":"node/d","local":"1"},
            {"type":"node","name":"e","local":1}
        ]}"#,
    )
    .unwrap();
    // `d` has no name: it is taken from the id.
    assert_eq!(status.local_node_name(), Some("d"));
    assert_eq!(
        parse_cluster_status(br#"{"data":[{"type":"node","name":"a","local":0}]}"#)
            .unwrap()
            .local_node_name(),
        None
    );
}

#[test]
fn unknown_status_types_are_kept_but_not_nodes() {
    let status =
        parse_cluster_status(br#"{"data":[{"type":"quorum-device","id":"qdevice"}]}"#).unwrap();
    assert_eq!(status.entries.len(), 1);
    assert!(status.cluster().is_none());
    assert_eq!(status.nodes().count(), 0);
}

#[test]
fn cluster_resources_pve9() {
    let resources = parse_cluster_resources(&fixture("cluster_resources_pve9.json")).unwrap();
    assert_eq!(resources.len(), 17);
    let vm = &resources[0];
    assert_eq!(vm.id.as_deref(), Some("qemu/100"));
    assert_eq!(vm.resource_type(), ResourceType::Qemu);
    assert!(vm.is_guest());
    assert_eq!(vm.vmid, Some(100));
    assert_eq!(vm.template.as_deref(), Some("0"));
    assert_eq!(vm.maxmem, Some(8_589_934_592.0));
    assert_eq!(vm.cpu, Some(0.0532));
    assert_eq!(vm.tags.as_deref(), Some("prod;web"));
    assert_eq!(vm.pool.as_deref(), Some("production"));
    assert_eq!(vm.hastate.as_deref(), Some("started"));

    let unknown = resources
        .iter()
        .find(|r| r.id.as_deref() == Some("qemu/137"))
        .unwrap();
    assert_eq!(unknown.status.as_deref(), Some("unknown"));
    assert_eq!(unknown.name, None);
    assert_eq!(unknown.template, None);
    assert_eq!(unknown.maxmem, None);

    let types: Vec<ResourceType> = resources.iter().map(Resource::resource_type).collect();
    for expected in [
        ResourceType::Node,
        ResourceType::Lxc,
        ResourceType::Storage,
        ResourceType::Pool,
        ResourceType::Network,
        ResourceType::Other,
    ] {
        assert!(types.contains(&expected), "{expected:?}");
    }
    let container = resources
        .iter()
        .find(|r| r.id.as_deref() == Some("lxc/200"))
        .unwrap();
    assert_eq!(container.maxcpu, Some(0.5));
    assert_eq!(container.lock.as_deref(), Some("backup"));
    let storage = resources
        .iter()
        .find(|r| r.id.as_deref() == Some("storage/shire/ceph-vm"))
        .unwrap();
    assert_eq!(storage.shared, Some(1.0));
    assert_eq!(storage.plugintype.as_deref(), Some("rbd"));
    assert_eq!(storage.content.as_deref(), Some("rootdir,images"));
}

#[test]
fn cluster_resources_pve8() {
    let resources = parse_cluster_resources(&fixture("cluster_resources_pve8.json")).unwrap();
    assert_eq!(resources.len(), 4);
    assert_eq!(resources[3].resource_type(), ResourceType::Sdn);
    assert_eq!(resources[3].id.as_deref(), Some("sdn/shire/localnetwork"));
}

#[test]
fn wrong_types_null_and_strings_per_field() {
    let resources = parse_cluster_resources(
        br#"{"data":[{"id":"qemu/1","type":"qemu","maxmem":"1024","mem":{"rss":1},"cpu":null,
            "maxdisk":[1,2],"disk":"n/a","uptime":12.0,"netin":"1e3","status":5,"name":42,
            "template":true,"tags":["a"],"vmid":"1","shared":false,"new-field":{"deep":[1,{"x":2}]}}]}"#,
    )
    .unwrap();
    let vm = &resources[0];
    assert_eq!(vm.maxmem, Some(1024.0));
    assert_eq!(vm.mem, None);
    assert_eq!(vm.cpu, None);
    assert_eq!(vm.maxdisk, None);
    assert_eq!(vm.disk, None);
    assert_eq!(vm.uptime, Some(12.0));
    assert_eq!(vm.netin, Some(1000.0));
    assert_eq!(vm.status.as_deref(), Some("5"));
    assert_eq!(vm.name.as_deref(), Some("42"));
    assert_eq!(vm.template.as_deref(), Some("1"));
    assert_eq!(vm.tags, None);
    assert_eq!(vm.vmid, Some(1));
    assert_eq!(vm.shared, Some(0.0));
}

#[test]
fn list_elements_that_are_not_objects_are_skipped() {
    let resources =
        parse_cluster_resources(br#"{"data":[1,"x",null,[{"id":"a"}],{"id":"qemu/1"},true]}"#)
            .unwrap();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0].id.as_deref(), Some("qemu/1"));
}

#[test]
fn repeated_keys_keep_the_last_value() {
    let resources =
        parse_cluster_resources(br#"{"data":[{"id":"qemu/1","mem":1,"mem":2}]}"#).unwrap();
    assert_eq!(resources[0].mem, Some(2.0));
}

#[test]
fn data_null_is_empty() {
    assert!(
        parse_cluster_resources(br#"{"data":null}"#)
            .unwrap()
            .is_empty()
    );
    assert!(
        parse_cluster_status(br#"{"data":null}"#)
            .unwrap()
            .entries
            .is_empty()
    );
    assert_eq!(
        parse_version(br#"{"data":null}"#).unwrap(),
        Version::default()
    );
    assert!(!parse_qdevice(br#"{"data":null}"#).unwrap().is_configured());
    assert_eq!(
        parse_subscription(br#"{"data":null}"#).unwrap(),
        Subscription::default()
    );
    assert_eq!(
        parse_guest_config(br#"{"data":null}"#).unwrap(),
        GuestConfig::default()
    );
}

#[test]
fn envelope_keys_besides_data_are_ignored() {
    let version = parse_version(
        br#"{"success":1,"message":"ok","errors":{"x":"y"},"data":{"version":"9.1.4","release":"9.1","repoid":"2a5fa54a8503f96d","console":"xtermjs"}}"#,
    )
    .unwrap();
    assert_eq!(version.version.as_deref(), Some("9.1.4"));
    assert_eq!(version.console.as_deref(), Some("xtermjs"));
}

#[test]
fn structural_errors_fail_the_parse() {
    let cases: &[&[u8]] = &[
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        b"[]",
        b"{}",
        br#"{"errors":{"vmid":"invalid"}}"#,
        br#"{"data":"oops"}"#,
        br#"{"data":{"id":"x"}}"#,
        br#"{"data":[{"id":"qemu/1""#,
        br#"{"data":[]} trailing"#,
    ];
    for body in cases {
        assert!(
            parse_cluster_resources(body).is_err(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(parse_version(br#"{"data":[1]}"#).is_err());
    assert!(parse_version(br#"{"data":"9.1"}"#).is_err());
}

#[test]
fn errors_quote_the_start_of_the_body() {
    let mut body = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title>".to_vec();
    body.extend(std::iter::repeat_n(b'x', 500));
    let error = parse_version(&body).unwrap_err();
    assert_eq!(error.excerpt.len(), 200);
    assert!(error.excerpt.starts_with("<!DOCTYPE html>"));
    assert!(error.to_string().starts_with(
        "invalid JSON: expected value at line 1 column 1; body starts with \"<!DOCTYPE"
    ));

    // The excerpt never splits a character.
    let mut body = vec![b'"'; 1];
    body.extend("é".repeat(150).as_bytes());
    let error = parse_version(&body).unwrap_err();
    assert!(error.excerpt.len() <= 200);
    assert!(error.excerpt.ends_with('é'));
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let mut body = br#"{"data":[{"id":"qemu/100","type":"qemu","name":"caf"#.to_vec();
    body.extend([0xff, 0xfe]);
    body.extend(br#"","mem":5}]}"#);
    let resources = parse_cluster_resources(&body).unwrap();
    assert_eq!(resources[0].name.as_deref(), Some("caf\u{fffd}\u{fffd}"));
    assert_eq!(resources[0].mem, Some(5.0));
}

#[test]
fn escaped_keys_and_values_decode() {
    let resources =
        parse_cluster_resources(br#"{"data":[{"\u0069d":"qemu/1","name":"a\"b\\c\nd\u00fc"}]}"#)
            .unwrap();
    assert_eq!(resources[0].id.as_deref(), Some("qemu/1"));
    assert_eq!(resources[0].name.as_deref(), Some("a\"b\\c\nd\u{fc}"));
}

#[test]
fn deep_nesting_is_skipped_without_recursion() {
    for field in ["new-field", "mem"] {
        let mut body = format!(r#"{{"data":[{{"id":"x","{field}":"#).into_bytes();
        body.extend(std::iter::repeat_n(b'[', 100_000));
        body.extend(std::iter::repeat_n(b']', 100_000));
        body.extend(br#"}]}"#);
        let resources = parse_cluster_resources(&body).unwrap();
        assert_eq!(resources[0].id.as_deref(), Some("x"));
        assert_eq!(resources[0].mem, None);
    }
    let mut body = br#"{"data":"#.to_vec();
    body.extend(std::iter::repeat_n(b'[', 100_000));
    body.extend(std::iter::repeat_n(b']', 100_000));
    body.push(b'}');
    assert!(parse_cluster_resources(&body).unwrap().is_empty());
}

#[test]
fn not_backed_up() {
    let guests = parse_not_backed_up(&fixture("not_backed_up.json")).unwrap();
    let ids: Vec<Option<String>> = guests.iter().map(NotBackedUpGuest::id).collect();
    assert_eq!(
        ids,
        [
            Some("lxc/201".to_owned()),
            Some("qemu/9000".to_owned()),
            Some("qemu/137".to_owned())
        ]
    );
    assert_eq!(guests[1].name.as_deref(), Some("debian-13-template"));
    let odd = parse_not_backed_up(
        br#"{"data":[{"vmid":"7.0","type":"qemu"},{"vmid":8},{"type":"lxc"}]}"#,
    )
    .unwrap();
    assert_eq!(
        odd.iter().map(NotBackedUpGuest::id).collect::<Vec<_>>(),
        [Some("qemu/7".to_owned()), None, None]
    );
}

#[test]
fn qdevice_shapes() {
    let qdevice = parse_qdevice(&fixture("qdevice.json")).unwrap();
    assert!(qdevice.is_configured());
    assert_eq!(qdevice.model.as_deref(), Some("Net"));
    assert_eq!(qdevice.algorithm.as_deref(), Some("ffsplit"));
    assert_eq!(qdevice.qnetd_host.as_deref(), Some("192.0.2.50"));
    assert_eq!(
        qdevice.tie_breaker.as_deref(),
        Some("Node with lowest node id")
    );
    assert_eq!(qdevice.state.as_deref(), Some("Connected"));
    assert_eq!(qdevice.echo_reply.as_deref(), Some("Passed"));
    assert_eq!(qdevice.key_count, 7);

    let none = parse_qdevice(br#"{"data":{}}"#).unwrap();
    assert!(!none.is_configured());
    let odd = parse_qdevice(br#"{"data":{"Some new key":"x"}}"#).unwrap();
    assert!(odd.is_configured());
    assert_eq!(odd.state, None);
}

#[test]
fn subscription_shapes() {
    let active = parse_subscription(&fixture("subscription_active.json")).unwrap();
    assert_eq!(active.status.as_deref(), Some("active"));
    assert_eq!(active.level.as_deref(), Some("c"));
    assert_eq!(active.nextduedate.as_deref(), Some("2026-03-01"));
    let notfound = parse_subscription(
        br#"{"data":{"status":"notfound","message":"There is no subscription key","url":"https://www.proxmox.com/en/proxmox-virtual-environment/pricing"}}"#,
    )
    .unwrap();
    assert_eq!(notfound.status.as_deref(), Some("notfound"));
    assert_eq!(notfound.level, None);
    assert_eq!(notfound.nextduedate, None);
}

#[test]
fn guest_lists_and_configs() {
    let qemu = parse_qemu_list(&fixture("qemu.json")).unwrap();
    assert_eq!(
        qemu.iter().map(|g| g.vmid).collect::<Vec<_>>(),
        [Some(1000), Some(100), Some(9000), Some(101)]
    );
    assert_eq!(qemu[2].template.as_deref(), Some("1"));
    let lxc = parse_lxc_list(&fixture("lxc.json")).unwrap();
    assert_eq!(lxc[0].vmid, Some(201));

    let config =
        parse_guest_config(br#"{"data":{"onboot":1,"memory":"8192","digest":"abc"}}"#).unwrap();
    assert_eq!(config.onboot, Some(1.0));
    let unset = parse_guest_config(br#"{"data":{"hostname":"db","digest":"abc"}}"#).unwrap();
    assert_eq!(unset.onboot, None);
    assert_eq!(unset.hostname.as_deref(), Some("db"));
}

#[test]
fn guest_refs() {
    let vm = GuestRef {
        kind: GuestType::Qemu,
        vmid: 100,
    };
    assert_eq!(vm.id(), "qemu/100");
    assert_eq!(vm.config_path("shire"), "/nodes/shire/qemu/100/config");
    assert_eq!(
        GuestType::Lxc.config_path_template(),
        "/nodes/{node}/lxc/{vmid}/config"
    );
}

#[test]
fn replication_jobs() {
    let jobs = parse_replication(&fixture("replication.json")).unwrap();
    assert_eq!(jobs.len(), 4);
    let first = &jobs[0];
    assert_eq!(first.id.as_deref(), Some("100-0"));
    assert_eq!(first.guest, Some(100));
    assert_eq!(first.jobnum, Some(0));
    assert_eq!(first.vmtype.as_deref(), Some("qemu"));
    assert_eq!(first.duration, Some(2.532));
    assert_eq!(first.rate, Some(50.0));
    let never_run = &jobs[2];
    assert_eq!(never_run.duration, None);
    assert_eq!(never_run.last_sync, Some(0.0));
    assert_eq!(
        jobs[1].error.as_deref(),
        Some("command 'zfs snapshot' failed: exit code 1")
    );
    assert_eq!(jobs[3].disable, Some(1.0));
}

/// Every prefix and a set of byte mutations of every fixture decode without panicking.
#[test]
fn mangled_fixtures_never_panic() {
    let parsers: &[fn(&[u8]) -> bool] = &[
        |b| parse_cluster_status(b).is_ok(),
        |b| parse_cluster_resources(b).is_ok(),
        |b| parse_version(b).is_ok(),
        |b| parse_not_backed_up(b).is_ok(),
        |b| parse_qdevice(b).is_ok(),
        |b| parse_subscription(b).is_ok(),
        |b| parse_qemu_list(b).is_ok(),
        |b| parse_guest_config(b).is_ok(),
        |b| parse_replication(b).is_ok(),
    ];
    // Each fixture with the parser of its own endpoint: the unmangled body must decode, so a
    // parser that rejected everything could not pass this test.
    let fixtures: [(&str, usize); 10] = [
        ("cluster_status.json", 0),
        ("cluster_resources_pve9.json", 1),
        ("cluster_resources_pve8.json", 1),
        ("version.json", 2),
        ("not_backed_up.json", 3),
        ("qdevice.json", 4),
        ("subscription_active.json", 5),
        ("qemu.json", 6),
        ("lxc.json", 6),
        ("replication.json", 8),
    ];
    // A small deterministic generator: no dependency needed for a few thousand mutations.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let replacements: &[u8] = b"{}[]\",:0-.e\\ntu\xff\x00";
    for (name, own_parser) in fixtures {
        let body = fixture(name);
        assert!(parsers[own_parser](&body), "{name} does not decode");
        for end in (0..body.len()).step_by(7) {
            for parse in parsers {
                parse(&body[..end]);
            }
        }
        for _ in 0..300 {
            let mut mutated = body.clone();
            for _ in 0..3 {
                let at = (next() % mutated.len() as u64) as usize;
                mutated[at] = replacements[(next() % replacements.len() as u64) as usize];
            }
            for parse in parsers {
                parse(&mutated);
            }
        }
    }
}
