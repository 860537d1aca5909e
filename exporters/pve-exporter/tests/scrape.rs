//! pve-exporter against the PVE simulator: the whole request path, call pattern and failure
//! policy (spec §3, §5 and §7).

mod support;

use std::time::{Duration, Instant};

use portkey_sim::Fault;
use portkey_sim::pve::{PveSimConfig, PveVersion};
use support::{Harness, has_family, samples, success, value};

const ALL_COLLECTORS: [&str; 10] = [
    "status",
    "resources",
    "node",
    "cluster",
    "version",
    "backup-info",
    "qdevice",
    "subscription",
    "config",
    "replication",
];

/// Local guests of the simulator's local node (shire), counted from its own lists.
fn local_guests(h: &Harness) -> (usize, usize) {
    let cluster = h.pve.cluster();
    let local = &h.pve.config().local_node;
    let q = cluster
        .guests
        .iter()
        .filter(|g| &g.node == local && g.kind.as_str() == "qemu")
        .count();
    let l = cluster
        .guests
        .iter()
        .filter(|g| &g.node == local && g.kind.as_str() == "lxc")
        .count();
    (q, l)
}

#[tokio::test]
async fn a_full_scrape_has_every_family_and_every_collector_succeeds() {
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    let (status, body) = h.scrape("").await;
    assert_eq!(status, 200, "{body}");
    for collector in ALL_COLLECTORS {
        assert_eq!(success(&body, collector), Some(1.0), "{collector}: {body}");
    }
    assert_eq!(value(&body, "pve_api_up"), Some(1.0));
    for family in [
        "pve_up",
        "pve_disk_size_bytes",
        "pve_network_transmit_bytes_total",
        "pve_ha_state",
        "pve_lock_state",
        "pve_guest_info",
        "pve_storage_info",
        "pve_node_info",
        "pve_cluster_info",
        "pve_version_info",
        "pve_not_backed_up_total",
        "pve_not_backed_up_guests",
        "pve_not_backed_up_info",
        "pve_qdevice_up",
        "pve_qdevice_info",
        "pve_subscription_info",
        "pve_subscription_status",
        "pve_onboot_status",
        "pve_replication_duration_seconds",
        "pve_replication_info",
    ] {
        assert!(has_family(&body, family), "{family} missing");
    }
    assert_eq!(
        value(&body, "pve_up{id=\"cluster/middleearth\"}"),
        Some(1.0)
    );
    assert_eq!(value(&body, "pve_up{id=\"node/shire\"}"), Some(1.0));
    // VM 137 has no RRD data: unknown status, empty name and template.
    assert_eq!(value(&body, "pve_up{id=\"qemu/137\"}"), Some(0.0));
    assert!(
        body.contains("pve_guest_info{id=\"qemu/137\",name=\"\""),
        "{body}"
    );
    // Every local guest has an onboot sample.
    let (q, l) = local_guests(&h);
    assert_eq!(samples(&body, "pve_onboot_status").len(), q + l);
}

#[tokio::test]
async fn each_input_is_fetched_once_per_scrape() {
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    let (q, l) = local_guests(&h);
    for (query, expected) in [
        ("cluster=1&node=1", 9 + q + l),
        ("cluster=1&node=0", 5),
        ("cluster=0&node=1", 5 + q + l),
    ] {
        h.sim.log().reset();
        let (status, body) = h.scrape(query).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            h.sim.log().total() as usize,
            expected,
            "{query}: {:?}",
            h.sim.log().counts()
        );
        let status_calls = h.sim.log().count("/api2/json/cluster/status");
        assert_eq!(status_calls, 1, "{query}");
        if query.starts_with("cluster=1") {
            assert_eq!(h.sim.log().count("/api2/json/cluster/resources"), 1);
        } else {
            assert_eq!(h.sim.log().count("/api2/json/cluster/resources"), 0);
        }
    }
}

#[tokio::test]
async fn in_flight_calls_respect_max_concurrency() {
    let h = Harness::start(PveSimConfig::default(), "  max_concurrency: 2\n", &[]).await;
    h.sim.faults().set_latency(Duration::from_millis(5));
    let (status, body) = h.scrape("").await;
    assert_eq!(status, 200, "{body}");
    let peak = h.sim.log().peak_concurrency();
    assert!(
        peak <= 2,
        "peak concurrency {peak} exceeds max_concurrency 2"
    );
    assert!(peak >= 2, "calls were not made concurrently (peak {peak})");
}

