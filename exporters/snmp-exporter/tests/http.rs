//! The `/snmp` URL contract, `/config`, reloads, and the failure and parallelism policy, driven
//! through the HTTP server with a fake agent fed from the recorded loopback walk.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use snmp_exporter::config::default;
use snmp_exporter::config::emit::{Layout, emit};
use support::{Exporter, FakeAgent, FakeConnector, recorded_walk, samples, value};

async fn fake(yaml: Option<&str>, flags: &[&str], agent: FakeAgent) -> (Exporter, Arc<FakeAgent>) {
    let agent = Arc::new(agent);
    let exporter = Exporter::start_with(yaml, flags, Arc::new(FakeConnector(agent.clone()))).await;
    (exporter, agent)
}

const SPLIT: &str = "auths:\n  public_v2:\n    community: public\n  locked:\n    community: x\n    allowed_targets: [\"10.0.0.0/8\"]\nmodules:\n  m:\n    walk: [1.3.6.1.2.1.2]\n  fenced:\n    walk: [1.3.6.1.2.1.2]\n    allowed_targets: [\"*.lan\"]\n";

#[tokio::test]
async fn every_refusal_has_upstreams_message_and_status() {
    let (exporter, _) = fake(None, &[], FakeAgent::new(recorded_walk())).await;
    let split = Exporter::start_with(
        Some(SPLIT),
        &[],
        Arc::new(FakeConnector(Arc::new(FakeAgent::new(recorded_walk())))),
    )
    .await;
    for (server, query, status, message) in [
        (
            &exporter,
            "",
            400,
            "'target' parameter must be specified once",
        ),
        (
            &exporter,
            "target=a&target=b",
            400,
            "'target' parameter must be specified once",
        ),
        (
            &exporter,
            "target=",
            400,
            "'target' parameter must be specified once",
        ),
        (
            &exporter,
            "target=host:99999",
            400,
            "invalid target 'host:99999': invalid port '99999'",
        ),
        (
            &exporter,
            "target=ftp://x",
            400,
            "invalid target 'ftp://x': only udp:// and tcp:// prefixes are supported",
        ),
        (
            &exporter,
            "target=h&module=",
            400,
            "'module' parameter must contain at least one module name",
        ),
        (
            &exporter,
            "target=h&module=,",
            400,
            "'module' parameter must contain at least one module name",
        ),
        (
            &exporter,
            "target=h&module=nope",
            400,
            "Unknown module 'nope'",
        ),
        (
            &exporter,
            "target=h&module=if_mib,nope",
            400,
            "Unknown module 'nope'",
        ),
        (
            &exporter,
            "target=h&auth=a&auth=b",
            400,
            "'auth' parameter must only be specified once",
        ),
        (&exporter, "target=h&auth=nope", 400, "Unknown auth 'nope'"),
        (
            &exporter,
            "target=h&snmp_context=a&snmp_context=b",
            400,
            "'snmp_context' parameter must only be specified once",
        ),
        (
            &exporter,
            "target=h&snmp_engineid=a&snmp_engineid=b",
            400,
            "'snmp_engineid' parameter must only be specified once",
        ),
        (
            &exporter,
            "target=h&snmp_engineid=zz",
            400,
            "invalid snmp_engineid 'zz'",
        ),
        (&split, "target=h&module=m", 200, ""),
        (
            &split,
            "target=h&module=m&auth=locked",
            403,
            "target 'h' is not allowed for auth 'locked'",
        ),
        (&split, "target=10.1.2.3&module=m&auth=locked", 200, ""),
        (
            &split,
            "target=h&module=fenced",
            403,
            "target 'h' is not allowed for module 'fenced'",
        ),
        (&split, "target=sw1.lan&module=fenced", 200, ""),
    ] {
        let (got, body) = server.get(&format!("/snmp?{query}")).await;
        assert_eq!(got, status, "{query}: {body}");
        if status != 200 {
            assert_eq!(body, format!("{message}\n"), "{query}");
        }
    }
    assert_eq!(exporter.state.metrics.request_errors.get(&[]), Some(14.0));
    // Without auth= a split file lacking public_v2 is refused (upstream #1485 confusion).
    let no_default = Exporter::start_with(
        Some("auths:\n  other:\n    community: x\nmodules:\n  m:\n    walk: [1.3.6.1.2.1.2]\n"),
        &[],
        Arc::new(FakeConnector(Arc::new(FakeAgent::new(recorded_walk())))),
    )
    .await;
    let (status, body) = no_default.get("/snmp?target=h&module=m").await;
    assert_eq!((status, body.as_str()), (400, "Unknown auth 'public_v2'\n"));
}

