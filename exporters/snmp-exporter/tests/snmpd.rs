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

const V3_AUTHS: &str = "auths:\n  v3:\n    version: 3\n    username: labuser\n    security_level: authPriv\n    password: labauthpass\n    auth_protocol: SHA\n    priv_password: labprivpass\n    priv_protocol: AES\n  v3wrong:\n    version: 3\n    username: labuser\n    security_level: authPriv\n    password: notthepassword\n    auth_protocol: SHA\n    priv_password: labprivpass\n    priv_protocol: AES\n  v3nouser:\n    version: 3\n    username: nobodyhere\n    security_level: authPriv\n    password: labauthpass\n    auth_protocol: SHA\n    priv_password: labprivpass\n    priv_protocol: AES\n  v3wrongpriv:\n    version: 3\n    username: labuser\n    security_level: authPriv\n    password: labauthpass\n    auth_protocol: SHA\n    priv_password: notthepassword\n    priv_protocol: AES\n  v3ctx:\n    version: 3\n    username: labuser\n    security_level: authPriv\n    password: labauthpass\n    auth_protocol: SHA\n    priv_password: labprivpass\n    priv_protocol: AES\n    context_name: labctx\n";

/// The embedded modules under `auths` (split format).
fn with_default_modules(auths: &str) -> String {
    with_modules(auths, &snmp_exporter::config::default::config())
}