#[tokio::test]
async fn the_keep_alive_pool_is_reused_across_scrapes() {
    let h = Harness::start(PveSimConfig::default(), "  max_concurrency: 1\n", &[]).await;
    let (status, _) = h.scrape("cluster=1&node=0").await;
    assert_eq!(status, 200);
    let first = h.sim.log().connections();
    assert!(
        first <= 2,
        "one scrape of 5 sequential calls opened {first} connections"
    );
    h.sim.log().reset();
    for _ in 0..5 {
        let (status, _) = h.scrape("cluster=1&node=0").await;
        assert_eq!(status, 200);
    }
    assert_eq!(h.sim.log().total(), 25);
    // Later scrapes reuse the pooled connections instead of connecting (and handshaking) again.
    // The pool may still open one when a request races a connection's return to the pool, so the
    // bound is "fewer connections than scrapes", which a per-scrape session could never meet.
    let later = h.sim.log().connections();
    assert!(later < 5, "5 scrapes opened {later} new connections");
}

#[tokio::test]
async fn password_auth_logs_in_once_and_relogs_once_after_401() {
    let h = Harness::start_with(
        PveSimConfig::default(),
        |_| support::password_module(""),
        &[],
    )
    .await;
    let (status, body) = h.scrape("").await;
    assert_eq!(status, 200);
    assert_eq!(value(&body, "pve_api_up"), Some(1.0));
    assert_eq!(h.sim.log().count("/api2/json/access/ticket"), 1);
    let (_, body) = h.scrape("").await;
    assert_eq!(success(&body, "status"), Some(1.0));
    assert_eq!(
        h.sim.log().count("/api2/json/access/ticket"),
        1,
        "ticket reused"
    );
    h.pve.revoke_tickets();
    let (_, body) = h.scrape("").await;
    assert_eq!(
        h.sim.log().count("/api2/json/access/ticket"),
        2,
        "exactly one re-login"
    );
    assert_eq!(success(&body, "resources"), Some(1.0), "{body}");
}

#[tokio::test]
async fn bad_token_gives_api_down_and_every_collector_failed() {
    let h = Harness::start_with(
        PveSimConfig::default(),
        |_| "default:\n  user: demo@pve\n  token_name: portkey\n  token_value: wrong\n  scheme: http\n".to_owned(),
        &[],
    )
    .await;
    let (status, body) = h.scrape("").await;
    assert_eq!(status, 200);
    assert_eq!(value(&body, "pve_api_up"), Some(0.0));
    for collector in ALL_COLLECTORS {
        assert_eq!(success(&body, collector), Some(0.0), "{collector}");
    }
    let (_, metrics) = h.get("/metrics").await;
    assert_eq!(
        value(&metrics, "pve_request_errors_total{module=\"default\"}"),
        Some(1.0)
    );
}

#[tokio::test]
async fn unreachable_target_gives_api_down() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    let (status, body) = h.scrape(&format!("target={closed}")).await;
    assert_eq!(status, 200);
    assert_eq!(value(&body, "pve_api_up"), Some(0.0));
    for collector in ALL_COLLECTORS {
        assert_eq!(success(&body, collector), Some(0.0), "{collector}");
    }
    assert!(
        !has_family(&body, "pve_up"),
        "failed collectors print no families"
    );
}

#[tokio::test]
async fn status_403_fails_only_what_needs_cluster_status() {
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    h.sim.faults().set(
        "/api2/json/cluster/status",
        Fault::Error {
            status: 403,
            reason: "Permission check failed (/, Sys.Audit)".into(),
            body: Some("{\"data\":null}".into()),
        },
    );
    let (status, body) = h.scrape("").await;
    assert_eq!(status, 200);
    assert_eq!(success(&body, "resources"), Some(1.0));
    assert_eq!(success(&body, "version"), Some(1.0));
    for collector in [
        "status",
        "node",
        "cluster",
        "backup-info",
        "qdevice",
        "subscription",
        "config",
        "replication",
    ] {
        assert_eq!(success(&body, collector), Some(0.0), "{collector}");
    }
    assert!(has_family(&body, "pve_disk_size_bytes"));
    assert_eq!(value(&body, "pve_api_up"), Some(1.0));
}

#[tokio::test]
async fn resources_500_fails_status_and_resources_only() {
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    h.sim
        .faults()
        .set("/api2/json/cluster/resources", Fault::Status(500, None));
    let (_, body) = h.scrape("").await;
    assert_eq!(success(&body, "status"), Some(0.0));
    assert_eq!(success(&body, "resources"), Some(0.0));
    for collector in [
        "node",
        "cluster",
        "version",
        "backup-info",
        "qdevice",
        "subscription",
        "config",
        "replication",
    ] {
        assert_eq!(success(&body, collector), Some(1.0), "{collector}");
    }
}

#[tokio::test]
async fn qdevice_error_omits_its_families_without_failing() {
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    h.sim.faults().set(
        "/api2/json/cluster/config/qdevice",
        Fault::Status(500, None),
    );
    let (_, body) = h.scrape("").await;
    assert_eq!(success(&body, "qdevice"), Some(1.0));
    assert!(!has_family(&body, "pve_qdevice_up"));
}