#[tokio::test]
async fn flat_modules_ignore_auth_and_answer_text_format_only() {
    let flat = emit(&default::config(), Layout::Flat, false);
    let (exporter, _) = fake(Some(&flat), &[], FakeAgent::new(recorded_walk())).await;
    let (status, text) = exporter
        .get_with(
            "/snmp?target=h&module=if_mib&auth=whatever",
            &[(
                "Accept",
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
            )],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains("# EOF"));
    assert!(text.contains("# TYPE ifInOctets counter\n"));
    assert_eq!(value(&text, "snmp_scrape_pdus_returned"), Some(162.0));
    assert_eq!(value(&text, "ifNumber"), Some(4.0));
    let response = exporter
        .http
        .get(format!("{}/snmp?target=h", exporter.url))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn a_walk_that_stops_halfway_keeps_the_rest_and_never_emits_empty_lookups() {
    let mut config = default::config();
    let module = config.modules.get_mut("if_mib").unwrap();
    module.max_repetitions = 4;
    module.timeout = Duration::from_millis(100);
    module.retries = 0;
    let yaml = emit(&config, Layout::Split, false);
    let agent = FakeAgent::new(recorded_walk());
    // ifXTable columns 1..18 (68 varbinds) arrive, then the agent goes silent before column 19.
    agent.go_silent_under("1.3.6.1.2.1.31.1.1", 17);
    let (exporter, _) = fake(Some(&yaml), &["--snmp.walk-concurrency", "1"], agent).await;
    let (status, text) = exporter.get("/snmp?target=h").await;
    assert_eq!(status, 200);
    assert_eq!(
        value(
            &text,
            "snmp_scrape_collector_success{collector=\"1.3.6.1.2.1.31.1.1\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            "snmp_scrape_collector_success{collector=\"1.3.6.1.2.1.2\"}"
        ),
        Some(1.0)
    );
    assert_eq!(value(&text, "snmp_up"), Some(1.0));
    assert_eq!(samples(&text, "ifMtu").len(), 4, "{text}");
    assert!(!text.contains("ifName=\"\""), "{text}");
    assert!(samples(&text, "ifCounterDiscontinuityTime").is_empty());
    assert_eq!(samples(&text, "ifHighSpeed").len(), 4);
    assert_eq!(
        exporter
            .state
            .metrics
            .walk_failures
            .get(&["if_mib", "timeout"]),
        Some(1.0)
    );

    // Silent from the first ifXTable request: the lookups' source failed, so interface samples
    // are dropped instead of appearing with ifName="" and ifAlias="".
    let agent = FakeAgent::new(recorded_walk());
    agent.go_silent_under("1.3.6.1.2.1.31.1.1", 0);
    let (exporter, _) = fake(Some(&yaml), &[], agent).await;
    let (_, text) = exporter.get("/snmp?target=h").await;
    assert!(samples(&text, "ifMtu").is_empty(), "{text}");
    assert_eq!(value(&text, "ifNumber"), Some(4.0));
    assert!(!text.contains("ifName=\"\""));
}

#[tokio::test]
async fn subtrees_run_in_parallel_up_to_the_bound_and_per_target_limit_holds() {
    let slow = || {
        let mut agent = FakeAgent::new(recorded_walk());
        agent.latency = Duration::from_millis(30);
        agent
    };
    let (exporter, agent) = fake(None, &["--snmp.walk-concurrency", "4"], slow()).await;
    exporter.get("/snmp?target=h").await;
    assert_eq!(
        agent.peak.load(Ordering::SeqCst),
        3,
        "get + two walks overlap"
    );

    let (exporter, agent) = fake(None, &["--snmp.walk-concurrency", "1"], slow()).await;
    let (_, sequential) = exporter.get("/snmp?target=h").await;
    assert_eq!(agent.peak.load(Ordering::SeqCst), 1);
    let (_, parallel) = fake(None, &[], FakeAgent::new(recorded_walk()))
        .await
        .0
        .get("/snmp?target=h")
        .await;
    // Output does not depend on completion order.
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.contains("duration_seconds"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&sequential), strip(&parallel));

    let (exporter, agent) = fake(None, &["--snmp.target-concurrency", "2"], slow()).await;
    let exporter = Arc::new(exporter);
    let scrapes: Vec<_> = (0..10)
        .map(|_| {
            let exporter = exporter.clone();
            tokio::spawn(async move { exporter.get("/snmp?target=h").await.0 })
        })
        .collect();
    for scrape in scrapes {
        assert_eq!(scrape.await.unwrap(), 200);
    }
    assert_eq!(agent.peak.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn config_endpoint_masks_secrets_and_reload_keeps_the_old_config_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snmp.yml");
    std::fs::write(
        &path,
        "auths:\n  a:\n    community: s3cret-community\nmodules:\n  m:\n    walk: [1.3.6.1.2.1.2]\n",
    )
    .unwrap();
    let file = path.display().to_string();
    let (exporter, _) = fake(
        None,
        &["--config.file", &file],
        FakeAgent::new(recorded_walk()),
    )
    .await;
    let (status, shown) = exporter.get("/config").await;
    assert_eq!(status, 200);
    assert!(shown.contains("community: <secret>"), "{shown}");
    assert!(!shown.contains("s3cret"));

    assert_eq!(
        exporter.get("/-/reload").await,
        (400, "POST method expected\n".to_owned())
    );
    std::fs::write(&path, "modules:\n  m2:\n    walk: [1.3.6.1.2.1.2]\n").unwrap();
    let post = |exporter: &Exporter| {
        let request = exporter.http.post(format!("{}/-/reload", exporter.url));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(post(&exporter).await.0, 200);
    assert!(exporter.state.config().modules.contains_key("m2"));

    std::fs::write(
        &path,
        "modules:\n  m3:\n    walk: [1.3.6.1.2.1.2]\n    timeout: 5\n",
    )
    .unwrap();
    let (status, body) = post(&exporter).await;
    assert_eq!(status, 500);
    assert!(body.starts_with("failed to reload config: "), "{body}");
    assert!(body.contains("timeout must be a duration string"), "{body}");
    assert!(exporter.state.config().modules.contains_key("m2"));
    assert_eq!(exporter.state.metrics.reload_ok.get(&[]), Some(0.0));
    let (_, metrics) = exporter.get("/metrics").await;
    assert!(
        metrics.contains("snmp_config_last_reload_successful 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("snmp_request_errors_total 0\n"));

    // SIGHUP reloads too.
    std::fs::write(&path, "modules:\n  m4:\n    walk: [1.3.6.1.2.1.2]\n").unwrap();
    snmp_exporter::app::reload_on_sighup(exporter.state.clone());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..100 {
        if exporter.state.config().modules.contains_key("m4") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(exporter.state.config().modules.contains_key("m4"));
}

#[tokio::test]
async fn snmp_engineid_is_accepted_for_v3_and_ignored_for_community_auths() {
    let yaml = "auths:\n  public_v2:\n    community: public\n  v3:\n    version: 3\n    username: u\n    security_level: authNoPriv\n    password: longenough\nmodules:\n  m:\n    walk: [1.3.6.1.2.1.2]\n";
    let (exporter, agent) = fake(Some(yaml), &[], FakeAgent::new(recorded_walk())).await;
    // The context engine ID itself is checked against a real agent (tests/snmpd.rs).
    let (status, text) = exporter
        .get("/snmp?target=h&module=m&auth=v3&snmp_engineid=0x80001f8880aabbcc")
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(value(&text, "snmp_up"), Some(1.0), "{text}");
    assert!(agent.requests.load(Ordering::SeqCst) > 0);
    assert_eq!(
        exporter
            .state
            .metrics
            .request_errors
            .get(&[])
            .unwrap_or(0.0),
        0.0
    );
    // A v2c request has no context engine: upstream ignores the parameter, and so do we.
    let (status, text) = exporter
        .get("/snmp?target=h&module=m&snmp_engineid=80001f8880aabbcc")
        .await;
    assert_eq!(status, 200);
    assert_eq!(samples(&text, "snmp_up").len(), 1);
}

#[tokio::test]
async fn too_big_halves_max_repetitions_until_the_agent_answers() {
    let (plain, _) = fake(None, &[], FakeAgent::new(recorded_walk())).await;
    let (reference_status, reference) = plain.get("/snmp?target=h").await;
    assert_eq!(reference_status, 200);

    let mut agent = FakeAgent::new(recorded_walk());
    agent.too_big_above = Some(5);
    let (exporter, agent) = fake(None, &[], agent).await;
    let (status, text) = exporter.get("/snmp?target=h").await;
    assert_eq!(status, 200);
    // 25 → 12 → 6 → 3 on both walks; then every GETBULK asks for 3.
    let answered = agent.answered_repetitions.lock().unwrap().clone();
    assert!(answered.iter().all(|&n| n == 3), "{answered:?}");
    let series = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("snmp_scrape_") && !l.starts_with("# "))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(series(&text), series(&reference), "no data lost");
    assert_eq!(value(&text, "snmp_scrape_pdus_returned"), Some(162.0));
    assert!(
        value(&text, "snmp_scrape_packets_sent") > value(&reference, "snmp_scrape_packets_sent")
    );

    // An agent that says tooBig even to max-repetitions 1: those walks fail, the GET survives.
    let mut agent = FakeAgent::new(recorded_walk());
    agent.too_big_above = Some(0);
    let (exporter, agent) = fake(None, &[], agent).await;
    let (_, text) = exporter.get("/snmp?target=h").await;
    for root in ["1.3.6.1.2.1.2", "1.3.6.1.2.1.31.1.1"] {
        assert_eq!(
            value(
                &text,
                &format!("snmp_scrape_collector_success{{collector=\"{root}\"}}")
            ),
            Some(0.0),
            "{text}"
        );
    }
    assert!(value(&text, "sysUpTime").is_some(), "{text}");
    assert_eq!(value(&text, "snmp_up"), Some(1.0));
    // 25, 12, 6, 3, 1 per walk, plus the GET.
    assert_eq!(agent.requests.load(Ordering::SeqCst), 11);
    assert_eq!(
        exporter
            .state
            .metrics
            .walk_failures
            .get(&["if_mib", "error_status"]),
        Some(2.0)
    );
}

#[tokio::test]
async fn an_agent_repeating_the_requested_oid_fails_that_walk_only() {
    let agent = FakeAgent::new(recorded_walk());
    agent.repeat_requested_under("1.3.6.1.2.1.2", 0);
    let (exporter, _) = fake(None, &[], agent).await;
    let (status, text) = exporter.get("/snmp?target=h").await;
    assert_eq!(status, 200);
    assert_eq!(
        value(
            &text,
            "snmp_scrape_collector_success{collector=\"1.3.6.1.2.1.2\"}"
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "snmp_scrape_collector_success{collector=\"1.3.6.1.2.1.31.1.1\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        exporter
            .state
            .metrics
            .walk_failures
            .get(&["if_mib", "not_increasing"]),
        Some(1.0)
    );
    // The first batch of the failed subtree (ifNumber and the ifTable columns up to
    // ifPhysAddress) is kept, the rest of that subtree is missing, the ifXTable is complete.
    assert_eq!(value(&text, "ifNumber"), Some(4.0));
    assert_eq!(samples(&text, "ifMtu").len(), 4, "{text}");
    assert!(samples(&text, "ifAdminStatus").is_empty());
    assert!(samples(&text, "ifOutQLen").is_empty());
    assert_eq!(samples(&text, "ifHCInOctets").len(), 4);

    // allow_nonincreasing_oids: the repeated OID is accepted and the walk goes on.
    let mut config = default::config();
    config
        .modules
        .get_mut("if_mib")
        .unwrap()
        .allow_nonincreasing_oids = true;
    let agent = FakeAgent::new(recorded_walk());
    agent.repeat_requested_under("1.3.6.1.2.1.2", 0);
    let yaml = emit(&config, Layout::Split, false);
    let (exporter, _) = fake(Some(&yaml), &[], agent).await;
    let (_, text) = exporter.get("/snmp?target=h").await;
    assert_eq!(
        value(
            &text,
            "snmp_scrape_collector_success{collector=\"1.3.6.1.2.1.2\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(samples(&text, "ifOutQLen").len(), 4);
}

#[tokio::test]
async fn a_client_that_goes_away_stops_the_snmp_work() {
    let mut config = default::config();
    config.modules.get_mut("if_mib").unwrap().max_repetitions = 1;
    let yaml = emit(&config, Layout::Split, false);
    let mut agent = FakeAgent::new(recorded_walk());
    // ~160 sequential requests of 50 ms: 8 s if nobody stops them.
    agent.latency = Duration::from_millis(50);
    let (exporter, agent) = fake(Some(&yaml), &["--snmp.walk-concurrency", "1"], agent).await;
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gone = impatient
        .get(format!("{}/snmp?target=h", exporter.url))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up first");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_disconnect = agent.requests.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = agent.requests.load(Ordering::SeqCst);
    assert_eq!(
        later, after_disconnect,
        "no SNMP request after the client went away"
    );
    assert!(after_disconnect < 20, "{after_disconnect}");
    let (_, metrics) = exporter.get("/metrics").await;
    assert!(metrics.contains("snmp_request_in_flight 0\n"), "{metrics}");
}

#[tokio::test]
async fn a_filter_whose_column_cannot_be_walked_leaves_its_targets_unfiltered() {
    let yaml = "auths:\n  public_v2:\n    community: public\nmodules:\n  m:\n    walk: [1.3.6.1.2.1.2.2.1.4]\n    timeout: 100ms\n    retries: 0\n    metrics:\n    - name: ifMtu\n      oid: 1.3.6.1.2.1.2.2.1.4\n      type: gauge\n      indexes:\n      - labelname: ifIndex\n        type: gauge\n    filters:\n    - oid: 1.3.6.1.2.1.2.2.1.8\n      targets: [1.3.6.1.2.1.2.2.1.4]\n      values: ['^1$']\n";
    let (exporter, _) = fake(Some(yaml), &[], FakeAgent::new(recorded_walk())).await;
    let (_, text) = exporter.get("/snmp?target=h&module=m").await;
    // lo and eth0 are up in the recording: two GETs' worth of rows, no walk of ifMtu.
    assert_eq!(samples(&text, "ifMtu").len(), 2, "{text}");
    assert_eq!(
        value(
            &text,
            "snmp_scrape_collector_success{collector=\"filter:1.3.6.1.2.1.2.2.1.8\"}"
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("collector=\"1.3.6.1.2.1.2.2.1.4\""),
        "{text}"
    );
    assert_eq!(value(&text, "snmp_scrape_pdus_returned"), Some(2.0));

    let agent = FakeAgent::new(recorded_walk());
    agent.go_silent_under("1.3.6.1.2.1.2.2.1.8", 0);
    let (exporter, _) = fake(Some(yaml), &[], agent).await;
    let (status, text) = exporter.get("/snmp?target=h&module=m").await;
    assert_eq!(status, 200);
    assert_eq!(
        value(
            &text,
            "snmp_scrape_collector_success{collector=\"filter:1.3.6.1.2.1.2.2.1.8\"}"
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(samples(&text, "ifMtu").len(), 4, "{text}");
    assert_eq!(value(&text, "snmp_up"), Some(1.0));
}
