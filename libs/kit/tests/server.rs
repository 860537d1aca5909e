//! The kit's HTTP server end to end: routes, limits, panics, TLS and basic auth from a re-read
//! web config, graceful shutdown.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use portkey_kit::client::{ClientOptions, UpstreamClient};
use portkey_kit::deadline::Deadline;
use portkey_kit::server::{Landing, Readiness, Server, base_router, limit_concurrency};
use portkey_kit::tls_client::TlsOptions;
use tokio::sync::{Notify, oneshot};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn landing() -> Landing {
    Landing {
        name: "test-exporter",
        version: "9.9.9",
        description: "Exports test data.",
        note_html: "<p>Target data is on <code>/probe?target=&lt;host&gt;</code>.</p>".into(),
        links: vec![("/metrics".into(), "Metrics".into())],
    }
}

async fn boom() -> String {
    let values: Vec<String> = Vec::new();
    // Index out of bounds: a handler bug the server must contain.
    values[std::hint::black_box(3)].clone()
}

struct Running {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(15), self.done)
            .await
            .expect("server stops")
            .unwrap();
    }
}

async fn start(router: Router, web_config: Option<&Path>, scheme: &str) -> Running {
    let server = Server::bind(&["127.0.0.1:0".to_owned()], web_config)
        .await
        .unwrap();
    let addr = server.local_addrs()[0];
    let (tx, rx) = oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(router, async move {
        let _ = rx.await;
    }));
    Running {
        base: format!("{scheme}://{addr}"),
        stop: Some(tx),
        done,
    }
}