#[tokio::test]
async fn a_failing_guest_config_costs_only_that_guest() {
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    let guest = h
        .pve
        .cluster()
        .guests
        .iter()
        .find(|g| g.node == "shire" && g.kind.as_str() == "qemu")
        .map(|g| g.vmid)
        .unwrap();
    let path = format!("/api2/json/nodes/shire/qemu/{guest}/config");
    h.sim.faults().set(&path, Fault::Status(500, None));
    let (_, body) = h.scrape("").await;
    assert_eq!(success(&body, "config"), Some(0.0));
    assert_eq!(success(&body, "resources"), Some(1.0));
    let (q, l) = local_guests(&h);
    assert_eq!(samples(&body, "pve_onboot_status").len(), q + l - 1);
    // A guest that left the node between list and config is dropped silently.
    h.sim.faults().clear();
    h.sim.faults().set(
        &path,
        Fault::Error {
            status: 500,
            reason: format!(
                "Configuration file 'nodes/shire/qemu-server/{guest}.conf' does not exist"
            ),
            body: None,
        },
    );
    let (_, body) = h.scrape("").await;
    assert_eq!(success(&body, "config"), Some(1.0), "{body}");
    assert_eq!(samples(&body, "pve_onboot_status").len(), q + l - 1);
}

#[tokio::test]
async fn offline_node_still_scrapes() {
    let h = Harness::start(PveSimConfig::default().offline_node("rivendell"), "", &[]).await;
    let (status, body) = h.scrape("").await;
    assert_eq!(status, 200);
    assert_eq!(value(&body, "pve_up{id=\"node/rivendell\"}"), Some(0.0));
    assert_eq!(
        value(&body, "pve_up{id=\"storage/rivendell/local\"}"),
        Some(0.0)
    );
    for collector in ALL_COLLECTORS {
        assert_eq!(success(&body, collector), Some(1.0), "{collector}");
    }
}

#[tokio::test]
async fn standalone_node_has_no_cluster_families() {
    let h = Harness::start(PveSimConfig::default().standalone(true), "", &[]).await;
    let (_, body) = h.scrape("").await;
    assert!(!has_family(&body, "pve_cluster_info"));
    assert!(!has_family(&body, "pve_qdevice_up"));
    assert!(
        value(&body, "pve_not_backed_up_total{id=\"cluster/shire\"}").is_some(),
        "{body}"
    );
}

#[tokio::test]
async fn pve8_shapes_scrape_cleanly() {
    let h = Harness::start(PveSimConfig::default().version(PveVersion::V8), "", &[]).await;
    let (_, body) = h.scrape("").await;
    for collector in ALL_COLLECTORS {
        assert_eq!(success(&body, collector), Some(1.0), "{collector}");
    }
}

#[tokio::test]
async fn the_scrape_deadline_bounds_the_response() {
    let h = Harness::start(
        PveSimConfig::default(),
        "  timeout: 30\n",
        &["--scrape.timeout-offset", "0.2s"],
    )
    .await;
    h.sim.faults().set(
        "/api2/json/cluster/resources",
        Fault::Latency(Duration::from_secs(3)),
    );
    let started = Instant::now();
    let response = h
        .http
        .get(format!("{}/pve?target={}", h.exporter, h.sim.target()))
        .header("X-Prometheus-Scrape-Timeout-Seconds", "1")
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(success(&body, "resources"), Some(0.0));
    assert_eq!(success(&body, "status"), Some(0.0));
    assert_eq!(success(&body, "version"), Some(1.0));
}

