//! Scrapes of a real net-snmp snmpd on 127.0.0.1 (skipped loudly when it is not installed).

mod support;

use std::time::{Duration, Instant};

use support::{Exporter, Snmpd, samples, value};

/// Volatile values (counters, uptimes, durations) masked; only `lo` and unlabelled series kept, so
/// the snapshot holds on any Linux box whatever its other interfaces.
fn stable_view(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            if line.starts_with("# HELP snmp_scrape_collector_duration")
                || line.starts_with("# TYPE snmp_scrape_collector_duration")
            {
                continue;
            }
            out.push(line.to_owned());
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        if line.contains("ifDescr=") && !line.contains("ifDescr=\"lo\"") {
            continue;
        }
        if name.starts_with("snmp_scrape_collector_duration") {
            continue;
        }
        let volatile = name.contains("Octets")
            || name.contains("Pkts")
            || name.ends_with("Discards")
            || name.ends_with("Errors")
            || name == "sysUpTime"
            || name.ends_with("_seconds")
            // These depend on how many interfaces the machine has.
            || name == "ifNumber"
            || name == "snmp_scrape_packets_sent"
            || name == "snmp_scrape_pdus_returned";
        if volatile {
            let (series, _) = line.rsplit_once(' ').unwrap();
            out.push(format!("{series} <volatile>"));
        } else {
            out.push(line.to_owned());
        }
    }
    out.join("\n") + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_scrapes_of_a_real_agent() {
    let Some(agent) = Snmpd::start() else { return };
    let target = agent.target();
    let v3 = "auths:\n  public_v2:\n    community: public\n  v1:\n    version: 1\n  wrong:\n    community: nope\n  v3:\n    version: 3\n    username: labuser\n    security_level: authPriv\n    password: labauthpass\n    auth_protocol: SHA\n    priv_password: labprivpass\n    priv_protocol: AES\n  v3wrong:\n    version: 3\n    username: labuser\n    security_level: authPriv\n    password: notthepassword\n    auth_protocol: SHA\n    priv_password: labprivpass\n    priv_protocol: AES\n";
    let embedded = Exporter::start(None, &[]).await;

    // if_mib with the embedded default: upstream's output for `lo`; 2 + 40 PDUs per interface
    // (162 and 8 packets on the 4-interface reference box).
    let (status, text) = embedded.get(&format!("/snmp?target={target}")).await;
    assert_eq!(status, 200, "{text}");
    insta::assert_snapshot!("if_mib_lo", stable_view(&text));
    assert_eq!(value(&text, "snmp_up"), Some(1.0));
    let interfaces = samples(&text, "ifMtu").len() as f64;
    assert_eq!(value(&text, "ifNumber"), Some(interfaces));
    assert_eq!(
        value(&text, "snmp_scrape_pdus_returned"),
        Some(2.0 + 40.0 * interfaces)
    );
    let v2c_packets = value(&text, "snmp_scrape_packets_sent").unwrap();

    // module list semantics: if_mib and system once each, one sysUpTime, no duplicate counted.
    let (status, text) = embedded
        .get(&format!(
            "/snmp?target={target}&module=if_mib,system&module=if_mib"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(samples(&text, "sysUpTime").len(), 1, "{text}");
    assert!(
        value(&text, "snmp_scrape_pdus_returned{module=\"system\"}").is_some(),
        "{text}"
    );
    assert!(value(&text, "snmp_scrape_packets_sent{module=\"if_mib\"}").is_some());
    assert_eq!(samples(&text, "sysName").len(), 1);
    assert_eq!(
        embedded.state.metrics.duplicates.get(&["system"]),
        Some(0.0)
    );

    // Split-format config: v1 (no Counter64 columns), v3 authPriv twice (no discovery the
    // second time), wrong community and wrong v3 password bounded by the header deadline.
    let configured = Exporter::start(
        Some(&format!(
            "{v3}modules:\n{}",
            indent(&snmp_exporter::config::emit::emit(
                &snmp_exporter::config::default::config(),
                snmp_exporter::config::emit::Layout::Flat,
                false
            ))
        )),
        &[],
    )
    .await;
    let (_, v1) = configured
        .get(&format!("/snmp?target={target}&auth=v1"))
        .await;
    assert_eq!(value(&v1, "snmp_up"), Some(1.0));
    assert!(
        samples(&v1, "ifHCInOctets").is_empty(),
        "v1 has no Counter64"
    );
    assert!(!samples(&v1, "ifInOctets").is_empty());
    assert_eq!(
        value(&v1, "snmp_scrape_pdus_returned"),
        Some(2.0 + 32.0 * interfaces)
    );

    let (_, first) = configured
        .get(&format!("/snmp?target={target}&auth=v3"))
        .await;
    assert_eq!(value(&first, "snmp_up"), Some(1.0), "{first}");
    assert_eq!(
        value(&first, "snmp_scrape_pdus_returned"),
        Some(2.0 + 40.0 * interfaces)
    );
    let (_, second) = configured
        .get(&format!("/snmp?target={target}&auth=v3"))
        .await;
    assert_eq!(
        value(&second, "snmp_scrape_packets_sent"),
        Some(v2c_packets),
        "the second v3 scrape needs no discovery: {second}"
    );
    assert!(value(&first, "snmp_scrape_packets_sent").unwrap() > v2c_packets);

    for auth in ["wrong", "v3wrong"] {
        let started = Instant::now();
        let (status, text) = configured
            .get_with(
                &format!("/snmp?target={target}&auth={auth}"),
                &[("X-Prometheus-Scrape-Timeout-Seconds", "2")],
            )
            .await;
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{auth}: {:?}",
            started.elapsed()
        );
        assert_eq!(value(&text, "snmp_up"), Some(0.0), "{auth}: {text}");
        assert!(samples(&text, "ifMtu").is_empty());
        assert_eq!(
            value(
                &text,
                "snmp_scrape_collector_success{collector=\"1.3.6.1.2.1.2\"}"
            ),
            Some(0.0)
        );
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_alias_edge_cases_are_escaped_and_invalid_utf8_tolerated() {
    let Some(agent) = Snmpd::start() else { return };
    let exporter = Exporter::start(None, &[]).await;
    let scrape = || async {
        let (status, text) = exporter
            .get(&format!("/snmp?target={}", agent.target()))
            .await;
        assert_eq!(status, 200, "{text}");
        text
    };
    agent.set_alias(1, b"uplink \"core\" \\ test");
    let text = scrape().await;
    assert!(
        text.contains("ifMtu{ifAlias=\"uplink \\\"core\\\" \\\\ test\",ifDescr=\"lo\",ifIndex=\"1\",ifName=\"lo\"} 65536\n"),
        "{text}"
    );
    agent.set_alias(1, b"line one\nline two");
    let text = scrape().await;
    assert!(text.contains("ifAlias=\"line one\\nline two\""), "{text}");
    agent.set_alias(1, &[0x56, 0x50, 0x4E, 0x5F, 0xCA, 0xFD]);
    let text = scrape().await;
    assert!(text.contains("ifAlias=\"VPN_\u{FFFD}\u{FFFD}\""), "{text}");
    assert_eq!(value(&text, "snmp_up"), Some(1.0));
    // A non-empty alias sorts lo after the interfaces whose alias is empty.
    let mtu = samples(&text, "ifMtu");
    assert!(mtu.last().unwrap().contains("ifDescr=\"lo\""), "{mtu:?}");
}

#[tokio::test]
async fn unreachable_target_answers_200_with_snmp_up_0_within_the_deadline() {
    // A bound UDP socket that never answers: the agent is "there" but silent.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let exporter = Exporter::start(
        Some("modules:\n  m:\n    walk: [1.3.6.1.2.1.2]\n    timeout: 200ms\n    retries: 1\nauths:\n  public_v2:\n    community: public\n"),
        &[],
    )
    .await;
    let started = Instant::now();
    let (status, text) = exporter
        .get(&format!("/snmp?target=127.0.0.1:{port}&module=m"))
        .await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(value(&text, "snmp_up"), Some(0.0));
    assert_eq!(value(&text, "snmp_scrape_packets_sent"), Some(2.0));
    assert_eq!(value(&text, "snmp_scrape_packets_retried"), Some(1.0));
    assert_eq!(
        exporter.state.metrics.walk_failures.get(&["m", "timeout"]),
        Some(1.0)
    );
    drop(silent);
}