fn client() -> reqwest::Client {
    portkey_kit::crypto::install();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn base_routes_landing_health_readiness_and_404() {
    let readiness = Readiness::default();
    let router = base_router(landing(), readiness.clone()).route("/boom", get(boom));
    let server = start(router, None, "http").await;
    let http = client();

    let ready = http
        .get(format!("{}/-/ready", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    readiness.set_ready();
    let ready = http
        .get(format!("{}/-/ready", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let healthy = http
        .get(format!("{}/-/healthy", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.text().await.unwrap(), "OK");

    let page = http.get(&server.base).send().await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = page.text().await.unwrap();
    assert!(page.contains("/probe?target=") && page.contains("href=\"/metrics\""));
    assert!(page.contains("9.9.9"));

    let missing = http
        .get(format!("{}/nope", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // A panicking handler answers 500 and the server keeps serving.
    let boom = http
        .get(format!("{}/boom", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(boom.status(), 500);
    let healthy = http
        .get(format!("{}/-/healthy", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn max_requests_rejects_excess_scrapes_with_503() {
    let gate = Arc::new(Notify::new());
    let entered = Arc::new(Notify::new());
    let scrape = {
        let gate = gate.clone();
        let entered = entered.clone();
        get(move || {
            let gate = gate.clone();
            let entered = entered.clone();
            async move {
                entered.notify_one();
                gate.notified().await;
                "data"
            }
        })
    };
    let router = limit_concurrency(Router::new().route("/probe", scrape), 1)
        .merge(base_router(landing(), Readiness::default()));
    let server = start(router, None, "http").await;
    let http = client();
    let first = tokio::spawn({
        let http = http.clone();
        let url = format!("{}/probe", server.base);
        async move { http.get(url).send().await.unwrap().status() }
    });
    entered.notified().await;
    let second = http
        .get(format!("{}/probe", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 503);
    // Health is outside the limit.
    let healthy = http
        .get(format!("{}/-/healthy", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);
    gate.notify_one();
    assert_eq!(first.await.unwrap(), 200);
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let entered = Arc::new(Notify::new());
    let router = Router::new().route("/slow", {
        let entered = entered.clone();
        get(move || {
            let entered = entered.clone();
            async move {
                entered.notify_one();
                tokio::time::sleep(Duration::from_millis(300)).await;
                "finished"
            }
        })
    });
    let server = start(router, None, "http").await;
    let http = client();
    let url = format!("{}/slow", server.base);
    let request =
        tokio::spawn(async move { http.get(url).send().await.unwrap().text().await.unwrap() });
    entered.notified().await;
    server.stop().await;
    assert_eq!(request.await.unwrap(), "finished");
}

fn write_web_config(dir: &Path, cert: &str, key: &str, users: &[(&str, &str)]) -> PathBuf {
    std::fs::copy(data(cert), dir.join("tls.crt")).unwrap();
    std::fs::copy(data(key), dir.join("tls.key")).unwrap();
    let mut yaml = String::from("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n");
    if !users.is_empty() {
        yaml.push_str("basic_auth_users:\n");
        for (user, password) in users {
            let hash = bcrypt::hash(password, 4).unwrap();
            yaml.push_str(&format!("  {user}: '{hash}'\n"));
        }
    }
    yaml.push_str("http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n");
    let path = dir.join("web.yml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn trusting(cert: &str) -> UpstreamClient {
    UpstreamClient::new(&ClientOptions {
        tls: TlsOptions {
            ca_file: Some(data(cert)),
            ..TlsOptions::default()
        },
        ..ClientOptions::default()
    })
    .unwrap()
}

fn basic(user: &str, password: &str) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    headers.insert("authorization", format!("Basic {token}").parse().unwrap());
    headers
}

#[tokio::test]
async fn tls_and_basic_auth_reload_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let web = write_web_config(
        dir.path(),
        "cert-a.pem",
        "key-a.pem",
        &[("prometheus", "scrape-pw")],
    );
    let router = base_router(landing(), Readiness::default());
    let server = start(router, Some(&web), "https").await;
    let url = format!("{}/-/healthy", server.base);
    let deadline = || Deadline::after(Duration::from_secs(5));

    let trusts_a = trusting("cert-a.pem");
    let trusts_b = trusting("cert-b.pem");
    let denied = trusts_a
        .get(&url, Default::default(), &deadline())
        .await
        .unwrap();
    assert_eq!(denied.status, 401);
    assert_eq!(denied.headers["www-authenticate"], "Basic");
    let wrong = trusts_a
        .get(&url, basic("prometheus", "nope"), &deadline())
        .await
        .unwrap();
    assert_eq!(wrong.status, 401);
    let ok = trusts_a
        .get(&url, basic("prometheus", "scrape-pw"), &deadline())
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers["x-content-type-options"], "nosniff");
    let err = trusts_b
        .get(&url, basic("prometheus", "scrape-pw"), &deadline())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "tls", "{err}");

    // Rotate the certificate and the password; the mtime granularity may be coarse.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write_web_config(
        dir.path(),
        "cert-b.pem",
        "key-b.pem",
        &[("prometheus", "rotated")],
    );
    let fresh_b = trusting("cert-b.pem");
    let ok = fresh_b
        .get(&url, basic("prometheus", "rotated"), &deadline())
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    let old_pw = fresh_b
        .get(&url, basic("prometheus", "scrape-pw"), &deadline())
        .await
        .unwrap();
    assert_eq!(old_pw.status, 401);
    let fresh_a = trusting("cert-a.pem");
    assert!(
        fresh_a
            .get(&url, basic("prometheus", "rotated"), &deadline())
            .await
            .is_err()
    );
    server.stop().await;
}

#[tokio::test]
async fn invalid_web_config_is_a_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(
        &path,
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
    )
    .unwrap();
    let err = Server::bind(&["127.0.0.1:0".to_owned()], Some(&path))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("web.yml") && text.contains("cert_file"),
        "{text}"
    );
    let err = Server::bind(&["nonsense".to_owned()], None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nonsense"));
}

#[tokio::test]
async fn tls_from_certificate_and_key_flags() {
    use portkey_kit::web_config::WebConfigSource;
    let source = WebConfigSource::tls_files(&data("cert-a.pem"), &data("key-a.pem")).unwrap();
    let server = Server::bind_with(&["127.0.0.1:0".to_owned()], Some(source))
        .await
        .unwrap();
    assert!(server.is_tls());
    let addr = server.local_addrs()[0];
    let (tx, rx) = oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(
        base_router(landing(), Readiness::default()),
        async move {
            let _ = rx.await;
        },
    ));
    let url = format!("https://{addr}/-/healthy");
    let ok = trusting("cert-a.pem")
        .get(
            &url,
            Default::default(),
            &Deadline::after(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    let _ = tx.send(());
    done.await.unwrap();
    let err =
        WebConfigSource::tls_files(&data("cert-a.pem"), Path::new("/nonexistent.key")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent.key"), "{err}");
}

#[tokio::test]
async fn every_listen_address_serves() {
    let server = Server::bind(&["127.0.0.1:0".to_owned(), "127.0.0.1:0".to_owned()], None)
        .await
        .unwrap();
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 2);
    assert_ne!(addrs[0], addrs[1]);
    let (tx, rx) = oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(
        base_router(landing(), Readiness::default()),
        async move {
            let _ = rx.await;
        },
    ));
    let http = client();
    for addr in addrs {
        let ok = http
            .get(format!("http://{addr}/-/healthy"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    }
    let _ = tx.send(());
    done.await.unwrap();
}

#[test]
fn log_flags_parse_with_environment_variables() {
    use clap::Parser;
    use portkey_kit::logging::{LogArgs, LogFormat, LogLevel};
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
    }
    let cli: Cli = portkey_kit::cli::try_parse_from(
        "PORTKEY_KIT_LOG_TEST",
        ["x", "--log.level", "debug", "--log.format", "json"],
    )
    .unwrap();
    assert_eq!(
        (cli.log.level, cli.log.format),
        (LogLevel::Debug, LogFormat::Json)
    );
    let err = portkey_kit::cli::try_parse_from::<Cli, _, _>(
        "PORTKEY_KIT_LOG_TEST",
        ["x", "--log.level", "loud"],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("loud"), "{err}");
}