#[tokio::test]
async fn request_validation_messages() {
    let h = Harness::start(
        PveSimConfig::default(),
        "  allowed_targets: [\"127.0.0.1\"]\n",
        &[],
    )
    .await;
    let (status, body) = h.get("/pve?module=nope&target=127.0.0.1").await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Module 'nope' not found in config")
    );
    let (status, body) = h.get("/pve?target=a&target=b").await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Parameter 'target' given more than once")
    );
    let (status, body) = h.get("/pve?target=127.0.0.1/x").await;
    assert_eq!(status, 400);
    assert!(body.starts_with("Invalid target '127.0.0.1/x': "), "{body}");
    let (status, body) = h.get("/pve?target=10.1.2.3").await;
    assert_eq!(
        (status, body.as_str()),
        (403, "Target '10.1.2.3' not allowed for module 'default'")
    );
    let (status, _) = h.get("/nothing").await;
    assert_eq!(status, 404);
    assert_eq!(
        h.sim.log().total(),
        0,
        "no upstream call for refused requests"
    );
    let (_, metrics) = h.get("/metrics").await;
    assert_eq!(
        value(&metrics, "pve_request_errors_total{module=\"default\"}"),
        Some(3.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn failover_targets_keep_cluster_scrapes_alive() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = listener.local_addr().unwrap();
    drop(listener);
    let h = Harness::start_with(
        PveSimConfig::default(),
        |sim| support::token_module(&format!("  failover_targets: [\"{sim}\"]\n")),
        &[],
    )
    .await;
    let (status, body) = h.scrape(&format!("target={down}&cluster=1&node=0")).await;
    assert_eq!(status, 200);
    assert_eq!(value(&body, "pve_api_up"), Some(1.0), "{body}");
    assert_eq!(success(&body, "resources"), Some(1.0));
    assert_eq!(
        value(
            &body,
            &format!(
                "pve_scrape_failover_target{{target=\"{}\"}}",
                h.sim.target()
            )
        ),
        Some(1.0),
        "{body}"
    );
    // Node collectors never fail over.
    let (_, body) = h.scrape(&format!("target={down}&cluster=0&node=1")).await;
    assert_eq!(value(&body, "pve_api_up"), Some(0.0));
}

#[tokio::test]
async fn self_metrics_use_templated_urls() {
    let h = Harness::start(
        PveSimConfig::default(),
        "",
        &["--collector.pve-api-metrics", "--collector.target-metrics"],
    )
    .await;
    h.scrape("").await;
    let (_, metrics) = h.get("/metrics").await;
    let base = format!("http://{}/api2/json", h.sim.target());
    assert!(metrics.contains(&format!(
        "pve_scrape_api_duration_seconds_count{{method=\"GET\",url=\"{base}/nodes/{{node}}/qemu/{{vmid}}/config\"}}"
    )), "{metrics}");
    assert!(
        !metrics.contains("/qemu/100/config"),
        "no per-guest URL series"
    );
    assert!(metrics.contains("pve_scrape_target_duration_seconds_count{"));
    assert!(metrics.contains("pve_collection_duration_seconds_count{module=\"default\"} 1"));
    assert!(metrics.contains("pve_exporter_build_info{"));
    assert!(metrics.contains("process_resident_memory_bytes "));
}

#[tokio::test]
async fn disabled_collectors_make_no_calls() {
    let h = Harness::start(
        PveSimConfig::default(),
        "",
        &[
            "--no-collector.config",
            "--no-collector.replication",
            "--no-collector.subscription",
        ],
    )
    .await;
    let (_, body) = h.scrape("").await;
    assert!(success(&body, "config").is_none());
    assert_eq!(
        h.sim.log().count_prefix("/api2/json/nodes/"),
        0,
        "{:?}",
        h.sim.log().counts()
    );
}

#[tokio::test]
async fn concurrent_scrapes_share_one_login() {
    let h = Harness::start_with(
        PveSimConfig::default(),
        |_| support::password_module(""),
        &[],
    )
    .await;
    h.sim.faults().set_latency(Duration::from_millis(20));
    let (a, b, c) = tokio::join!(
        h.scrape(""),
        h.scrape("cluster=1&node=0"),
        h.scrape("cluster=0&node=1")
    );
    for (status, body) in [a, b, c] {
        assert_eq!(status, 200);
        assert_eq!(value(&body, "pve_api_up"), Some(1.0), "{body}");
    }
    assert_eq!(
        h.sim.log().count("/api2/json/access/ticket"),
        1,
        "one login for three scrapes"
    );
}

#[tokio::test]
async fn html_instead_of_json_fails_only_its_collector() {
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    h.sim.faults().set(
        "/api2/json/version",
        Fault::Status(200, Some("<html><body>proxy login</body></html>".into())),
    );
    let (status, body) = h.scrape("").await;
    assert_eq!(status, 200);
    assert_eq!(success(&body, "version"), Some(0.0));
    assert_eq!(success(&body, "resources"), Some(1.0));
    assert!(!has_family(&body, "pve_version_info"));
}

#[tokio::test]
async fn failover_skips_the_target_that_just_failed() {
    // The requested node answers every call with pveproxy's 595 (node unreachable); it is also
    // the first failover entry, which must not be asked again.
    let (down, _down_pve) = support::start_sim(PveSimConfig::default()).await;
    down.faults().set("/*", Fault::Status(595, None));
    let h = Harness::start_with(
        PveSimConfig::default(),
        |sim| {
            support::token_module(&format!(
                "  failover_targets: [\"{}\", \"{sim}\"]\n",
                down.target()
            ))
        },
        &[],
    )
    .await;
    let (status, body) = h
        .scrape(&format!("target={}&cluster=1&node=0", down.target()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(value(&body, "pve_api_up"), Some(1.0), "{body}");
    assert_eq!(
        down.log().total(),
        5,
        "the failed target got one round of calls, not two"
    );
    assert_eq!(h.sim.log().total(), 5);
}
