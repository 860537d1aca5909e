//! The simulator framework seen from a real HTTP client: faults, control API, log, TLS.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use portkey_sim::faults::MALFORMED_BODY;
use portkey_sim::{Fault, SimServer, TlsIdentity, install_ring_provider};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn test_router() -> Router {
    async fn hello() -> axum::Json<Value> {
        axum::Json(json!({"data": {"greeting": "hello", "padding": "x".repeat(200)}}))
    }
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_millis(300)).await;
        "done"
    }
    Router::new()
        .route("/hello", get(hello))
        .route("/a/one", get(hello))
        .route("/a/two", get(hello))
        .route("/b", get(hello))
        .route("/slow/a", get(slow))
        .route("/slow/b", get(slow))
        .route("/echo", post(|body: String| async move { body }))
}

fn client() -> reqwest::Client {
    install_ring_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn start() -> SimServer {
    SimServer::start(test_router()).await.unwrap()
}

/// Sends one raw HTTP/1.1 request and returns the status line (reason phrases included).
async fn raw_status_line(sim: &SimServer, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn serves_the_router_and_logs_requests() {
    let sim = start().await;
    assert!(sim.url().starts_with("http://127.0.0.1:"));
    let client = client();
    let response = client
        .get(format!("{}/hello?x=1&y=two", sim.url()))
        .header("Authorization", "PVEAPIToken=a@pve!b=c")
        .header("X-Prometheus-Scrape-Timeout-Seconds", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["data"]["greeting"], "hello");
    let posted = client
        .post(format!("{}/echo", sim.url()))
        .body("username=demo")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.text().await.unwrap(), "username=demo");

    let log = sim.log();
    assert_eq!(log.total(), 2);
    assert_eq!(log.count("/hello"), 1);
    assert_eq!(log.count("/nothing"), 0);
    let entries = log.entries();
    assert_eq!(entries.len(), 2);
    let first = &entries[0];
    assert_eq!(first.method, "GET");
    assert_eq!(first.path, "/hello");
    assert_eq!(first.query.as_deref(), Some("x=1&y=two"));
    assert_eq!(first.query_param("y").as_deref(), Some("two"));
    assert_eq!(first.header("authorization"), Some("PVEAPIToken=a@pve!b=c"));
    assert_eq!(
        first.header("x-prometheus-scrape-timeout-seconds"),
        Some("10")
    );
    assert_eq!(first.status, Some(200));
    assert!(first.finished.unwrap() >= first.started);
    assert_eq!(&entries[1].body[..], b"username=demo");
    assert_eq!(log.last().unwrap().path, "/echo");
    assert_eq!(log.entries_for("/echo").len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn status_fault_replaces_the_answer() {
    let sim = start().await;
    let client = client();
    sim.faults().set(
        "/hello",
        Fault::Status(500, Some(r#"{"data":null}"#.into())),
    );
    let response = client
        .get(format!("{}/hello", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(
        response.headers()["content-type"],
        "application/json;charset=UTF-8"
    );
    assert_eq!(response.text().await.unwrap(), r#"{"data":null}"#);
    assert_eq!(sim.log().last().unwrap().fault.as_deref(), Some("status"));
    assert_eq!(sim.log().last().unwrap().status, Some(500));

    sim.faults().set(
        "/hello",
        Fault::Error {
            status: 403,
            reason: "Permission check failed (/, Sys.Audit)".into(),
            body: None,
        },
    );
    assert_eq!(
        raw_status_line(&sim, "/hello").await,
        "HTTP/1.1 403 Permission check failed (/, Sys.Audit)"
    );
    // reqwest surfaces the reason phrase as hyper's extension, which exporters log (spec R5).
    let response = client
        .get(format!("{}/hello", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let reason = response
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned());
    assert_eq!(
        reason.as_deref(),
        Some("Permission check failed (/, Sys.Audit)")
    );

    sim.faults().clear();
    let response = client
        .get(format!("{}/hello", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn counted_and_prefix_faults() {
    let sim = start().await;
    let client = client();
    sim.faults().set_times("/a/*", Fault::Status(502, None), 2);
    let mut statuses = Vec::new();
    for path in ["/a/one", "/b", "/a/two", "/a/one"] {
        let response = client
            .get(format!("{}{path}", sim.url()))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, vec![502, 200, 502, 200]);
    assert!(sim.faults().rules().is_empty());
    assert_eq!(sim.log().count_prefix("/a/"), 3);
}

#[tokio::test]
async fn latency_fault_and_global_latency_delay_answers() {
    let sim = start().await;
    let client = client();
    sim.faults()
        .set("/hello", Fault::Latency(Duration::from_millis(250)));
    let started = Instant::now();
    let response = client
        .get(format!("{}/hello", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let entry = sim.log().last().unwrap();
    assert!(entry.duration().unwrap() >= Duration::from_millis(250));
    assert_eq!(entry.fault.as_deref(), Some("latency"));

    sim.faults().clear();
    sim.faults().set_latency(Duration::from_millis(150));
    let started = Instant::now();
    client.get(format!("{}/b", sim.url())).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    // Control requests are never delayed or counted.
    let before = sim.log().total();
    let stats = client
        .get(format!("{}/_sim/stats", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 200);
    assert_eq!(sim.log().total(), before);
}

#[tokio::test]
async fn builder_sets_global_latency() {
    let sim = SimServer::builder(test_router())
        .latency(Duration::from_millis(120))
        .start()
        .await
        .unwrap();
    assert_eq!(sim.faults().latency(), Duration::from_millis(120));
    let started = Instant::now();
    client()
        .get(format!("{}/b", sim.url()))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(120));
}

#[tokio::test]
async fn malformed_fault_sends_non_json_with_the_original_status() {
    let sim = start().await;
    sim.faults().set("/hello", Fault::Malformed);
    let response = client()
        .get(format!("{}/hello", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body = response.bytes().await.unwrap();
    assert_eq!(&body[..], MALFORMED_BODY.as_bytes());
    assert!(serde_json::from_slice::<Value>(&body).is_err());
}

#[tokio::test]
async fn truncated_fault_announces_more_than_it_sends() {
    let sim = start().await;
    sim.faults().set("/hello", Fault::Truncated);
    let response = client()
        .get(format!("{}/hello", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let announced: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(announced > 200);
    assert!(
        response.bytes().await.is_err(),
        "body must fail to complete"
    );

    // The raw bytes on the wire: full head, then exactly half of the body, then EOF.
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    assert_eq!(body.len(), announced / 2);
}

#[tokio::test]
async fn stalled_fault_sends_a_head_and_never_finishes() {
    let sim = start().await;
    sim.faults().set("/hello", Fault::Stalled);
    let response = client()
        .get(format!("{}/hello", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = tokio::time::timeout(Duration::from_millis(500), response.bytes()).await;
    assert!(body.is_err(), "the body must not complete");
    assert_eq!(sim.log().last().unwrap().fault.as_deref(), Some("stalled"));
    // Shutdown still completes: stalled bodies are cut.
    tokio::time::timeout(Duration::from_secs(5), sim.shutdown())
        .await
        .unwrap();
}

#[tokio::test]
async fn reset_fault_closes_without_a_response() {
    let sim = start().await;
    sim.faults().set("/hello", Fault::Reset);
    let result = client().get(format!("{}/hello", sim.url())).send().await;
    assert!(result.is_err(), "no response expected: {result:?}");
    let entry = sim.log().last().unwrap();
    assert_eq!(entry.status, None);
    assert_eq!(entry.fault.as_deref(), Some("reset"));
    assert_eq!(raw_status_line(&sim, "/hello").await, "");
}

#[tokio::test]
async fn control_api_manages_faults_log_and_stats() {
    let sim = start().await;
    let client = client();
    let url = sim.url();

    let set = client
        .post(format!("{url}/_sim/faults"))
        .body(r#"{"path": "/hello", "kind": "status", "status": 503, "body": "busy", "times": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let listed: Value = serde_json::from_slice(
        &client
            .get(format!("{url}/_sim/faults"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(listed["faults"][0]["path"], "/hello");
    assert_eq!(listed["faults"][0]["status"], 503);
    let response = client.get(format!("{url}/hello")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.text().await.unwrap(), "busy");
    let response = client.get(format!("{url}/hello")).send().await.unwrap();
    assert_eq!(response.status(), 200);

    // A list, then the object form with a global latency and replace.
    let set = client
        .post(format!("{url}/_sim/faults"))
        .body(r#"[{"path": "/a/*", "kind": "reset"}, {"path": "/b", "kind": "malformed"}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(sim.faults().rules().len(), 2);
    let set = client
        .post(format!("{url}/_sim/faults"))
        .body(r#"{"faults": [{"path": "/b", "kind": "latency", "ms": 5}], "latency_ms": 7, "replace": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(sim.faults().rules().len(), 1);
    assert_eq!(sim.faults().latency(), Duration::from_millis(7));

    let bad = client
        .post(format!("{url}/_sim/faults"))
        .body(r#"{"path": "/b", "kind": "explode"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("explode"));
    let bad = client
        .post(format!("{url}/_sim/faults"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let cleared = client
        .delete(format!("{url}/_sim/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
    assert!(sim.faults().rules().is_empty());

    let log: Value = serde_json::from_slice(
        &client
            .get(format!("{url}/_sim/log"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["path"], "/hello");
    assert_eq!(entries[0]["status"], 503);
    assert_eq!(entries[0]["fault"], "status");
    assert!(entries[0]["duration_ms"].is_number());

    let stats: Value = serde_json::from_slice(
        &client
            .get(format!("{url}/_sim/stats"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stats["requests"], 2);
    assert_eq!(stats["peak_concurrency"], 1);

    let reset = client
        .post(format!("{url}/_sim/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    assert_eq!(sim.log().total(), 0);
    assert!(sim.log().entries().is_empty());
    assert_eq!(sim.log().peak_concurrency(), 0);
    let unknown = client
        .get(format!("{url}/_sim/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn peak_concurrency_counts_requests_in_flight() {
    let sim = start().await;
    let client = client();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let client = client.clone();
        let url = format!("{}/slow/{}", sim.url(), if i < 5 { "a" } else { "b" });
        tasks.spawn(async move { client.get(url).send().await.unwrap().status() });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(sim.log().total(), 8);
    assert_eq!(sim.log().peak_concurrency(), 8);
    assert_eq!(sim.log().peak_concurrency_prefix("/slow/a"), 5);
    assert_eq!(sim.log().peak_concurrency_prefix("/slow/b"), 3);
    assert_eq!(sim.log().in_flight(), 0);

    // Sequential requests never overlap.
    sim.log().reset();
    for _ in 0..3 {
        client.get(format!("{}/b", sim.url())).send().await.unwrap();
    }
    assert_eq!(sim.log().peak_concurrency(), 1);
    assert_eq!(sim.log().peak_concurrency_prefix("/b"), 1);
}

#[tokio::test]
async fn tls_server_is_trusted_with_its_ca_only() {
    let identity = TlsIdentity::generate().unwrap();
    let sim = SimServer::start_tls(test_router(), identity).await.unwrap();
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    let ca = sim.ca_pem().unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    install_ring_provider();
    let trusting = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let response = trusting
        .get(format!("{}/hello", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let by_name = trusting
        .get(format!("https://localhost:{}/hello", sim.addr().port()))
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.status(), 200);

    let other_ca = TlsIdentity::generate().unwrap();
    let distrusting = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(other_ca.ca_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    assert!(
        distrusting
            .get(format!("{}/hello", sim.url()))
            .send()
            .await
            .is_err()
    );
    // Faults work the same over TLS.
    sim.faults().set("/hello", Fault::Status(418, None));
    let response = trusting
        .get(format!("{}/hello", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 418);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    sim.tls().unwrap().write_ca_pem(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ca);
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let sim = start().await;
    let addr = sim.addr();
    sim.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn drop_stops_the_server() {
    let sim = start().await;
    let addr = sim.addr();
    drop(sim);
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused);
}