fn with_modules(auths: &str, config: &snmp_exporter::config::Config) -> String {
    format!(
        "{auths}modules:\n{}",
        indent(&snmp_exporter::config::emit::emit(
            config,
            snmp_exporter::config::emit::Layout::Flat,
            false
        ))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_credential_failures_are_auth_failures_reported_at_once() {
    let Some(agent) = Snmpd::start() else { return };
    let target = agent.target();
    let exporter = Exporter::start(Some(&with_default_modules(V3_AUTHS)), &[]).await;
    // net-snmp answers a wrong digest and an unknown user with an unauthenticated Report
    // (usmStatsWrongDigests / usmStatsUnknownUserNames): no waiting for timeouts or retries.
    for (auth, counter) in [
        ("v3wrong", "usmStatsWrongDigests"),
        ("v3nouser", "usmStatsUnknownUserNames"),
    ] {
        let started = Instant::now();
        let (status, text) = exporter
            .get(&format!("/snmp?target={target}&auth={auth}"))
            .await;
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{auth}: {:?} (module timeout is 5s)",
            started.elapsed()
        );
        assert_eq!(value(&text, "snmp_up"), Some(0.0), "{auth}: {text}");
        assert_eq!(value(&text, "snmp_scrape_packets_retried"), Some(0.0));
        assert!(samples(&text, "ifMtu").is_empty());
        assert_eq!(
            exporter
                .state
                .metrics
                .walk_failures
                .get(&["if_mib", "auth"]),
            Some(if auth == "v3wrong" { 3.0 } else { 6.0 }),
            "get and both walks fail as auth ({counter})"
        );
        assert_eq!(
            exporter
                .state
                .metrics
                .walk_failures
                .get(&["if_mib", "timeout"]),
            None
        );
    }
    // A wrong priv password authenticates but cannot be decrypted: net-snmp drops it without a
    // Report (its own snmpget says "Timeout" too), so this one is a timeout.
    let (_, text) = exporter
        .get_with(
            &format!("/snmp?target={target}&auth=v3wrongpriv"),
            &[("X-Prometheus-Scrape-Timeout-Seconds", "1")],
        )
        .await;
    assert_eq!(value(&text, "snmp_up"), Some(0.0));
    assert_eq!(
        exporter
            .state
            .metrics
            .walk_failures
            .get(&["if_mib", "auth"]),
        Some(6.0)
    );
    // The agent logged the failures it reported.
    let log = std::fs::read_to_string(agent.dir.path().join("snmpd.log")).unwrap_or_default();
    assert!(log.contains("Authentication failed for labuser"), "{log}");
    let (_, good) = exporter
        .get(&format!("/snmp?target={target}&auth=v3"))
        .await;
    assert_eq!(value(&good, "snmp_up"), Some(1.0), "{good}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_context_names_select_the_agents_contexts() {
    // labctx exists on the agent and holds only the system group (proxied to the agent's own
    // default context); any other name is unknown to it.
    let Some(agent) = Snmpd::start_with(
        "rouser -s usm labuser priv .1 labctx\nproxy -Cn labctx -v 2c -c public 127.0.0.1:{port} .1.3.6.1.2.1.1\n",
    ) else {
        return;
    };
    let target = agent.target();
    let exporter = Exporter::start(Some(&with_default_modules(V3_AUTHS)), &[]).await;

    let (_, default_context) = exporter
        .get(&format!(
            "/snmp?target={target}&auth=v3&module=if_mib,system"
        ))
        .await;
    assert!(!samples(&default_context, "ifMtu").is_empty());
    assert_eq!(samples(&default_context, "sysName").len(), 1);

    // The auth's context_name, and snmp_context overriding the auth's (empty) one.
    for query in ["auth=v3ctx", "auth=v3&snmp_context=labctx"] {
        let (status, text) = exporter
            .get(&format!(
                "/snmp?target={target}&{query}&module=if_mib,system"
            ))
            .await;
        assert_eq!(status, 200);
        assert_eq!(value(&text, "snmp_up"), Some(1.0), "{query}: {text}");
        assert_eq!(samples(&text, "sysName").len(), 1, "{query}: {text}");
        assert!(value(&text, "sysUpTime").is_some());
        assert!(
            samples(&text, "ifMtu").is_empty(),
            "{query}: labctx has no interfaces: {text}"
        );
    }
    // snmp_context also overrides a configured context_name.
    let (_, text) = exporter
        .get(&format!(
            "/snmp?target={target}&auth=v3ctx&snmp_context=&module=if_mib"
        ))
        .await;
    assert!(!samples(&text, "ifMtu").is_empty(), "{text}");

    // net-snmp drops requests for a context it does not know: a timeout, bounded by the deadline.
    let started = Instant::now();
    let (status, text) = exporter
        .get_with(
            &format!("/snmp?target={target}&auth=v3&snmp_context=nosuchctx&module=system"),
            &[("X-Prometheus-Scrape-Timeout-Seconds", "1.5")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(value(&text, "snmp_up"), Some(0.0), "{text}");
    assert!(samples(&text, "sysName").is_empty());
}

/// The octets of every packet hex-dumped into snmpd's log (`dumpPacket`), one after another.
fn dumped_octets(log: &str) -> Vec<u8> {
    log.lines()
        .filter_map(|line| {
            let (offset, rest) = line.split_once(": ")?;
            (offset.len() == 4 && offset.bytes().all(|b| b.is_ascii_digit())).then_some(rest)
        })
        .flat_map(|rest| {
            rest.get(..50)
                .unwrap_or(rest)
                .split_whitespace()
                .filter_map(|octet| u8::from_str_radix(octet, 16).ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_snmp_engineid_is_sent_as_the_context_engine_id() {
    // The agent's engine ID is fixed so the test can name it. labauth (authNoPriv) leaves the
    // scoped PDU readable in the agent's packet dump.
    let Some(agent) = Snmpd::start_with(
        "exactEngineID 0x80001f8803aabbccddee\ncreateUser labauth SHA labauthpass\nrouser labauth auth\n[snmp] dumpPacket yes\n",
    ) else {
        return;
    };
    let (engine, _) = agent.engine();
    assert_eq!(
        engine.replace(' ', "").to_ascii_lowercase(),
        "hex-string:80001f8803aabbccddee",
        "exactEngineID took effect"
    );
    let target = agent.target();
    let auths = format!(
        "{V3_AUTHS}  v3auth:\n    version: 3\n    username: labauth\n    security_level: authNoPriv\n    password: labauthpass\n    auth_protocol: SHA\n"
    );
    let exporter = Exporter::start(Some(&with_default_modules(&auths)), &[]).await;
    let scrape = |query: String| {
        let (exporter, target) = (&exporter, &target);
        async move {
            let (status, text) = exporter
                .get_with(
                    &format!("/snmp?target={target}&module=if_mib,system&{query}"),
                    &[("X-Prometheus-Scrape-Timeout-Seconds", "2")],
                )
                .await;
            assert_eq!(status, 200, "{query}: {text}");
            text
        }
    };
    let mask = |text: &str| {
        stable_view(text)
            .lines()
            .filter(|line| !line.starts_with("snmp_scrape_duration_seconds"))
            .collect::<Vec<_>>()
            .join("\n")
    };

    // The agent's own engine ID as context engine: the same output as without the parameter,
    // with the same number of packets, for authPriv and authNoPriv.
    for auth in ["v3", "v3auth"] {
        let plain = scrape(format!("auth={auth}")).await;
        assert_eq!(value(&plain, "snmp_up"), Some(1.0), "{plain}");
        assert!(!samples(&plain, "ifMtu").is_empty());
        for engine_id in ["80001f8803aabbccddee", "0x80001F8803AABBCCDDEE"] {
            let text = scrape(format!("auth={auth}&snmp_engineid={engine_id}")).await;
            assert_eq!(mask(&text), mask(&plain), "{auth} {engine_id}");
            assert_eq!(
                value(&text, "snmp_scrape_packets_sent"),
                value(&plain, "snmp_scrape_packets_sent"),
                "{auth}: no extra exchanges"
            );
        }
    }

    // Another context engine ID goes on the wire as given (under the agent's own security
    // engine ID). net-snmp has no per-context-engine dispatch and answers any contextEngineID
    // from its own MIB, echoing the ID; the response must name the requested one.
    let other = scrape("auth=v3auth&snmp_engineid=80001f8803000000000001".to_owned()).await;
    assert_eq!(value(&other, "snmp_up"), Some(1.0), "{other}");
    assert!(!samples(&other, "ifMtu").is_empty());
    let log = std::fs::read_to_string(agent.dir.path().join("snmpd.log")).unwrap_or_default();
    let octets = dumped_octets(&log);
    let scoped = [
        0x04, 0x0b, 0x80, 0x00, 0x1f, 0x88, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];
    let seen = octets
        .windows(scoped.len())
        .filter(|w| *w == scoped)
        .count();
    assert!(seen >= 2, "request and response carry it ({seen})");

    // A failing context (net-snmp drops requests for a context name it does not know) follows
    // the failure policy: HTTP 200, snmp_up 0, the subtrees recorded as failed.
    let started = Instant::now();
    let failed =
        scrape("auth=v3&snmp_engineid=80001f8803000000000001&snmp_context=nosuchctx".to_owned())
            .await;
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(value(&failed, "snmp_up"), Some(0.0), "{failed}");
    assert!(samples(&failed, "ifMtu").is_empty(), "{failed}");
    assert!(samples(&failed, "sysName").is_empty(), "{failed}");
    assert_eq!(
        value(
            &failed,
            "snmp_scrape_collector_success{collector=\"1.3.6.1.2.1.2\",module=\"if_mib\"}"
        ),
        Some(0.0),
        "{failed}"
    );
    assert!(
        exporter
            .state
            .metrics
            .walk_failures
            .get(&["if_mib", "timeout"])
            .unwrap_or(0.0)
            + exporter
                .state
                .metrics
                .walk_failures
                .get(&["if_mib", "deadline"])
                .unwrap_or(0.0)
            >= 1.0,
        "{failed}"
    );
    assert_eq!(
        exporter
            .state
            .metrics
            .request_errors
            .get(&[])
            .unwrap_or(0.0),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_scrapes_survive_an_agent_restart_and_a_new_engine_id() {
    let Some(mut agent) = Snmpd::start() else {
        return;
    };
    let target = agent.target();
    let mut config = snmp_exporter::config::default::config();
    let if_mib = config.modules.get_mut("if_mib").unwrap();
    if_mib.timeout = Duration::from_millis(500);
    if_mib.retries = 2;
    let exporter = Exporter::start(Some(&with_modules(V3_AUTHS, &config)), &[]).await;
    let scrape = || async {
        let (status, text) = exporter
            .get_with(
                &format!("/snmp?target={target}&auth=v3"),
                &[("X-Prometheus-Scrape-Timeout-Seconds", "4")],
            )
            .await;
        assert_eq!(status, 200);
        text
    };
    let first = scrape().await;
    assert_eq!(value(&first, "snmp_up"), Some(1.0), "{first}");
    let rows = samples(&first, "ifMtu").len();
    let steady = value(&scrape().await, "snmp_scrape_packets_sent").unwrap();

    // Same engine ID, one more boot, engine time back at 0: the cached boots/time are stale and
    // the agent answers notInTimeWindow; the exporter re-synchronises within the scrape.
    let (engine, boots) = agent.engine();
    agent.restart(false);
    let (engine_after, boots_after) = agent.engine();
    assert_eq!(engine_after, engine);
    assert_ne!(boots_after, boots);
    let text = scrape().await;
    assert_eq!(value(&text, "snmp_up"), Some(1.0), "after restart: {text}");
    assert_eq!(samples(&text, "ifMtu").len(), rows);
    assert!(
        value(
            &text,
            "snmp_scrape_collector_success{collector=\"1.3.6.1.2.1.2\"}"
        ) == Some(1.0)
    );
    assert!(value(&text, "snmp_scrape_packets_sent").unwrap() > steady);
    let text = scrape().await;
    assert_eq!(value(&text, "snmp_scrape_packets_sent"), Some(steady));

    // A new engine ID (the device was replaced or reset): requests made with the old engine's
    // keys get an unknownEngineID Report that cannot be authenticated, so the first attempts
    // time out; the retry re-discovers the engine and the same scrape completes.
    agent.restart(true);
    assert_ne!(agent.engine().0, engine);
    let text = scrape().await;
    assert_eq!(value(&text, "snmp_up"), Some(1.0), "new engine: {text}");
    assert_eq!(samples(&text, "ifMtu").len(), rows);
    assert!(value(&text, "snmp_scrape_packets_retried").unwrap() >= 1.0);
    let text = scrape().await;
    assert_eq!(value(&text, "snmp_scrape_packets_sent"), Some(steady));
    assert_eq!(value(&text, "snmp_scrape_packets_retried"), Some(0.0));
}

#[tokio::test]
async fn an_unresolvable_target_name_answers_200_with_snmp_up_0() {
    let exporter = Exporter::start(None, &[]).await;
    let started = Instant::now();
    // `.invalid` never resolves (RFC 6761).
    let (status, text) = exporter
        .get_with(
            "/snmp?target=no-such-agent.invalid",
            &[("X-Prometheus-Scrape-Timeout-Seconds", "3")],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(value(&text, "snmp_up"), Some(0.0));
    assert_eq!(value(&text, "snmp_scrape_packets_sent"), Some(0.0));
    assert_eq!(
        value(
            &text,
            "snmp_scrape_collector_success{collector=\"1.3.6.1.2.1.2\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        exporter.state.metrics.walk_failures.get(&["if_mib", "io"]),
        Some(3.0),
        "get and both walks, reason io"
    );
}

/// ifType, ifMtu and ifOperStatus per ifIndex, with the ifDescr lookup, walked column by column.
const IF_COLUMNS: &str = "    metrics:\n    - name: ifType\n      oid: 1.3.6.1.2.1.2.2.1.3\n      type: gauge\n      indexes: [{labelname: ifIndex, type: gauge}]\n      lookups: [{labels: [ifIndex], labelname: ifDescr, oid: 1.3.6.1.2.1.2.2.1.2, type: DisplayString}]\n    - name: ifMtu\n      oid: 1.3.6.1.2.1.2.2.1.4\n      type: gauge\n      indexes: [{labelname: ifIndex, type: gauge}]\n      lookups: [{labels: [ifIndex], labelname: ifDescr, oid: 1.3.6.1.2.1.2.2.1.2, type: DisplayString}]\n    - name: ifOperStatus\n      oid: 1.3.6.1.2.1.2.2.1.8\n      type: gauge\n      indexes: [{labelname: ifIndex, type: gauge}]\n      lookups: [{labels: [ifIndex], labelname: ifDescr, oid: 1.3.6.1.2.1.2.2.1.2, type: DisplayString}]\n";

/// `family` samples by ifIndex → (full line, value).
fn by_if_index(text: &str, family: &str) -> std::collections::BTreeMap<String, (String, f64)> {
    samples(text, family)
        .into_iter()
        .map(|line| {
            let index = line
                .split("ifIndex=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap()
                .to_owned();
            let value = line.rsplit_once(' ').unwrap().1.parse().unwrap();
            (index, (line.to_owned(), value))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_filters_fetch_only_the_selected_rows() {
    let Some(agent) = Snmpd::start() else { return };
    let target = agent.target();
    let columns = "    walk: [1.3.6.1.2.1.2.2.1.2, 1.3.6.1.2.1.2.2.1.3, 1.3.6.1.2.1.2.2.1.4, 1.3.6.1.2.1.2.2.1.8]\n";
    let yaml = format!(
        "auths:\n  public_v2:\n    community: public\nmodules:\n  full:\n{columns}{IF_COLUMNS}  up_ethernet:\n{columns}{IF_COLUMNS}    filters:\n    - oid: 1.3.6.1.2.1.2.2.1.8\n      targets: [1.3.6.1.2.1.2.2.1.4]\n      values: ['^1$']\n    - oid: 1.3.6.1.2.1.2.2.1.3\n      targets: [1.3.6.1.2.1.2.2.1.4]\n      values: ['^6$', '^117$']\n  loopback_speed:\n    walk: [1.3.6.1.2.1.2]\n    metrics:\n    - name: ifMtu\n      oid: 1.3.6.1.2.1.2.2.1.4\n      type: gauge\n      indexes: [{{labelname: ifIndex, type: gauge}}]\n    - name: ifSpeed\n      oid: 1.3.6.1.2.1.2.2.1.5\n      type: gauge\n      indexes: [{{labelname: ifIndex, type: gauge}}]\n    filters:\n    - oid: 1.3.6.1.2.1.2.2.1.3\n      targets: [1.3.6.1.2.1.2.2.1.5]\n      values: ['^24$']\n"
    );
    let exporter = Exporter::start(Some(&yaml), &[]).await;
    let scrape = |module: &'static str| {
        let exporter = &exporter;
        let target = target.clone();
        async move {
            let (status, text) = exporter
                .get(&format!("/snmp?target={target}&module={module}"))
                .await;
            assert_eq!(status, 200, "{text}");
            assert_eq!(value(&text, "snmp_up"), Some(1.0), "{text}");
            text
        }
    };

    // What a full walk gives, and which rows the filters should select from it.
    let full = scrape("full").await;
    let oper = by_if_index(&full, "ifOperStatus");
    let types = by_if_index(&full, "ifType");
    let mtu = by_if_index(&full, "ifMtu");
    assert!(!mtu.is_empty());
    let wanted: Vec<&String> = mtu
        .keys()
        .filter(|i| oper[*i].1 == 1.0 && [6.0, 117.0].contains(&types[*i].1))
        .collect();

    // Both filters restrict ifMtu (ANDed); ifMtu is fetched with one GET instead of a walk; the
    // filter columns are walked once, as the module's own walk roots, and are not restricted.
    let filtered = scrape("up_ethernet").await;
    let filtered_mtu = by_if_index(&filtered, "ifMtu");
    assert_eq!(
        filtered_mtu.keys().collect::<Vec<_>>(),
        wanted,
        "full walk: oper {oper:?} type {types:?}"
    );
    for (index, (line, _)) in &filtered_mtu {
        assert_eq!(line, &mtu[index].0, "same sample as the full walk");
    }
    assert_eq!(by_if_index(&filtered, "ifOperStatus"), oper);
    assert_eq!(by_if_index(&filtered, "ifType"), types);
    let rows = mtu.len() as f64;
    assert_eq!(
        value(&filtered, "snmp_scrape_pdus_returned"),
        Some(3.0 * rows + wanted.len() as f64),
        "{filtered}"
    );
    assert!(!filtered.contains("collector=\"1.3.6.1.2.1.2.2.1.4\""));
    assert!(!filtered.contains("collector=\"filter:"), "{filtered}");
    assert_eq!(
        value(
            &filtered,
            "snmp_scrape_collector_success{collector=\"get\"}"
        ),
        if wanted.is_empty() { None } else { Some(1.0) }
    );
    assert!(
        value(&filtered, "snmp_scrape_packets_sent") <= value(&full, "snmp_scrape_packets_sent"),
        "never more packets than the unfiltered walk"
    );

    // A target inside a walked table: the table is walked anyway, the unselected rows of the
    // target column are dropped, the other columns stay whole.
    let text = scrape("loopback_speed").await;
    let loopbacks: Vec<&String> = types.keys().filter(|i| types[*i].1 == 24.0).collect();
    assert_eq!(
        by_if_index(&text, "ifSpeed").keys().collect::<Vec<_>>(),
        loopbacks,
        "{text}"
    );
    assert_eq!(by_if_index(&text, "ifMtu").len(), mtu.len());
    assert_eq!(
        value(
            &text,
            "snmp_scrape_collector_success{collector=\"filter:1.3.6.1.2.1.2.2.1.3\"}"
        ),
        Some(1.0),
        "{text}"
    );
}
